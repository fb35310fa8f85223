package cli

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/fleet"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/report"
	"github.com/docstokg/contentdl/internal/resolve"
)

// runWiring is the composition root of a run, in the manner of gh's cmdutil.Factory:
// from the State and the Config it builds every part a run talks through. The
// displays (logger, progress, metrics) are made at once, because everything logs;
// the rest is made on first use and then kept, so each part is built once, in the
// order runRun asks for it, and a test can replace any constructor before the first
// call to swap one part.
type runWiring struct {
	ctx context.Context // the run's, for connecting to the fleet
	st  *State
	o   *RunOptions
	cfg *config.Config

	Clock       clock.Clock
	Log         *slog.Logger
	Progress    *report.Progress // nil: no progress display
	Metrics     *report.Metrics  // nil: no --metrics-file
	MetricsFile string

	Policy    func() policy.Policy
	Fleet     func() (*fleet.Client, error) // nil when fleet.redis_url is not set
	Tracker   func() *learning.Tracker      // nil when provider learning is off
	Fetch     func() *fetch.Client
	OpenAlex  func() *openalex.Client
	Resolvers func() ([]resolve.Resolver, error)
	Runner    func() (*download.Runner, error)

	// learningOpenErr is why the learning file could not be read at the start, if
	// it could not; that was warned about once, so a failed save is logged quietly.
	learningOpenErr error
	ledger          *openalex.Ledger
	closers         []func()
}

// newRunWiring makes the displays and sets up the constructors.
func newRunWiring(ctx context.Context, st *State, o *RunOptions) (*runWiring, error) {
	cfg := o.Config
	w := &runWiring{ctx: ctx, st: st, o: o, cfg: cfg, Clock: st.Clock, ledger: openalex.NewLedger(cfg.OpenAlex.MaxCostUSD)}
	logLevel := cfg.LogLevel
	if o.Quiet && (logLevel == "info" || logLevel == "debug") {
		logLevel = "warn"
	}
	showProgress, err := report.ProgressEnabled(o.Progress, st.StderrIsTTY, o.Quiet, o.JSON)
	if err != nil {
		return nil, usagef("%v", err)
	}
	logOut := st.Stderr
	if showProgress {
		w.Progress = report.NewProgress(st.Stderr, nil, w.Clock)
		w.onClose(w.Progress.Close)
		logOut = w.Progress.LogWriter()
	}
	w.Log = newLogger(logOut, logLevel, cfg.LogFormat)
	sh := cfg.Fleet.ShardSpec()
	if w.MetricsFile = shardMetricsPath(o.MetricsFile, sh); w.MetricsFile != "" {
		w.Metrics = report.NewMetrics()
		w.Metrics.Shard = sh.String()
		w.Metrics.SetClock(w.Clock.Now)
	}

	w.Policy = once(w.newPolicy)
	w.Fleet = onceErr(w.newFleet)
	w.Tracker = once(w.newTracker)
	w.Fetch = once(w.newFetch)
	w.OpenAlex = once(w.newOpenAlex)
	w.Resolvers = onceErr(w.newResolvers)
	w.Runner = onceErr(w.newRunner)
	return w, nil
}

// close releases what the parts hold, the last made first.
func (w *runWiring) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

func (w *runWiring) onClose(f func()) { w.closers = append(w.closers, f) }

func (w *runWiring) newPolicy() policy.Policy {
	if w.cfg.EnableContextualRetry {
		return policy.NewContextual(policyConfig(w.cfg))
	}
	return policy.NewLegacy(policyConfig(w.cfg))
}

// newFleet connects to the fleet's Redis when fleet.redis_url is set, and shows the
// fleet in the metrics and the progress line.
func (w *runWiring) newFleet() (*fleet.Client, error) {
	fl, err := openFleet(w.ctx, w.cfg, w.Clock, w.Log)
	if err != nil || fl == nil {
		return nil, err
	}
	w.onClose(func() { _ = fl.Close() })
	if w.Metrics != nil {
		w.Metrics.Fleet = fl.Stats
	}
	if w.Progress != nil {
		w.Progress.SetFleet(fleetStatus(fl))
	}
	return fl, nil
}

// newTracker opens the learning file; a file that cannot be read gives the one
// warning about it, and learning starts empty.
func (w *runWiring) newTracker() *learning.Tracker {
	cfg := w.cfg
	if !cfg.EnableProviderLearning {
		return nil
	}
	lc := learningConfig(cfg)
	if fl, _ := w.Fleet(); fl != nil {
		// Each process sees about 1/members of a shared host's answers; the rates
		// learning measures from them are scaled up to the fleet's.
		lc.Share = func() float64 { return 1 / float64(fl.Members()) }
	}
	tracker := learning.NewTracker(lc, w.Clock, w.Log)
	if w.learningOpenErr = tracker.Open(cfg.ProviderLearningPath); w.learningOpenErr != nil {
		// The one warning about an unusable learning file: later failed saves of the
		// same path are logged at debug level only.
		w.Log.Warn("provider learning file cannot be read; learning starts empty and stays in memory, and is saved there if the path becomes usable",
			"path", cfg.ProviderLearningPath, "err", w.learningOpenErr,
			"fix", learningFix(cfg.ProviderLearningPath))
	}
	return tracker
}

