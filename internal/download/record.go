package download

import (
	"net/http"
	"time"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
	"github.com/docstokg/contentdl/internal/resolve"
)

// Manifest lines: an attempt line per request, a manifest line per work, and the one
// mapping between a result and a record (fill, savedResult).

// attempt starts an attempt record.
func (r *Runner) attempt(w *openalex.Work, resolver, rawURL string, op policy.OperationType, start time.Time) *manifest.Record {
	rec := r.record(w, manifest.TypeAttempt)
	rec.Resolver = resolver
	rec.URL = redact.Redact(rawURL)
	if rawURL == "" {
		rec.URL = ""
	}
	rec.Operation = op.String()
	rec.ElapsedMS = r.deps.Clock.Now().Sub(start).Milliseconds()
	return rec
}

func (r *Runner) record(w *openalex.Work, typ string) *manifest.Record {
	rec := &manifest.Record{RecordType: typ, RunID: r.opts.RunID, Timestamp: r.deps.Clock.Now().UTC(),
		WorkID: w.ID, DOI: w.DOI, Title: w.Title, PublicationYear: w.Year}
	if typ == manifest.TypeManifest {
		rec.Authors = w.Authors // for export; attempt lines stay short
	}
	return rec
}

func (r *Runner) write(rec *manifest.Record) {
	if err := r.man.Write(rec); err != nil {
		r.log.Error("manifest write failed", "err", err)
	}
}

// result is how one work ended (this round).
type result struct {
	class     string
	reason    string
	resolver  string
	url       string
	status    int
	path      string
	sha       string
	size      int64
	etag      string
	lastMod   string
	transient bool                // a miss that a later run may turn into a success
	hosts     []string            // hosts that deferred the work
	verdict   PageVerdict         // what an HTML answer was (pages.go)
	next      []resolve.Candidate // links found on a page that was not kept
	previous  *manifest.Record    // the saved outcome an upgrade replaces (upgrade.go)
	hdr       http.Header         // the kept answer's headers (paid.go reads its cost)
}

// fill writes what res says into rec: the classification and reason, where the body
// came from, the saved file's facts, and the outcome an upgrade replaced. It is the
// one copy of result → manifest record, for attempt lines and a work's final line
// alike; a field res leaves empty leaves rec's as it was set (the URL of an attempt).
func (res result) fill(rec *manifest.Record) {
	rec.Classification, rec.Reason = res.class, res.reason
	rec.Resolver, rec.HTTPStatus = res.resolver, res.status
	if res.url != "" {
		rec.URL = redact.Redact(res.url)
	}
	rec.Path, rec.SHA256, rec.ContentLength = res.path, res.sha, res.size
	rec.ETag, rec.LastModified = res.etag, res.lastMod
	if res.previous != nil {
		rec.PreviousPath = res.previous.Path
		rec.PreviousClassification = savedKind(res.previous)
		rec.PreviousSHA256 = res.previous.SHA256
	}
}

// savedResult is the result that a saved work's manifest record stands for: fill's
// inverse, for a work that resume finds already saved.
func savedResult(prev *manifest.Record) result {
	return result{class: prev.Classification, reason: prev.Reason, resolver: prev.Resolver, url: prev.URL,
		status: prev.HTTPStatus, path: prev.Path, sha: prev.SHA256, size: prev.ContentLength,
		etag: prev.ETag, lastMod: prev.LastModified}
}
