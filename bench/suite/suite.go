// Package suite is contentdl's benchmark suite: it runs the contentdl binary against
// the simulator (internal/sim) and a standard tool, measures speed, politeness,
// learning and overhead side by side in one run, and renders bench/RESULTS.md and
// the learning chart. `make bench` drives it through bench/cmd/benchsuite.
//
// The parts:
//
//   - Learning: one host with a hidden capacity C and a configured limit of 2.5 × C,
//     8 workers, testdata/scenarios/learning.yaml. Modes: learning off, learning on
//     from an empty state file, learning on from the state the previous run saved;
//     each in two variants (capacity hidden, capacity advertised in headers).
//   - Throughput: testdata/scenarios/throughput.yaml (2,000 files of 256 KiB on an
//     unlimited host), contentdl at 16 workers versus curl --parallel-max 16, on disk
//     and on tmpfs, repeated and interleaved.
//   - Overhead: the same unlimited run with both feature gates on versus off; CPU time
//     (user + system) from the kernel's rusage.
//   - Microbenchmarks: `go test -bench` for the policy decision, a tracker update and
//     rendering provider-learning-status for 1,000 providers.
//   - Many hosts: testdata/scenarios/manyhosts.yaml (ten hosts with different hidden
//     capacities and Retry-After styles, a distant host, four unlimited ones), 8
//     workers, gates off and both gates on: wall and each host's finish against an
//     ideal, the rate each limited host is served at, 429s, requests inside
//     Retry-After windows and stampedes when a window ends. Options.Only runs it
//     alone (benchsuite --only manyhosts).
//   - Fleet: four contentdl processes (--shard I/4, learning on), each configured at
//     2.5 × one host's hidden capacity C, share a redis-server the suite starts on a
//     free loopback port: shared, without Redis (the negative control) and with Redis
//     killed and restarted mid-run. Requests per 5 s window after a 10 s warm-up
//     against 1.05 × C × 5, 429s, requests inside Retry-After windows, works saved
//     exactly once across the shards. Skipped with a note without redis-server;
//     Options.Only runs it alone (benchsuite --only fleet).
//
// This package (with gonum.org/v1/plot for the chart) is linked only into the bench
// tool, never into contentdl.
package suite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Options configure a suite run.
type Options struct {
	// Contentdl is the contentdl binary under test.
	Contentdl string
	// Rusage is the bench/cmd/rusage binary every child is measured through.
	Rusage string
	// Curl is the curl binary to compare with; "" skips the comparison.
	Curl string
	// Go is the go command for the microbenchmarks; "" skips them.
	Go string
	// ModuleDir is the module root (for go test and git).
	ModuleDir string
	// Scenarios is the folder holding learning.yaml and throughput.yaml.
	Scenarios string
	// WorkDir is a scratch folder on disk; FastDir an optional one on tmpfs.
	WorkDir string
	FastDir string
	// Reps is how many times each throughput comparison runs (default 3).
	Reps int
	// OverheadPairs is how many gates-off/gates-on pairs run (default 9).
	OverheadPairs int
	// BenchTime is go test's -benchtime (default 1s).
	BenchTime string
	// Only runs one part: "" runs them all, PartManyHosts the many-hosts part,
	// PartFleet the fleet part.
	Only string
	// Logger reports progress; nil discards.
	Logger *slog.Logger
}

// Results are every figure of one suite run.
type Results struct {
	Started time.Time
	Elapsed time.Duration
	Machine Machine
	// Floor is a process that does nothing (true) measured like every other: the
	// smallest peak RSS the measurement can report (see bench/cmd/rusage).
	Floor      Proc
	Learning   []LearningRun
	Throughput Throughput
	Overhead   Overhead
	Micro      []Micro
	// ManyHosts is nil when the part did not run.
	ManyHosts *ManyHosts
	// Fleet is nil when the part did not run, and says so (Skipped) when it could
	// not (no redis-server).
	Fleet *Fleet
}

// The parts Options.Only can run alone.
const (
	PartManyHosts = "manyhosts"
	PartFleet     = "fleet"
)

