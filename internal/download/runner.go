// Package download runs a contentdl run: discovery, the resolver chain, fetching,
// classification, atomic storage, the deferred queue, the manifest and the summary.
package download

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
	"github.com/docstokg/contentdl/internal/resolve"
)

// Options are the run's settings, already validated by the caller.
type Options struct {
	Out         string
	Workers     int
	DryRun      bool
	NoResume    bool
	Revalidate  bool
	MaxBytes    int64
	MinPDFBytes int64
	DeferRounds int
	MaxWait     time.Duration
	Query       openalex.Query
	Input       io.Reader // when set, works come from here (one id per line) instead of a search
	InputName   string
	RunID       string
	Learning    bool
}

// Deps are the parts a run talks through.
type Deps struct {
	Fetch     *fetch.Client
	OpenAlex  *openalex.Client
	Resolvers []resolve.Resolver
	Clock     clock.Clock
	Logger    *slog.Logger
	Progress  Progress // may be nil
}

// Progress receives live run events, for a progress display.
type Progress interface {
	SetTotal(n int)
	WorkDone(classification string, bytes int64)
}

// ErrOutputNotWritable says OUT cannot be used; nothing was downloaded.
var ErrOutputNotWritable = errors.New("output directory not writable")

// ErrLocked says another run holds OUT.
var ErrLocked = errors.New("another contentdl run is using this output directory")

// Runner is one run.
type Runner struct {
	o     Options
	d     Deps
	log   *slog.Logger
	store *store
	man   *manifest.Writer
	index *manifest.Index

	mu       sync.Mutex
	byClass  map[string]int
	byReason map[string]int
	failed   int
	// inputErrors counts --input lines whose lookup failed for a transient reason.
	inputErrors int
	seenWorks   map[string]bool
	total       int
	// deferHosts names, per deferred work, the hosts that were closed to it.
	deferHosts map[string][]string
}

// New prepares a Runner. Nothing is created on disk until Run.
func New(o Options, d Deps) *Runner {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	return &Runner{o: o, d: d, log: d.Logger, store: &store{out: o.Out},
		byClass: map[string]int{}, byReason: map[string]int{}, seenWorks: map[string]bool{}}
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
	transient bool     // a miss that a later run may turn into a success
	hosts     []string // hosts that deferred the work
}

// Run executes the run. The returned Summary is filled even when err is non-nil, as
// far as the run got. A cancelled ctx stops new work, cancels requests in flight, and
// still writes the manifest and the summary.
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	sum := &Summary{RunID: r.o.RunID, StartedAt: r.d.Clock.Now().UTC(), RetryPolicy: r.d.Fetch.PolicyName(),
		ProviderLearning: r.o.Learning}
	if err := r.store.prepare(); err != nil {
		return sum, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	unlock, err := lockDir(r.o.Out)
	if err != nil {
		return sum, err
	}
	defer unlock()
	if n, err := r.store.cleanTemp(); err != nil {
		r.log.Warn("could not clean temp files", "err", err)
	} else if n > 0 {
		r.log.Info("removed temp files left by an interrupted run", "count", n)
	}
	manPath := filepath.Join(r.o.Out, "manifest.jsonl")
	if !r.o.NoResume || r.o.Revalidate {
		if r.index, err = manifest.LoadIndex(manPath, r.log); err != nil {
			return sum, err
		}
	}
	if r.man, err = manifest.OpenWriter(manPath); err != nil {
		return sum, err
	}

	works := make(chan *openalex.Work, r.o.Workers*2)
	var discErr error
	go func() {
		defer close(works)
		discErr = r.discover(ctx, works)
	}()

	deferred := r.process(ctx, works, true, func() bool { return ctx.Err() == nil && r.o.DeferRounds > 0 })
	deferred = r.deferRounds(ctx, deferred)
	for _, d := range deferred {
		r.finish(d.w, d.res)
	}

	r.store.syncDirs()
	cerr := r.man.Close()
	sum.FinishedAt = r.d.Clock.Now().UTC()
	r.fillSummary(sum)
	if discErr != nil && ctx.Err() == nil {
		sum.DiscoveryError = redact.Text(discErr.Error())
	}
	sum.Interrupted = ctx.Err() != nil
	if werr := writeSummary(filepath.Join(r.o.Out, "manifest.summary.json"), sum); werr != nil {
		cerr = errors.Join(cerr, werr)
	}
	if ctx.Err() != nil {
		return sum, errors.Join(ctx.Err(), cerr)
	}
	if discErr != nil && rateLimitedHost(discErr) != "" {
		// OpenAlex asked us to stop (a spent daily budget, a long Retry-After): the works
		// found so far were processed and the next run goes on, so this is an
		// incomplete run (exit 3), not a failure.
		r.log.Warn("discovery stopped: OpenAlex is rate limiting or out of quota; the next run continues",
			"err", redact.Text(discErr.Error()))
		return sum, cerr
	}
	if discErr != nil {
		return sum, errors.Join(fmt.Errorf("discovery: %w", discErr), cerr)
	}
	return sum, cerr
}