func (w *runWiring) newFetch() *fetch.Client {
	cfg := w.cfg
	var learner fetch.Learner
	if t := w.Tracker(); t != nil {
		learner = t
	}
	var observe func(string, int, policy.ErrKind, time.Duration)
	if w.Metrics != nil {
		observe = w.Metrics.ObserveRequest
	}
	var fleetOpt fetch.Fleet // stays a nil interface without a fleet
	if fl, _ := w.Fleet(); fl != nil {
		fleetOpt = fl
	}
	fc := fetch.New(fetch.Options{
		Policy:         w.Policy(),
		MaxWait:        cfg.Retry.MaxWait,
		MaxPause:       cfg.Retry.MaxDelay,
		Clock:          w.Clock,
		Logger:         w.Log,
		UserAgent:      userAgent(cfg.Mailto),
		Timeout:        cfg.Download.Timeout,
		MinSpeed:       cfg.Download.MinSpeed,
		MinSpeedWindow: cfg.Download.MinSpeedWindow,
		LimitFor:       func(h string) fetch.HostLimit { return toHostLimit(cfg.HostLimitFor(h)) },
		ProviderOf:     cfg.ProviderOf(),
		Learner:        learner,
		Fleet:          fleetOpt,
		Observe:        observe,
		Guard:          netguard.New(cfg.Network.DenyPrefixes(), cfg.Network.AllowPrefixes(), w.Log, nil),
	})
	w.onClose(fc.CloseIdleConnections)
	if w.Progress != nil {
		w.Progress.SetCooldowns(fc.Cooldowns)
	}
	return fc
}

func (w *runWiring) newOpenAlex() *openalex.Client {
	cfg := w.cfg
	oa := &openalex.Client{BaseURL: cfg.OpenAlex.BaseURL, APIKey: cfg.OpenAlex.APIKey, Mailto: cfg.Mailto,
		PerPage: cfg.OpenAlex.PerPage, UserAgent: userAgent(cfg.Mailto), Doer: w.Fetch(), Logger: w.Log, Ledger: w.ledger}
	if slices.Contains(cfg.Resolvers.Order, providers.OpenAlexContent) {
		oa.ExtraSelect = []string{"content_urls"}
	}
	return oa
}

func (w *runWiring) newResolvers() ([]resolve.Resolver, error) {
	cfg := w.cfg
	resolvers, err := resolve.Chain(cfg.Resolvers.Order, resolve.Options{
		Mailto: cfg.Mailto, UnpaywallBase: cfg.Unpaywall.BaseURL, CrossrefBase: cfg.Crossref.BaseURL,
		ArxivBase: cfg.Arxiv.BaseURL, EuropePMCBase: cfg.EuropePMC.BaseURL,
		SemanticScholarBase: cfg.SemanticScholar.BaseURL, SemanticScholarAPIKey: cfg.SemanticScholar.APIKey,
		OpenAlexContentBase: cfg.OpenAlex.ContentBaseURL, OpenAlexAPIKey: cfg.OpenAlex.APIKey,
		UserAgent: userAgent(cfg.Mailto), Doer: w.Fetch(), Logger: w.Log,
	})
	if err != nil {
		return nil, usagef("resolvers.order: %v", err)
	}
	return resolvers, nil
}

// newRunner opens --input (a file, or stdin for "-") and builds the Runner over the
// other parts.
func (w *runWiring) newRunner() (*download.Runner, error) {
	cfg, o := w.cfg, w.o
	var input io.Reader
	inputName := o.Input
	if o.Input == "-" {
		input, inputName = w.st.Stdin, "stdin"
	} else if o.Input != "" {
		f, err := w.st.FS.Open(o.Input)
		if err != nil {
			return nil, usagef("--input: %v", err)
		}
		w.onClose(func() { f.Close() })
		input = f
	}
	fc := w.Fetch()
	oa := w.OpenAlex()
	resolvers, err := w.Resolvers()
	if err != nil {
		return nil, err
	}
	deps := download.Deps{Fetch: fc, OpenAlex: oa, Resolvers: resolvers, Clock: w.Clock, Logger: w.Log, Ledger: w.ledger}
	if w.Progress != nil {
		deps.Progress = w.Progress
	}
	return download.New(download.Options{
		Out: cfg.Out, Workers: cfg.Workers, DryRun: o.DryRun, NoResume: o.NoResume, Revalidate: o.Revalidate,
		MaxBytes: cfg.Download.MaxBytes, MinPDFBytes: cfg.Download.MinPDFBytes, DeferRounds: cfg.Retry.DeferRounds,
		MaxWait: cfg.Retry.MaxWait,
		Query: openalex.Query{Search: o.Topic, TopicID: o.TopicID, YearStart: o.YearStart, YearEnd: o.YearEnd,
			OAOnly: o.OAOnly, MaxWorks: cfg.MaxWorks},
		Input: input, InputName: inputName, RunID: newRunID(w.Clock.Now()), Learning: cfg.EnableProviderLearning,
		NoUpgrade: cfg.NoUpgrade, Shard: cfg.Fleet.ShardSpec(),
	}, deps), nil
}

// once makes f run on the first call only; later calls return its first answer.
func once[T any](f func() T) func() T {
	var (
		o sync.Once
		v T
	)
	return func() T {
		o.Do(func() { v = f() })
		return v
	}
}

// onceErr is once for a constructor that may fail: the error is kept as well.
func onceErr[T any](f func() (T, error)) func() (T, error) {
	var (
		o   sync.Once
		v   T
		err error
	)
	return func() (T, error) {
		o.Do(func() { v, err = f() })
		return v, err
	}
}
