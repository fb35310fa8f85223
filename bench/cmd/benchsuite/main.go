// Command benchsuite runs contentdl's benchmark suite (see package
// github.com/docstokg/contentdl/bench/suite) and writes bench/RESULTS.md,
// bench/learning.png, bench/manyhosts.png and bench/fleet.png. `make bench` builds
// contentdl and runs it from the module root:
//
//	benchsuite --contentdl bin/contentdl [--results bench/RESULTS.md] [--chart bench/learning.png]
//
// `make bench-manyhosts` runs the many-hosts part alone (--only manyhosts), and
// `make bench-fleet` the fleet part (--only fleet): each replaces its section of
// RESULTS.md and its chart, and leaves the rest as it was. The fleet part needs
// redis-server on PATH: without it `make bench` skips the part with a note, and
// --only fleet fails, leaving RESULTS.md and the chart as they were.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/docstokg/contentdl/bench/suite"
	"github.com/docstokg/contentdl/internal/fileperm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	contentdl, rusage, curl, goCmd string
	scenarios                      string
	results, chart, workDir        string
	manyChart, fleetChart, only    string
	reps, overheadPairs            int
	benchTime                      string
	noTmpfs, keep                  bool
}

// Main runs the suite and returns the exit code: 0 when it ran (whether or not every
// target was met; RESULTS.md says), 1 when it could not run, 2 for bad flags.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	o, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	if err := run(ctx, o, log); err != nil {
		log.Error("benchsuite: " + err.Error())
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, bool) {
	var o options
	fs := flag.NewFlagSet("benchsuite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.contentdl, "contentdl", "bin/contentdl", "contentdl `binary` under test")
	fs.StringVar(&o.rusage, "rusage", "", "bench/cmd/rusage `binary` to measure children with (default: built with --go into the scratch folder)")
	fs.StringVar(&o.curl, "curl", "", "curl `binary` to compare with (default: curl on PATH; \"none\" skips the comparison)")
	fs.StringVar(&o.goCmd, "go", "go", "go `command` for the microbenchmarks (\"none\" skips them)")
	fs.StringVar(&o.scenarios, "scenarios", "testdata/scenarios", "`folder` with learning.yaml, throughput.yaml and manyhosts.yaml")
	fs.StringVar(&o.results, "results", "bench/RESULTS.md", "results `file` to write")
	fs.StringVar(&o.chart, "chart", "bench/learning.png", "learning chart `file` to write (PNG)")
	fs.StringVar(&o.manyChart, "manyhosts-chart", "bench/manyhosts.png", "many-hosts chart `file` to write (PNG)")
	fs.StringVar(&o.fleetChart, "fleet-chart", "bench/fleet.png", "fleet chart `file` to write (PNG)")
	fs.StringVar(&o.only, "only", "", "run one `part` alone: "+strings.Join(suite.OnlyParts, " or ")+" (replaces its section of --results)")
	fs.StringVar(&o.workDir, "workdir", "", "scratch `folder` on disk (default: a new temporary folder, removed afterwards)")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of each throughput comparison")
	fs.IntVar(&o.overheadPairs, "overhead-pairs", 9, "gates-off/gates-on pairs in the overhead part")
	fs.StringVar(&o.benchTime, "benchtime", "1s", "go test -benchtime of the microbenchmarks")
	fs.BoolVar(&o.noTmpfs, "no-tmpfs", false, "skip the runs on tmpfs (/dev/shm)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch folders (logs, configs, learning files)")
	if err := fs.Parse(args); err != nil {
		return o, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchsuite: unexpected arguments %q\n", fs.Args())
		return o, false
	}
	if o.only != "" && !slices.Contains(suite.OnlyParts, o.only) {
		fmt.Fprintf(stderr, "benchsuite: --only %q: want %s\n", o.only, strings.Join(suite.OnlyParts, " or "))
		return o, false
	}
	return o, true
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	opts := suite.Options{Scenarios: o.scenarios, Reps: o.reps, OverheadPairs: o.overheadPairs,
		BenchTime: o.benchTime, Only: o.only, Logger: log}
	var err error
	if opts.ModuleDir, err = os.Getwd(); err != nil {
		return err
	}
	if opts.Contentdl, err = filepath.Abs(o.contentdl); err != nil {
		return err
	}
	if _, err := os.Stat(opts.Contentdl); err != nil {
		return fmt.Errorf("--contentdl: %w (run `make build` first)", err)
	}
	switch {
	case o.only != "" || o.curl == "none":
	case o.curl == "":
		if p, err := exec.LookPath("curl"); err == nil {
			opts.Curl = p
		} else {
			log.Warn("curl not found; the throughput comparison is skipped")
		}
	default:
		opts.Curl = o.curl
	}
	if o.goCmd != "none" {
		opts.Go = o.goCmd
	}

	opts.WorkDir = o.workDir
	if opts.WorkDir == "" {
		if opts.WorkDir, err = os.MkdirTemp("", "contentdl-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer func() { _ = os.RemoveAll(opts.WorkDir) }()
		}
	}
	if !o.noTmpfs && o.only == "" {
		// Two throughput outputs (contentdl's, then curl's) exist at most at once.
		if opts.FastDir = suite.TmpfsDir(2 << 30); opts.FastDir == "" {
			log.Warn("no tmpfs with 2 GiB free at /dev/shm; the tmpfs runs are skipped")
		} else if !o.keep {
			defer func() { _ = os.RemoveAll(opts.FastDir) }()
		}
	}
	if opts.Rusage, err = rusageHelper(ctx, o, opts.WorkDir); err != nil {
		return err
	}
	log.Info("benchsuite: starting", "contentdl", opts.Contentdl, "curl", opts.Curl, "workdir", opts.WorkDir, "tmpfs", opts.FastDir)

	res, err := suite.Run(ctx, opts)
	if err != nil {
		return err
	}
	if res.ManyHosts != nil {
		if err := writeChart(o.manyChart, func(w io.Writer) error { return suite.WriteManyHostsChart(w, res.ManyHosts) }); err != nil {
			return err
		}
	}
	if res.Fleet != nil && res.Fleet.Skipped == "" {
		if err := writeChart(o.fleetChart, func(w io.Writer) error { return suite.WriteFleetChart(w, res.Fleet) }); err != nil {
			return err
		}
	}
	charts := suite.Charts{Learning: relTo(o.results, o.chart), ManyHosts: relTo(o.results, o.manyChart),
		Fleet: relTo(o.results, o.fleetChart)}
	var md bytes.Buffer
	switch o.only {
	case suite.PartManyHosts, suite.PartFleet:
		old, err := os.ReadFile(o.results)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		var section bytes.Buffer
		if o.only == suite.PartManyHosts {
			if err := suite.WriteManyHosts(&section, res.ManyHosts, charts.ManyHosts, &res.Machine); err != nil {
				return err
			}
			md.Write(suite.SpliceManyHosts(old, section.Bytes()))
		} else {
			if err := suite.WriteFleet(&section, res.Fleet, charts.Fleet, &res.Machine); err != nil {
				return err
			}
			md.Write(suite.SpliceFleet(old, section.Bytes()))
		}
	default:
		if err := writeChart(o.chart, func(w io.Writer) error { return suite.WriteChart(w, res.Learning) }); err != nil {
			return err
		}
		if err := suite.WriteMarkdown(&md, res, charts); err != nil {
			return err
		}
	}
	if err := writeAtomic(o.results, md.Bytes()); err != nil {
		return err
	}
	missed := 0
	for _, c := range res.Checks() {
		if !c.Met {
			missed++
			log.Warn("target missed", "target", c.Target, "measured", c.Measured)
		}
	}
	log.Info("benchsuite: done", "results", o.results, "only", o.only, "elapsed", res.Elapsed.Round(1e9), "targets_missed", missed)
	return nil
}

// relTo is path relative to the folder of results, with forward slashes, for a
// link in results.
func relTo(results, path string) string {
	rel, err := filepath.Rel(filepath.Dir(results), path)
	if err != nil {
		rel = path
	}
	return filepath.ToSlash(rel)
}

// rusageHelper returns the --rusage binary, or builds bench/cmd/rusage into dir.
func rusageHelper(ctx context.Context, o options, dir string) (string, error) {
	if o.rusage != "" {
		return filepath.Abs(o.rusage)
	}
	if o.goCmd == "none" {
		return "", errors.New("--go none needs --rusage: the measuring helper cannot be built without go")
	}
	bin := filepath.Join(dir, "rusage")
	cmd := exec.CommandContext(ctx, o.goCmd, "build", "-o", bin, "./bench/cmd/rusage")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bench/cmd/rusage: %w: %s", err, out)
	}
	return bin, nil
}

// writeChart renders a chart and writes it atomically to path.
func writeChart(path string, draw func(io.Writer) error) error {
	var png bytes.Buffer
	if err := draw(&png); err != nil {
		return err
	}
	return writeAtomic(path, png.Bytes())
}

// writeAtomic writes a result file atomically (fileperm's one atomic writer).
func writeAtomic(path string, data []byte) error {
	return fileperm.WriteFile(path, data, fileperm.Shared)
}