// OnlyParts lists the parts Options.Only accepts.
var OnlyParts = []string{PartManyHosts, PartFleet}

// Suite runs the benchmark parts.
type Suite struct {
	opts  Options
	log   *slog.Logger
	dests []Dest
}

// Run runs the whole suite. Every figure in the returned Results comes from this run.
func Run(ctx context.Context, opts Options) (*Results, error) {
	if opts.Contentdl == "" || opts.Rusage == "" || opts.Scenarios == "" || opts.WorkDir == "" {
		return nil, errors.New("suite: Contentdl, Rusage, Scenarios and WorkDir are required")
	}
	if opts.Only != "" && !slices.Contains(OnlyParts, opts.Only) {
		return nil, fmt.Errorf("suite: unknown part %q (want one of %q)", opts.Only, OnlyParts)
	}
	if opts.Reps <= 0 {
		opts.Reps = 3
	}
	if opts.OverheadPairs <= 0 {
		opts.OverheadPairs = 9
	}
	if opts.BenchTime == "" {
		opts.BenchTime = "1s"
	}
	s := &Suite{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.dests = []Dest{{Name: "disk", Dir: opts.WorkDir}}
	if opts.FastDir != "" {
		s.dests = append(s.dests, Dest{Name: "tmpfs", Dir: opts.FastDir})
	}

	res := &Results{Started: time.Now()}
	res.Machine = s.machine(ctx)
	var err error
	switch opts.Only {
	case PartManyHosts:
		if res.ManyHosts, err = s.runManyHosts(ctx); err != nil {
			return nil, err
		}
		res.Elapsed = time.Since(res.Started)
		return res, nil
	case PartFleet:
		if res.Fleet, err = s.runFleet(ctx); err != nil {
			return nil, err
		}
		if res.Fleet.Skipped != "" {
			// Asked for by name, the part cannot be skipped: fail, and leave the
			// results file as it was rather than replace its figures with a note.
			return nil, errors.New(res.Fleet.Skipped)
		}
		res.Elapsed = time.Since(res.Started)
		return res, nil
	}
	if res.Floor, err = s.measureFloor(ctx); err != nil {
		return nil, err
	}
	if res.Learning, err = s.runLearning(ctx); err != nil {
		return nil, err
	}
	if res.ManyHosts, err = s.runManyHosts(ctx); err != nil {
		return nil, err
	}
	if res.Fleet, err = s.runFleet(ctx); err != nil {
		return nil, err
	}
	w, err := s.startUnlimited(opts.WorkDir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.sim.Close() }() // Close is idempotent: the explicit call below reports errors
	if res.Throughput, err = s.runThroughput(ctx, w); err != nil {
		return nil, err
	}
	if res.Overhead, err = s.runOverhead(ctx, w); err != nil {
		return nil, err
	}
	if err := w.sim.Close(); err != nil {
		return nil, err
	}
	if opts.Go != "" {
		s.log.Info("microbenchmarks", "packages", MicroPackages, "benchtime", opts.BenchTime)
		if res.Micro, err = s.runMicro(ctx); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}

// measureFloor measures `true` through the rusage helper.
func (s *Suite) measureFloor(ctx context.Context) (Proc, error) {
	t, err := exec.LookPath("true")
	if err != nil {
		return Proc{}, fmt.Errorf("suite: %w", err)
	}
	p, err := s.runProc(ctx, nil, filepath.Join(s.opts.WorkDir, "floor.stderr.log"), t)
	if err != nil {
		return Proc{}, fmt.Errorf("suite: measuring the floor: %w", err)
	}
	return p, nil
}

// TmpfsDir returns a fresh folder on tmpfs (/dev/shm) for the tmpfs runs, or "" when
// there is none with room for need bytes. The caller removes it.
func TmpfsDir(need int64) string {
	const shm = "/dev/shm"
	if st, err := os.Stat(shm); err != nil || !st.IsDir() || !hasRoom(shm, need) {
		return ""
	}
	dir, err := os.MkdirTemp(shm, "contentdl-bench-")
	if err != nil {
		return ""
	}
	return dir
}
