// Package download runs a contentdl run: discovery, the resolver chain, fetching,
// classification, atomic storage, the deferred queue, the manifest and the summary.
package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
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
	opts  Options // the run's settings
	deps  Deps    // the clients, clock and logger the run talks through
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
	return &Runner{opts: o, deps: d, log: d.Logger, store: &store{out: o.Out, sub: o.Shard.Tag()},
		byClass: map[string]int{}, byReason: map[string]int{}, seenWorks: map[string]bool{}}
}

// Run executes the run. The returned Summary is filled even when err is non-nil, as
// far as the run got. A cancelled ctx stops new work, cancels requests in flight, and
// still writes the manifest and the summary.
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	sum := &Summary{RunID: r.opts.RunID, StartedAt: r.deps.Clock.Now().UTC(), RetryPolicy: r.deps.Fetch.PolicyName(),
		ProviderLearning: r.opts.Learning, Shard: r.opts.Shard.String()}
	if err := r.store.prepare(); err != nil {
		return sum, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	unlock, err := lockDir(r.opts.Out, r.opts.Shard)
	if err != nil {
		return sum, err
	}
	defer unlock()
	if n, err := r.store.cleanTemp(); err != nil {
		r.log.Warn("could not clean temp files", "err", err)
	} else if n > 0 {
		r.log.Info("removed temp files left by an interrupted run", "count", n)
	}
	manPath := filepath.Join(r.opts.Out, ManifestName(r.opts.Shard))
	if !r.opts.NoResume || r.opts.Revalidate {
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

	works := make(chan *openalex.Work, r.opts.Workers*2)
	var discErr error
	go func() {
		defer close(works)
		discErr = r.discover(ctx, works)
	}()

	r.newFrontier(ctx, works).run()

	r.store.syncDirs()
	cerr := r.man.Close()
	sum.FinishedAt = r.deps.Clock.Now().UTC()
	r.fillSummary(sum)
	r.finishCheckpoint(discErr, ctx.Err() != nil)
	discErr = r.noteBudget(sum, discErr)
	if discErr != nil && ctx.Err() == nil {
		sum.DiscoveryError = redact.Text(discErr.Error())
	}
	sum.Interrupted = ctx.Err() != nil
	if werr := writeSummary(filepath.Join(r.opts.Out, SummaryName(r.opts.Shard)), sum); werr != nil {
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
	if r.opts.Input == nil {
		return r.search(ctx, emit)
	}
	n := 0
	err := openalex.ReadInput(r.opts.Input, func(lineNo int, id string) error {
		if r.opts.Query.MaxWorks > 0 && n >= r.opts.Query.MaxWorks {
			return errStopInput
		}
		if !r.inShard(id) {
			return nil // another shard's work (shard.go)
		}
		w, err := r.deps.OpenAlex.Lookup(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, openalex.ErrNotFound) {
				r.log.Warn("input line not found on OpenAlex", "input", r.opts.InputName, "line", lineNo, "id", id)
				return nil
			}
			// A lookup that failed for another reason (rate limit, outage) may work
			// next time: the run is incomplete.
			r.mu.Lock()
			r.inputErrors++
			r.mu.Unlock()
			r.log.Warn("input line could not be looked up; a later run will try again", "input", r.opts.InputName,
				"line", lineNo, "id", id, "err", redact.Text(err.Error()))
			return nil
		}
		if !r.opts.Shard.Contains(w.ID) {
			return nil
		}
		n++
		return emit(w)
	}, func(lineNo int, line string, err error) {
		r.log.Warn("skipping bad input line", "input", r.opts.InputName, "line", lineNo, "err", err)
	})
	if errors.Is(err, errStopInput) {
		return nil
	}
	return err
}

var errStopInput = errors.New("max works reached")

func (r *Runner) setTotal(n int) {
	n = r.shardTotal(n)
	if r.opts.Query.MaxWorks > 0 && n > r.opts.Query.MaxWorks {
		n = r.opts.Query.MaxWorks
	}
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
	if r.deps.Progress != nil {
		r.deps.Progress.SetTotal(n)
	}
}

// contentError is a response that arrived whole but is not usable full text. An
// answer with a status the runner cannot use is a *fetch.Error instead.
type contentError struct {
	reason  string
	verdict PageVerdict         // for an HTML page (pages.go)
	next    []resolve.Candidate // links found on it
}

func (e *contentError) Error() string { return e.reason }

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
