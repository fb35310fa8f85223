package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
	"github.com/docstokg/contentdl/internal/report"
	"github.com/docstokg/contentdl/internal/shard"
)

// RunOptions are the run command's own inputs (the rest comes from config).
type RunOptions struct {
	Topic       string
	TopicID     string
	YearStart   int
	YearEnd     int
	OAOnly      bool
	Input       string
	DryRun      bool
	NoResume    bool
	Revalidate  bool
	JSON        bool
	Quiet       bool
	Progress    string
	MetricsFile string

	Config *config.Config
}

// NewCmdRun builds `contentdl run`. runF replaces the run in tests of flag parsing.
func NewCmdRun(st *State, gf *globalFlags, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Discover works on OpenAlex and download their open-access full texts",
		Long: `Discover works on OpenAlex (by --topic search, --topic-id, or an --input list of
DOIs and W-ids), resolve candidate URLs through the resolver chain, and save validated
PDFs (XML/HTML as fallback) under OUT/PDF, OUT/XML and OUT/HTML with a manifest.
A second run resumes: saved works are skipped, deferred and missed works are retried.`,
		Example: `  # Knowledge-graph papers from 2020-2023, at most 200, into runs/dev
  contentdl run --topic "knowledge graphs" --year-start 2020 --year-end 2023 \
      --max-works 200 --mailto me@example.org --out runs/dev

  # A list of DOIs from a file, both feature gates on, JSON summary on stdout
  contentdl run --input dois.txt --enable-contextual-retry --enable-provider-learning --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			cfg, err := loadConfig(st, gf, c)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runRun(c.Context(), st, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Topic, "topic", "", "OpenAlex full-text search for the topic (search=)")
	f.StringVar(&opts.TopicID, "topic-id", "", "OpenAlex topic id, e.g. T10325 (filter=topics.id:)")
	f.IntVar(&opts.YearStart, "year-start", 0, "earliest publication year (0 = no bound)")
	f.IntVar(&opts.YearEnd, "year-end", 0, "latest publication year (0 = no bound)")
	f.BoolVar(&opts.OAOnly, "oa-only", false, "only works OpenAlex marks open access (is_oa:true)")
	f.StringVar(&opts.Input, "input", "", "file of DOIs, DOI URLs or W-ids, one per line ('-' = stdin) instead of a search")
	f.BoolVar(&opts.DryRun, "dry-run", false, "resolve candidates and record them as dry_run; download nothing")
	f.BoolVar(&opts.NoResume, "no-resume", false, "redo every work, ignoring the manifest of earlier runs")
	f.BoolVar(&opts.Revalidate, "revalidate", false, "re-check saved files with a conditional GET (ETag/Last-Modified)")
	f.BoolVar(&opts.JSON, "json", false, "print the run summary as one JSON object on stdout")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on success; only warnings and errors on stderr")
	f.StringVar(&opts.Progress, "progress", report.ProgressAuto,
		"progress display on stderr: auto (only on a terminal, not with --quiet or --json), always or never")
	f.StringVar(&opts.MetricsFile, "metrics-file", "",
		"write Prometheus textfile metrics to PATH at the end of the run, atomically (node_exporter textfile collector)")
	f.String("mailto", "", "contact e-mail: Unpaywall's required email, Crossref's mailto and the User-Agent (config: mailto)")
	f.Bool("no-upgrade", false, "keep works saved as XML/HTML as they are instead of looking for their PDF again (config: no_upgrade)")
	f.Float64("max-cost-usd", 0, "stop discovery and paid downloads before this run's OpenAlex cost would pass this many USD; 0 = no limit (config: openalex.max_cost_usd)")
	_ = f.SetAnnotation("max-cost-usd", config.FlagAnnotation, []string{"openalex.max_cost_usd"})
	f.Int("workers", 8, "works processed concurrently (config: workers)")
	f.Int("max-works", 0, "stop after this many works; 0 = no limit (config: max_works)")
	f.String("out", "runs/contentdl", "output directory (config: out)")
	f.Bool("enable-contextual-retry", false, "use the contextual per-operation retry policy (config: enable_contextual_retry)")
	f.Bool("enable-provider-learning", false, "learn per-host rate limits from 429s and headers (config: enable_provider_learning)")
	f.String("provider-learning-path", "", "learning state file (default $XDG_STATE_HOME/contentdl/provider-learning.json)")
	f.String("shard", "", "only the works of shard I of N, e.g. 1/3, by a stable hash of the W-id; files get .shard-I-of-N (config: fleet.shard; docs/fleet.md)")
	_ = f.SetAnnotation("shard", config.FlagAnnotation, []string{"fleet.shard"})
	f.String("redis", "", "share each host's budget, windows, concurrency and learned rate with the other processes of the fleet through this Redis, e.g. redis://127.0.0.1:6379/0 (config: fleet.redis_url; docs/fleet.md)")
	_ = f.SetAnnotation("redis", config.FlagAnnotation, []string{"fleet.redis_url"})
	f.String("fleet-name", "default", "the fleet's name, the prefix of its Redis keys: processes that share budgets use the same name (config: fleet.name)")
	_ = f.SetAnnotation("fleet-name", config.FlagAnnotation, []string{"fleet.name"})
	return cmd
}

func (o *RunOptions) validate() error {
	n := 0
	for _, s := range []string{o.Topic, o.TopicID, o.Input} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("run needs exactly one of --topic, --topic-id or --input")
	}
	for _, y := range []struct {
		name string
		v    int
	}{{"--year-start", o.YearStart}, {"--year-end", o.YearEnd}} {
		if y.v != 0 && (y.v < 1000 || y.v > 2999) {
			return usagef("%s %d is not a plausible publication year", y.name, y.v)
		}
	}
	if o.YearStart != 0 && o.YearEnd != 0 && o.YearStart > o.YearEnd {
		return usagef("--year-start %d is after --year-end %d", o.YearStart, o.YearEnd)
	}
	if o.Input != "" && (o.YearStart != 0 || o.YearEnd != 0 || o.OAOnly) {
		return usagef("--year-start, --year-end and --oa-only filter a search; they do not apply to --input")
	}
	if _, err := report.ProgressEnabled(o.Progress, false, false, false); err != nil {
		return usagef("%v", err)
	}
	if o.DryRun && o.Revalidate {
		return usagef("--revalidate downloads changed files; it cannot be combined with --dry-run")
	}
	if o.NoResume && o.Revalidate {
		return usagef("--revalidate checks the files of earlier runs; it cannot be combined with --no-resume")
	}
	return nil
}

func newRunID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// userAgent names the tool, its version and the contact.
func userAgent(mailto string) string {
	ua := "contentdl/" + Version() + " (+https://github.com/docstokg/contentdl"
	if mailto != "" {
		ua += "; mailto:" + mailto
	}
	return ua + ")"
}

func policyConfig(cfg *config.Config) policy.Config {
	pc := policy.DefaultConfig()
	pc.MaxAttempts = cfg.Retry.MaxAttempts
	pc.BaseDelay, pc.MaxDelay, pc.MaxWait = cfg.Retry.BaseDelay, cfg.Retry.MaxDelay, cfg.Retry.MaxWait
	for _, op := range policy.Operations() {
		r := cfg.Retry.Op(op)
		pc.Ops[op] = policy.OpRule{MaxAttempts: r.MaxAttempts, Deadline: r.Deadline}
	}
	return pc
}

func learningConfig(cfg *config.Config) learning.Config {
	lc := learning.DefaultConfig()
	l := cfg.Learning
	lc.MaxReductionPct, lc.MinRPS = l.MaxReductionPct, l.MinRPS
	lc.Tiers = lc.Tiers[:0]
	for _, t := range l.Tiers {
		lc.Tiers = append(lc.Tiers, learning.Tier{Threshold: t.Threshold, StepPct: t.StepPct})
	}
	lc.Window, lc.WindowMinRequests, lc.Window429Share, lc.Beta = l.Window, l.WindowMinRequests, l.Window429Share, l.Beta
	lc.RecoveryInterval, lc.RecoveryStepPct = l.RecoveryInterval, l.RecoveryStepPct
	lc.ForgetAfter, lc.SaveEvery, lc.MaxWait = l.ForgetAfter, l.SaveEvery, cfg.Retry.MaxWait
	return lc
}

// runRun is one run, start to end: the parts come from the composition root
// (wiring.go); here they are started, run, saved and reported in order.
func runRun(ctx context.Context, st *State, o *RunOptions) (retErr error) {
	cfg := o.Config
	w, err := newRunWiring(ctx, st, o)
	if err != nil {
		return err
	}
	defer w.close()
	log := w.Log
	// The fleet's Redis is checked before anything is logged or fetched: a wrong
	// address or password is one line and exit 2.
	if _, err := w.Fleet(); err != nil {
		return err
	}
	pol := w.Policy()
	log.Info("retry policy: "+pol.Name(), "retry_policy", pol.Name(), "provider_learning", cfg.EnableProviderLearning)
	warnAtStart(log, cfg)
	tracker := w.Tracker()
	runner, err := w.Runner()
	if err != nil {
		return err
	}

	stopSaver := func() {}
	if tracker != nil {
		stopSaver = startSaver(ctx, w.Clock, tracker, cfg.Learning.SaveEvery, log)
	}
	var sum *download.Summary
	if w.Metrics != nil {
		defer func() {
			s := sum
			if errors.Is(retErr, download.ErrLocked) || errors.Is(retErr, download.ErrOutputNotWritable) {
				s = nil // no run happened; still record a failed run and its time
			}
			if err := w.Metrics.WriteFile(w.MetricsFile, s, retErr == nil); err != nil {
				log.Warn("metrics file not written", "path", w.MetricsFile, "err", err)
			}
		}()
	}
	sum, runErr := runner.Run(ctx)
	if runErr != nil {
		// The final error line is short; the whole of it is here.
		log.Debug("run error in full", "err", redact.Text(runErr.Error()))
		var fe *fetch.Error
		if errors.As(runErr, &fe) {
			log.Debug("failed request in full", "detail", fe.Detail())
		}
	}
	stopSaver()
	if w.Progress != nil {
		w.Progress.Close() // erase the bar before the summary is printed
	}
	if tracker != nil {
		saveLearning(ctx, log, tracker, cfg.ProviderLearningPath, w.learningOpenErr)
	}

	switch {
	case errors.Is(runErr, download.ErrOutputNotWritable), errors.Is(runErr, download.ErrLocked):
		return runErr
	case runErr != nil && ctx.Err() != nil:
		log.Warn("run interrupted; manifest and summary written", "works", sum.Works)
		if o.JSON {
			// A cron log of --json lines should hold interrupted runs too.
			_ = printSummary(st.Stdout, st.Stderr, sum, o) // best effort: the run is already ending with 130
		}
		return context.Canceled
	}
	if err := printSummary(st.Stdout, st.Stderr, sum, o); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if sum.Incomplete() {
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

// saveLearning saves what the run learned at its end. openErr is the learning file's
// problem at the start, already warned about: then a failed save is logged at debug.
func saveLearning(ctx context.Context, log *slog.Logger, tracker *learning.Tracker, path string, openErr error) {
	if err := tracker.Save(); err != nil {
		lvl := slog.LevelWarn
		if openErr != nil {
			lvl = slog.LevelDebug // warned about this path at the start already
		}
		log.Log(ctx, lvl, "provider learning state not saved; what was learned stays in memory only",
			"path", path, "err", err, "fix", learningFix(path))
		return
	}
	log.Info("provider learning state saved", "path", path)
}

// shardMetricsPath gives each shard its own metrics file: "kg.prom" becomes
// "kg.shard-1-of-3.prom", so shards that share a config (and node_exporter's textfile
// folder) never overwrite each other's. "" stays "".
func shardMetricsPath(path string, s shard.Shard) string {
	if path == "" || !s.Enabled() {
		return path
	}
	ext := filepath.Ext(path)
	return s.FileName(strings.TrimSuffix(path, ext), ext)
}

// learningFix tells the user how to make the learning file usable again.
func learningFix(path string) string {
	return fmt.Sprintf("make %s a file you can read and write (chmod u+rw, or remove what is in the way), "+
		"or set --provider-learning-path / provider_learning_path to another file", path)
}

func toHostLimit(h config.HostLimit) fetch.HostLimit {
	return fetch.HostLimit{RPS: h.RPS, Burst: h.Burst, Concurrency: h.Concurrency, Cooldown: h.Cooldown}
}

// startSaver saves the learning state at most every `every` of clk's time while the
// run goes on.
func startSaver(ctx context.Context, clk clock.Clock, t *learning.Tracker, every time.Duration, log *slog.Logger) func() {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	tick := clock.NewTicker(clk, every) // the first tick is every from now, not from when the goroutine runs
	go func() {
		defer close(stopped)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := t.SaveIfDue(); err != nil {
					log.Debug("periodic learning save failed", "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func printSummary(w, stderr io.Writer, s *download.Summary, o *RunOptions) error {
	if o.JSON {
		// One compact line, so `--json >> runs.jsonl` builds a JSON Lines file
		// (manifest.summary.json keeps the indented form).
		return json.NewEncoder(w).Encode(s)
	}
	if o.Quiet {
		return nil
	}
	if err := report.WriteSummaryTable(stderr, s); err != nil {
		return err
	}
	var parts []string
	for _, k := range []string{"pdf", "xml", "html", "skipped", "miss", "deferred", "dry_run"} {
		if n := s.ByClassification[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	counts := ""
	if len(parts) > 0 {
		counts = " (" + strings.Join(parts, " ") + ")"
	}
	_, err := fmt.Fprintf(w, "run %s: %d works%s in %.1fs, retry_policy=%s provider_learning=%t\n",
		s.RunID, s.Works, counts, s.DurationSeconds, s.RetryPolicy, s.ProviderLearning)
	return err
}