// deferRounds retries deferred works once their hosts have cooled down, for at most
// DeferRounds rounds. It returns the works still deferred.
func (r *Runner) deferRounds(ctx context.Context, ws []deferredWork) []deferredWork {
	for round := 1; round <= r.o.DeferRounds && len(ws) > 0 && ctx.Err() == nil; round++ {
		now := r.d.Clock.Now()
		var ready, later []deferredWork
		var wakeAt time.Time
		for _, w := range ws {
			open := r.reopenAt(w.w)
			if open.Sub(now) > r.o.MaxWait {
				later = append(later, w)
				continue
			}
			ready = append(ready, w)
			if open.After(wakeAt) {
				wakeAt = open
			}
		}
		if len(ready) == 0 {
			return ws
		}
		if d := wakeAt.Sub(now); d > 0 {
			r.log.Info(fmt.Sprintf("waiting %s before retrying %d deferred works", d.Round(time.Millisecond), len(ready)), "round", round)
			if r.d.Clock.Sleep(ctx, d) != nil {
				return ws
			}
		}
		r.log.Info("retrying deferred works", "round", round, "works", len(ready))
		jobs := make(chan *openalex.Work, len(ready))
		for _, w := range ready {
			jobs <- w.w
		}
		close(jobs)
		ws = append(later, r.process(ctx, jobs, false, func() bool { return true })...)
	}
	return ws
}

// process runs the workers over jobs until it is closed. A work that ends deferred is
// held for a later round when hold says so; every other work gets its manifest record.
// With skipOnCancel, works not yet started when ctx ends are drained without a record
// (they were never tried in this run).
func (r *Runner) process(ctx context.Context, jobs <-chan *openalex.Work, skipOnCancel bool, hold func() bool) []deferredWork {
	var mu sync.Mutex
	var held []deferredWork
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range jobs {
				if skipOnCancel && ctx.Err() != nil {
					continue
				}
				res := r.processWork(ctx, w)
				if res.class == manifest.ClassDeferred && hold() {
					mu.Lock()
					held = append(held, deferredWork{w, res})
					mu.Unlock()
					continue
				}
				r.finish(w, res)
			}
		}()
	}
	wg.Wait()
	return held
}

// deferredWork is a work waiting for a defer round, with how it ended last.
type deferredWork struct {
	w   *openalex.Work
	res result
}

// reopenAt is the latest time at which the hosts that deferred w reopen.
func (r *Runner) reopenAt(w *openalex.Work) time.Time {
	r.mu.Lock()
	hosts := r.deferHosts[w.ID]
	r.mu.Unlock()
	var t time.Time
	for _, h := range hosts {
		if u, _ := r.d.Fetch.HostOpenAt(h); u.After(t) {
			t = u
		}
	}
	return t
}

