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
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
	"github.com/docstokg/contentdl/internal/resolve"
	"github.com/docstokg/contentdl/internal/shard"
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
	NoUpgrade   bool        // keep works saved as XML/HTML as they are (upgrade.go)
	Shard       shard.Shard // only this shard's works, in its own files (shard.go); zero = all
}

// Deps are the parts a run talks through.
type Deps struct {
	Fetch     *fetch.Client
	OpenAlex  *openalex.Client
	Resolvers []resolve.Resolver
	Clock     clock.Clock
	Logger    *slog.Logger
	Progress  Progress         // may be nil
	Ledger    *openalex.Ledger // OpenAlex cost and budget; may be nil (checkpoint.go, paid.go)
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
	cp          *checkpoint // discovery checkpoint of a search run (checkpoint.go)
	budgetSpent bool        // a paid call was refused by the budget (paid.go)
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
	return &Runner{o: o, d: d, log: d.Logger, store: &store{out: o.Out, sub: o.Shard.Tag()},
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
	transient bool                // a miss that a later run may turn into a success
	hosts     []string            // hosts that deferred the work
	verdict   PageVerdict         // what an HTML answer was (pages.go)
	next      []resolve.Candidate // links found on a page that was not kept
	previous  *manifest.Record    // the saved outcome an upgrade replaces (upgrade.go)
	hdr       http.Header         // the kept answer's headers (paid.go reads its cost)
}

// Run executes the run. The returned Summary is filled even when err is non-nil, as
// far as the run got. A cancelled ctx stops new work, cancels requests in flight, and
// still writes the manifest and the summary.
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	sum := &Summary{RunID: r.o.RunID, StartedAt: r.d.Clock.Now().UTC(), RetryPolicy: r.d.Fetch.PolicyName(),
		ProviderLearning: r.o.Learning, Shard: r.o.Shard.String()}
	if err := r.store.prepare(); err != nil {
		return sum, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	unlock, err := lockDir(r.o.Out, r.o.Shard)
	if err != nil {
		return sum, err
	}
	defer unlock()
	if n, err := r.store.cleanTemp(); err != nil {
		r.log.Warn("could not clean temp files", "err", err)
	} else if n > 0 {
		r.log.Info("removed temp files left by an interrupted run", "count", n)
	}
	manPath := filepath.Join(r.o.Out, ManifestName(r.o.Shard))
	if !r.o.NoResume || r.o.Revalidate {
		files, err := r.resumeManifests()
		if err == nil {
			r.index, err = manifest.LoadIndexFiles(files, r.log)
		}
		if err != nil {
			return sum, err
		}
	}
	if r.man, err = manifest.OpenWriter(manPath, fileperm.Shared); err != nil {
		return sum, err
	}

	works := make(chan *openalex.Work, r.o.Workers*2)
	var discErr error
	go func() {
		defer close(works)
		discErr = r.discover(ctx, works)
	}()

	r.newFrontier(ctx, works).run()

	r.store.syncDirs()
	cerr := r.man.Close()
	sum.FinishedAt = r.d.Clock.Now().UTC()
	r.fillSummary(sum)
	r.finishCheckpoint(discErr, ctx.Err() != nil)
	discErr = r.noteBudget(sum, discErr)
	if discErr != nil && ctx.Err() == nil {
		sum.DiscoveryError = redact.Text(discErr.Error())
	}
	sum.Interrupted = ctx.Err() != nil
	if werr := writeSummary(filepath.Join(r.o.Out, SummaryName(r.o.Shard)), sum); werr != nil {
		cerr = errors.Join(cerr, werr)
	}
	if ctx.Err() != nil {
		return sum, errors.Join(ctx.Err(), cerr)
	}
	if host, ok := rateLimited(discErr); ok && host != "" {
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
		return r.search(ctx, emit)
	}
	n := 0
	err := openalex.ReadInput(r.o.Input, func(lineNo int, id string) error {
		if r.o.Query.MaxWorks > 0 && n >= r.o.Query.MaxWorks {
			return errStopInput
		}
		if !r.inShard(id) {
			return nil // another shard's work (shard.go)
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
		if !r.o.Shard.Contains(w.ID) {
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
	n = r.shardTotal(n)
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
// is to be done for it. A saved XML or HTML file may start a pass instead (ws.pass):
// an upgrade to PDF, or a redo when the saved page is not full text (upgrade.go).
func (r *Runner) resumed(ctx context.Context, ws *workState) (result, bool) {
	w := ws.w
	if (r.o.NoResume && !r.o.Revalidate) || ws.pass.mode != 0 {
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
	if m := r.reconsider(w, prev); m != 0 {
		ws.pass, ws.saved = pass{mode: m, prev: prev}, res
		return result{}, false
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
				se := fetch.NewStatusError(resp, c.URL)
				se.Op, se.Host = op, fetch.HostOf(c.URL) // the candidate's host is the one deferred on
				return se
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
	rec.Classification = k.kind.String()
	rec.SHA256, rec.ContentLength = k.res.sha, k.res.size
	rec.ETag, rec.LastModified = k.res.etag, k.res.lastMod
	rec.Decision = "accept"
	r.write(rec)
	return res, k
}

// contentError is a response that arrived whole but is not usable full text. An
// answer with a status the runner cannot use is a *fetch.Error instead.
type contentError struct {
	reason  string
	verdict PageVerdict         // for an HTML page (pages.go)
	next    []resolve.Candidate // links found on it
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

// rateLimited is err's fetch.Error's RateLimited, for an error that may wrap one.
func rateLimited(err error) (host string, ok bool) {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return fe.RateLimited()
	}
	return "", false
}

// decision is the manifest's decision for a failed request: the policy's, or, for an
// answer the policy let through and the caller rejected (ActionNone), what the runner
// does next.
func decision(fe *fetch.Error, otherwise policy.Action) string {
	if fe.Decision.Action == policy.ActionNone {
		return otherwise.String()
	}
	return fe.Decision.Action.String()
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
	res.annotate(rec)
	r.write(rec)
	r.checkpointFinished(w.ID, res)
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
