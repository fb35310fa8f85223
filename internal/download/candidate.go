package download

import (
	"context"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"os"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/resolve"
)

// One candidate's life: fetch it (tryCandidate), stream the answer into a temp file
// while hashing and sniffing it (receive, with classify.go, pages.go, extract.go), and
// move a kept body into its folder (save). The work's step machine (work.go) decides
// which candidate comes next.

// kept is a downloaded, validated body still in its temp file.
type kept struct {
	kind Kind
	tmp  *os.File
	res  result
}

func (k *kept) discard() {
	if k != nil {
		discard(k.tmp)
		k.tmp = nil
	}
}

// tryCandidate downloads one candidate. It returns the kept body when it is valid full
// text, or the reason it is not.
func (r *Runner) tryCandidate(ctx context.Context, w *openalex.Work, c resolve.Candidate) (result, *kept) {
	start := r.deps.Clock.Now()
	rec := r.attempt(w, c.Resolver, c.URL, policy.Download, start)
	res := result{resolver: c.Resolver, url: c.URL}
	var k *kept
	op := policy.Download
	if isArchiveURL(c.URL) {
		op = policy.Extract
		rec.Operation = op.String()
	}
	err := r.deps.Fetch.Fetch(ctx, op, c.URL, http.Header{"Accept": {"application/pdf, application/xml;q=0.9, text/html;q=0.5, */*;q=0.1"}},
		func(resp *http.Response) error {
			k.discard()
			k = nil
			res.status = resp.StatusCode
			if resp.StatusCode != http.StatusOK {
				se := fetch.NewStatusError(resp, c.URL)
				se.Op, se.Host = op, fetch.HostOf(c.URL) // the candidate's host is the one deferred on
				return se
			}
			var err error
			k, err = r.receive(resp, c)
			return err
		})
	rec.ElapsedMS = r.deps.Clock.Now().Sub(start).Milliseconds()
	rec.HTTPStatus = res.status
	if err != nil {
		k.discard()
		var ce *contentError
		var fe *fetch.Error
		switch {
		case errors.As(err, &ce):
			res.reason = ce.reason // an answer that came whole and is not full text: final
			res.verdict, res.next = ce.verdict, ce.next
			rec.Decision = policy.Fail.String()
		case errors.As(err, &fe):
			res.reason = fe.Reason()
			res.transient = fe.Transient()
			rec.Decision = decision(fe, policy.Fail)
			if fe.Status != 0 {
				rec.HTTPStatus = fe.Status
			}
			if host, ok := fe.RateLimited(); ok {
				// A 429 (attempts ran out on it, or a window): the file may well exist;
				// defer, don't miss.
				res.hosts = []string{host}
			}
		default:
			res.reason = policy.ClassifyError(err).String()
			res.transient = true
			rec.Decision = policy.Fail.String()
		}
		if ctx.Err() != nil {
			res.reason = "interrupted"
		}
		rec.Classification = manifest.ClassMiss
		rec.Reason = res.reason
		r.write(rec)
		return res, nil
	}
	k.res.resolver, k.res.url, k.res.status = c.Resolver, c.URL, res.status
	got := k.res
	got.class = k.kind.String()
	got.fill(rec)
	rec.Decision = "accept"
	r.write(rec)
	return res, k
}

// receive streams a 200 response into a temp file, hashing as it goes, and checks
// what it is. Body transport failures come back as *fetch.BodyError for a retry.
func (r *Runner) receive(resp *http.Response, c resolve.Candidate) (*kept, error) {
	if resp.ContentLength > r.opts.MaxBytes {
		return nil, &contentError{reason: "too_large"}
	}
	sp, err := r.spool(resp.Body)
	if errors.Is(err, errTooLarge) {
		return nil, &contentError{reason: "too_large"}
	}
	if err != nil {
		return nil, err
	}
	tmp, n := sp.tmp, sp.n
	if format := sniffArchive(sp.head); format != archiveNone {
		k, reason := r.extract(tmp, format, n)
		discard(tmp)
		if reason != "" {
			return nil, &contentError{reason: reason}
		}
		k.res.etag, k.res.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		return k, nil
	}
	kind := Sniff(sp.head, resp.Header.Get("Content-Type"), resp.Request.URL.Path)
	reason := ""
	switch kind {
	case KindPDF:
		reason = ValidatePDF(n, sp.head, sp.tail, r.opts.MinPDFBytes)
	case KindHTML:
		if n == 0 {
			reason = "empty"
		} else if ce := r.checkPage(tmp, n, resp, c); ce != nil {
			discard(tmp)
			return nil, ce
		}
	case KindXML:
		if n == 0 {
			reason = "empty"
		}
	default:
		reason = "unsupported_content"
	}
	if reason != "" {
		discard(tmp)
		return nil, &contentError{reason: reason}
	}
	return &kept{kind: kind, tmp: tmp, res: result{sha: sp.sum, size: n,
		etag: resp.Header.Get("ETag"), lastMod: resp.Header.Get("Last-Modified"), hdr: resp.Header}}, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// save moves a kept body into its output folder.
func (r *Runner) save(w *openalex.Work, k *kept, res result) result {
	rel, err := r.store.commit(k.tmp, k.kind, FileName(w.Year, w.Title, w.ID, k.kind))
	k.tmp = nil
	if err != nil {
		r.log.Error("could not save file", "work", w.ID, "err", err)
		return result{class: manifest.ClassMiss, reason: "store_failed", transient: true, url: res.url, resolver: res.resolver}
	}
	res.class = k.kind.String()
	res.path = rel
	res.reason = ""
	res.sha, res.size, res.etag, res.lastMod = k.res.sha, k.res.size, k.res.etag, k.res.lastMod
	return res
}