// discover feeds works to the queue: a search, or the ids of the input file.
func (r *Runner) discover(ctx context.Context, out chan<- *openalex.Work) error {
	emit := func(w openalex.Work) error {
		if w.ID == "" {
			return nil
		}
		r.mu.Lock()
		dup := r.seenWorks[w.ID]
		r.seenWorks[w.ID] = true
		r.mu.Unlock()
		if dup {
			return nil
		}
		select {
		case out <- &w:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.o.Input == nil {
		return r.d.OpenAlex.Search(ctx, r.o.Query, r.setTotal, emit)
	}
	n := 0
	err := openalex.ReadInput(r.o.Input, func(lineNo int, id string) error {
		if r.o.Query.MaxWorks > 0 && n >= r.o.Query.MaxWorks {
			return errStopInput
		}
		w, err := r.d.OpenAlex.Lookup(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, openalex.ErrNotFound) {
				r.log.Warn("input line not found on OpenAlex", "input", r.o.InputName, "line", lineNo, "id", id)
				return nil
			}
			// A lookup that failed for another reason (rate limit, outage) may work
			// next time: the run is incomplete.
			r.mu.Lock()
			r.inputErrors++
			r.mu.Unlock()
			r.log.Warn("input line could not be looked up; a later run will try again", "input", r.o.InputName,
				"line", lineNo, "id", id, "err", redact.Text(err.Error()))
			return nil
		}
		n++
		return emit(w)
	}, func(lineNo int, line string, err error) {
		r.log.Warn("skipping bad input line", "input", r.o.InputName, "line", lineNo, "err", err)
	})
	if errors.Is(err, errStopInput) {
		return nil
	}
	return err
}

var errStopInput = errors.New("max works reached")

func (r *Runner) setTotal(n int) {
	if r.o.Query.MaxWorks > 0 && n > r.o.Query.MaxWorks {
		n = r.o.Query.MaxWorks
	}
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
	if r.d.Progress != nil {
		r.d.Progress.SetTotal(n)
	}
}

// processWork takes one work through resume, the resolver chain and the downloads.
func (r *Runner) processWork(ctx context.Context, w *openalex.Work) result {
	if res, done := r.resumed(ctx, w); done {
		return res
	}
	seen := resolve.NewSeen()
	var fallback *kept
	defer func() { fallback.discard() }()
	var deferHosts []string
	var last result
	resolverFailed := "" // reason of the last resolver that failed, if any
	transient := false   // some failure along the way may not happen next time
	tried, candidates := 0, 0
	var dry []resolve.Candidate
	for _, rs := range r.d.Resolvers {
		if ctx.Err() != nil {
			return result{class: manifest.ClassDeferred, reason: "interrupted"}
		}
		start := r.d.Clock.Now()
		cands, err := rs.Resolve(ctx, w)
		if err != nil {
			rec := r.attempt(w, rs.Name(), "", policy.Resolve, start)
			rec.Reason, rec.Decision, rec.HTTPStatus = errInfo(err)
			rec.Classification = manifest.ClassMiss
			r.write(rec)
			resolverFailed = rec.Reason
			transient = transient || isTransient(err)
			if h := rateLimitedHost(err); h != "" {
				deferHosts = append(deferHosts, h)
			}
			r.log.Debug("resolver failed; trying the next", "work", w.ID, "resolver", rs.Name(), "err", redact.Text(err.Error()))
			continue
		}
		for _, c := range cands {
			if !seen.Add(c) {
				continue
			}
			candidates++
			if r.o.DryRun {
				dry = append(dry, c)
				rec := r.attempt(w, c.Resolver, c.URL, policy.Download, start)
				rec.Classification = manifest.ClassDryRun
				r.write(rec)
				continue
			}
			tried++
			res, k := r.tryCandidate(ctx, w, c)
			if k != nil {
				if k.kind == KindPDF {
					return r.save(w, k, res)
				}
				if fallback == nil || (fallback.kind == KindHTML && k.kind == KindXML) {
					fallback.discard()
					fallback = k
				} else {
					k.discard()
				}
				continue
			}
			if len(res.hosts) > 0 {
				deferHosts = append(deferHosts, res.hosts...)
			}
			transient = transient || res.transient
			last = res
		}
	}
	if ctx.Err() != nil {
		return result{class: manifest.ClassDeferred, reason: "interrupted"}
	}
	if r.o.DryRun {
		res := result{class: manifest.ClassDryRun, reason: fmt.Sprintf("%d_candidates", len(dry))}
		if len(dry) > 0 {
			res.url, res.resolver = dry[0].URL, dry[0].Resolver
		} else {
			res.reason = "no_oa_candidates"
		}
		return res
	}
	if len(deferHosts) > 0 {
		// A host that asked us to wait may hold the PDF: defer rather than settle for
		// an XML/HTML fallback (which the retry will find again if there is no PDF).
		r.noteDeferHosts(w.ID, deferHosts)
		return result{class: manifest.ClassDeferred, reason: "rate_limited", hosts: deferHosts}
	}
	if fallback != nil {
		k := fallback
		fallback = nil
		return r.save(w, k, k.res)
	}
	if candidates == 0 {
		if resolverFailed != "" {
			// A resolver that failed may know a candidate: say why. The work counts
			// as failed (exit 3) only when that failure may pass (5xx, timeout,
			// malformed answer), not for a permanent answer such as a 403.
			return result{class: manifest.ClassMiss, reason: resolverFailed, transient: transient}
		}
		return result{class: manifest.ClassMiss, reason: "no_oa_candidates"}
	}
	last.class = manifest.ClassMiss
	if last.reason == "" {
		last.reason = "no_valid_candidate"
	}
	last.transient = transient
	return last
}

// isTransient says whether a failed request may succeed on a later run: timeouts,
// resets, 408/429/5xx and undecodable answers may; TLS failures, bad schemes,
// redirect loops and other 4xx statuses will not.
func isTransient(err error) bool {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		if fe.Status != 0 {
			return transientStatus(fe.Status)
		}
		switch policy.ClassifyError(fe.Err) {
		case policy.ErrTLS, policy.ErrBadScheme, policy.ErrCanceled:
			return false
		}
		return !errors.Is(fe.Err, fetch.ErrTooManyRedirects)
	}
	var se *openalex.StatusError
	if errors.As(err, &se) {
		return transientStatus(se.Status)
	}
	return true
}

func transientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || v != s[i-1]) {
			out = append(out, v)
		}
	}
	return out
}

// resumed handles a work that an earlier run saved. done is true when nothing more
// is to be done for it.
func (r *Runner) resumed(ctx context.Context, w *openalex.Work) (result, bool) {
	if r.o.NoResume && !r.o.Revalidate {
		return result{}, false
	}
	prev, ok := r.index.Latest(w.ID)
	if !ok || !prev.Saved() || !r.store.verify(prev.Path, prev.SHA256) {
		return result{}, false
	}
	res := result{class: manifest.ClassSkipped, reason: "already_saved", resolver: prev.Resolver, url: prev.URL,
		path: prev.Path, sha: prev.SHA256, size: prev.ContentLength, etag: prev.ETag, lastMod: prev.LastModified}
	if r.o.Revalidate {
		return r.revalidate(ctx, w, prev, res), true
	}
	return res, true
}

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
	start := r.d.Clock.Now()
	rec := r.attempt(w, c.Resolver, c.URL, policy.Download, start)
	res := result{resolver: c.Resolver, url: c.URL}
	var k *kept
	op := policy.Download
	if isArchiveURL(c.URL) {
		op = policy.Extract
		rec.Operation = op.String()
	}
	err := r.d.Fetch.Fetch(ctx, op, c.URL, http.Header{"Accept": {"application/pdf, application/xml;q=0.9, text/html;q=0.5, */*;q=0.1"}},
		func(resp *http.Response) error {
			k.discard()
			k = nil
			res.status = resp.StatusCode
			if resp.StatusCode != http.StatusOK {
				return &contentError{reason: fmt.Sprintf("http_%d", resp.StatusCode), transient: transientStatus(resp.StatusCode)}
			}
			var err error
			k, err = r.receive(resp, c)
			return err
		})
	rec.ElapsedMS = r.d.Clock.Now().Sub(start).Milliseconds()
	rec.HTTPStatus = res.status
	if err != nil {
		k.discard()
		var ce *contentError
		var fe *fetch.Error
		switch {
		case errors.As(err, &ce):
			res.reason, res.transient = ce.reason, ce.transient
			rec.Decision = policy.Fail.String()
			if res.status == http.StatusTooManyRequests {
				// Attempts ran out on 429s: the file may well exist; defer, don't miss.
				res.hosts = []string{hostOf(c.URL)}
			}
		case errors.As(err, &fe):
			res.reason = fe.Reason()
			res.transient = isTransient(fe)
			rec.Decision = fe.Decision.Action.String()
			if fe.Status != 0 {
				rec.HTTPStatus = fe.Status
			}
			if fe.RateLimited() {
				res.hosts = []string{fe.Host}
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
	rec.Classification = k.kind.String()
	rec.SHA256, rec.ContentLength = k.res.sha, k.res.size
	rec.ETag, rec.LastModified = k.res.etag, k.res.lastMod
	rec.Decision = "accept"
	r.write(rec)
	return res, k
}

// contentError is a response that arrived whole but is not usable full text.
type contentError struct {
	reason    string
	transient bool
}

func (e *contentError) Error() string { return e.reason }

// receive streams a 200 response into a temp file, hashing as it goes, and checks
// what it is. Body transport failures come back as *fetch.BodyError for a retry.
func (r *Runner) receive(resp *http.Response, c resolve.Candidate) (*kept, error) {
	if resp.ContentLength > r.o.MaxBytes {
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
		reason = ValidatePDF(n, sp.head, sp.tail, r.o.MinPDFBytes)
	case KindHTML:
		if c.Hint == KindPDF || c.Hint == KindXML {
			reason = "html_not_pdf"
		} else if n == 0 {
			reason = "empty"
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
		etag: resp.Header.Get("ETag"), lastMod: resp.Header.Get("Last-Modified")}}, nil
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

// attempt starts an attempt record.
func (r *Runner) attempt(w *openalex.Work, resolver, rawURL string, op policy.OperationType, start time.Time) *manifest.Record {
	rec := r.record(w, manifest.TypeAttempt)
	rec.Resolver = resolver
	rec.URL = redact.Redact(rawURL)
	if rawURL == "" {
		rec.URL = ""
	}
	rec.Operation = op.String()
	rec.ElapsedMS = r.d.Clock.Now().Sub(start).Milliseconds()
	return rec
}

func (r *Runner) record(w *openalex.Work, typ string) *manifest.Record {
	rec := &manifest.Record{RecordType: typ, RunID: r.o.RunID, Timestamp: r.d.Clock.Now().UTC(),
		WorkID: w.ID, DOI: w.DOI, Title: w.Title, PublicationYear: w.Year}
	if typ == manifest.TypeManifest {
		rec.Authors = w.Authors // for export; attempt lines stay short
	}
	return rec
}

// rateLimitedHost names the host when err says a host asked us to slow down (a 429,
// a cooldown or an exhausted quota), and "" otherwise.
func rateLimitedHost(err error) string {
	var fe *fetch.Error
	if errors.As(err, &fe) && fe.RateLimited() {
		return fe.Host
	}
	var se *openalex.StatusError
	if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
		return hostOf(se.URL)
	}
	return ""
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

func errInfo(err error) (reason, decision string, status int) {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return fe.Reason(), fe.Decision.Action.String(), fe.Status
	}
	var se *openalex.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("http_%d", se.Status), policy.Failover.String(), se.Status
	}
	return "resolver_error", policy.Failover.String(), 0
}

func (r *Runner) write(rec *manifest.Record) {
	if err := r.man.Write(rec); err != nil {
		r.log.Error("manifest write failed", "err", err)
	}
}

// finish writes the work's one manifest record for this run and counts it.
func (r *Runner) finish(w *openalex.Work, res result) {
	rec := r.record(w, manifest.TypeManifest)
	rec.Classification, rec.Reason = res.class, res.reason
	rec.Resolver, rec.HTTPStatus = res.resolver, res.status
	if res.url != "" {
		rec.URL = redact.Redact(res.url)
	}
	rec.Path, rec.SHA256, rec.ContentLength = res.path, res.sha, res.size
	rec.ETag, rec.LastModified = res.etag, res.lastMod
	r.write(rec)
	r.mu.Lock()
	r.byClass[res.class]++
	if res.reason != "" {
		r.byReason[res.reason]++
	}
	if res.class == manifest.ClassMiss && res.transient {
		r.failed++
	}
	r.mu.Unlock()
	if r.d.Progress != nil {
		r.d.Progress.WorkDone(res.class, res.size)
	}
}
