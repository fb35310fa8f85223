package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/sim"
)

// The learning modes, run in this order against one simulator so that the persisted
// mode starts from the state the empty mode saved.
const (
	ModeOff       = "off"       // learning off
	ModeEmpty     = "empty"     // learning on from an empty state file
	ModePersisted = "persisted" // learning on from the state the previous run saved
)

// Modes lists the learning modes in run order.
var Modes = []string{ModeOff, ModeEmpty, ModePersisted}

// Learning-part settings.
const (
	// LearningWorkers is contentdl's --workers in the learning part.
	LearningWorkers = 8
	// Settle is the start-up period excluded from the steady-state throughput.
	Settle = 20 * time.Second
	// sampleEvery is how often the suite reads contentdl's learning file.
	sampleEvery = 100 * time.Millisecond
	// learningSaveEvery is learning.save_every in the learning runs: the resolution
	// of the effective-limit curve.
	learningSaveEvery = 250 * time.Millisecond
)

// Variant is one version of the learning scenario.
type Variant struct {
	Name  string
	Title string
	// Headers is the rate-limit header style the limited host answers with.
	Headers sim.HeaderStyle
}

// Variants are the two ways a host can hide its capacity: not at all in its
// headers (contentdl learns from 429s alone), or advertised in IETF RateLimit
// headers (the scenario file as written).
var Variants = []Variant{
	{Name: "hidden", Title: "capacity hidden: 429 + Retry-After only", Headers: sim.HeadersNone},
	{Name: "advertised", Title: "capacity advertised (IETF RateLimit headers)", Headers: sim.HeadersIETF},
}

// LimitSample is contentdl's effective limit for the host at an offset from the
// start of the run, as read from its learning file.
type LimitSample struct {
	At  time.Duration
	RPS float64
}

// LearningRun is one mode of one variant.
type LearningRun struct {
	Variant string
	Mode    string
	// Capacity is the host's hidden capacity C (rps); Configured its configured rps.
	Capacity   float64
	Configured float64
	Works      int
	Proc       Proc
	Summary    download.Summary
	// Host is what the simulator saw on the limited host.
	Host sim.HostStats
	// InWindowAll sums the requests inside Retry-After windows over every host.
	InWindowAll int64
	// Limits is the effective limit over time (empty for ModeOff: the configured
	// rate throughout).
	Limits []LimitSample
	// FinalLimit is the effective limit in contentdl's summary at the end.
	FinalLimit float64
}

// Share429 is the share of the limited host's requests that got 429.
func (r LearningRun) Share429() float64 {
	if r.Host.Requests == 0 {
		return 0
	}
	return float64(r.Host.ByStatus["429"]) / float64(r.Host.Requests)
}

// Requests429 is the number of 429s the limited host sent.
func (r LearningRun) Requests429() int64 { return r.Host.ByStatus["429"] }

// WallRatio is wall time ÷ the ideal N ÷ C.
func (r LearningRun) WallRatio() float64 {
	return r.Proc.Wall.Seconds() / (float64(r.Works) / r.Capacity)
}

// SteadyThroughput is the accepted rate on the limited host after Settle, from the
// simulator's timeline: accepted requests that arrived after Settle divided by the
// time from Settle to the end of the last bucket holding an accepted request. ok is
// false when the run had finished before Settle.
func (r LearningRun) SteadyThroughput() (rps float64, ok bool) {
	return steadyRate(r.Host.Timeline, Settle)
}

// MeanLimitAfter is contentdl's effective limit averaged over time from Settle to
// the end of the run (see limitSeries). ok is false when the run ended before Settle.
func (r LearningRun) MeanLimitAfter() (rps float64, ok bool) {
	return meanAfter(r.limitSteps(), Settle.Seconds(), r.Proc.Wall.Seconds())
}

// meanAfter is the time-weighted mean of a step function (each point holds until the
// next) over [from, end].
func meanAfter(steps []point, from, end float64) (float64, bool) {
	if end <= from || len(steps) == 0 {
		return 0, false
	}
	var area float64
	for i, p := range steps {
		next := end
		if i+1 < len(steps) {
			next = min(steps[i+1].x, end)
		}
		lo := max(p.x, from)
		if next > lo {
			area += (next - lo) * p.y
		}
	}
	return area / (end - from), true
}

// point is one (seconds, rps) point of a series.
type point struct{ x, y float64 }

// limitSteps is the effective limit over the run as a step function: the configured
// rate throughout with learning off; with learning on, the rate contentdl starts with
// (its learning file's entry, or the configured rate while it has none), then every
// change it saved, held until the run ended.
func (r LearningRun) limitSteps() []point {
	end := r.Proc.Wall.Seconds()
	if r.Mode == ModeOff {
		return []point{{0, r.Configured}, {end, r.Configured}}
	}
	var steps []point
	if len(r.Limits) == 0 || r.Limits[0].At > 2*sampleEvery {
		steps = append(steps, point{0, r.Configured})
	}
	for _, s := range r.Limits {
		x := min(max(s.At.Seconds(), 0), end)
		if n := len(steps); n > 0 && steps[n-1].y == s.RPS {
			continue
		}
		if len(steps) == 0 {
			x = 0
		}
		steps = append(steps, point{x, s.RPS})
	}
	if n := len(steps); n > 0 && steps[n-1].x < end {
		steps = append(steps, point{end, steps[n-1].y})
	}
	return steps
}

func steadyRate(tl sim.Timeline, settle time.Duration) (float64, bool) {
	if tl.Bucket <= 0 {
		return 0, false
	}
	first := int(settle / tl.Bucket)
	last := -1
	n := 0
	for i := first; i < len(tl.Accepted); i++ {
		if tl.Accepted[i] > 0 {
			last = i
			n += tl.Accepted[i]
		}
	}
	if last < 0 {
		return 0, false
	}
	span := time.Duration(last+1)*tl.Bucket - settle
	return float64(n) / span.Seconds(), true
}

// perSecond sums a 100 ms timeline series into one-second bins.
func perSecond(v []int, bucket time.Duration) []float64 {
	if bucket <= 0 {
		return nil
	}
	per := int(time.Second / bucket)
	if per < 1 {
		per = 1
	}
	out := make([]float64, (len(v)+per-1)/per)
	for i, c := range v {
		out[i/per] += float64(c)
	}
	return out
}

// runLearning runs every variant in every mode.
func (s *Suite) runLearning(ctx context.Context) ([]LearningRun, error) {
	base, err := sim.LoadScenario(filepath.Join(s.opts.Scenarios, "learning.yaml"))
	if err != nil {
		return nil, err
	}
	if len(base.Hosts) != 1 || base.Hosts[0].Capacity.Unlimited() || base.Hosts[0].Configured.RPS <= 0 {
		return nil, fmt.Errorf("learning.yaml: want exactly one publisher host with a capacity and a configured rps")
	}
	var runs []LearningRun
	for _, v := range Variants {
		sc := base
		sc.Hosts = append([]sim.HostSpec{}, base.Hosts...)
		sc.Hosts[0].Headers = v.Headers
		vr, err := s.runVariant(ctx, v, sc)
		if err != nil {
			return nil, fmt.Errorf("learning %s: %w", v.Name, err)
		}
		runs = append(runs, vr...)
	}
	return runs, nil
}

func (s *Suite) runVariant(ctx context.Context, v Variant, sc sim.Scenario) ([]LearningRun, error) {
	sm, err := sim.Start(sc, sim.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sm.Close() }()
	dir := filepath.Join(s.opts.WorkDir, "learning-"+v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host := sc.Hosts[0]
	addr := sm.Info().Hosts[0].Addr
	cfg := newClientConfig(sm)
	cfg.setHost(hostLimit{Host: addr, RPS: host.Configured.RPS, Burst: host.Configured.Burst, Concurrency: LearningWorkers})
	cfg.Learning.SaveEvery = learningSaveEvery.String()
	cfgPath := filepath.Join(dir, "contentdl.yaml")
	if err := cfg.write(cfgPath); err != nil {
		return nil, err
	}
	state := filepath.Join(dir, "provider-learning.json")

	var runs []LearningRun
	for _, mode := range Modes {
		s.log.Info("learning run", "variant", v.Name, "mode", mode, "works", sc.Works.Count,
			"capacity_rps", host.Capacity.RPS, "configured_rps", host.Configured.RPS)
		if mode == ModeEmpty {
			if err := os.Remove(state); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		sm.Reset()
		t0 := sm.Stats().Start
		args := []string{"run", "--topic", sc.Topic, "--config", cfgPath, "--out", filepath.Join(dir, "out-"+mode),
			"--workers", strconv.Itoa(LearningWorkers), "--json", "--progress", "never", "--log-level", "warn"}
		if mode != ModeOff {
			args = append(args, "--enable-provider-learning", "--provider-learning-path", state)
		}
		var stdout bytes.Buffer
		stop := startSampler(state, "web@"+addr, t0, mode != ModeOff)
		p, err := s.runProc(ctx, &stdout, filepath.Join(dir, "stderr-"+mode+".log"), s.opts.Contentdl, args...)
		limits := stop()
		if err != nil {
			return nil, err
		}
		r := LearningRun{Variant: v.Name, Mode: mode, Capacity: host.Capacity.RPS, Configured: host.Configured.RPS,
			Works: sc.Works.Count, Proc: p, Limits: limits}
		if err := json.Unmarshal(stdout.Bytes(), &r.Summary); err != nil {
			return nil, fmt.Errorf("%s mode: contentdl exited %d without a JSON summary: %w; stderr: %s",
				mode, p.ExitCode, err, tail(filepath.Join(dir, "stderr-"+mode+".log"), 2000))
		}
		if p.ExitCode != 0 || r.Summary.Saved != sc.Works.Count {
			return nil, fmt.Errorf("%s mode: contentdl exited %d and saved %d of %d works; stderr: %s",
				mode, p.ExitCode, r.Summary.Saved, sc.Works.Count, tail(filepath.Join(dir, "stderr-"+mode+".log"), 2000))
		}
		st := sm.Stats()
		for _, h := range st.Hosts {
			r.InWindowAll += h.InRetryAfterWindow
			if h.Addr == addr {
				r.Host = h
			}
		}
		for _, h := range r.Summary.Hosts {
			if h.Host == addr {
				r.FinalLimit = h.EffectiveRPS
			}
		}
		s.log.Info("learning run done", "variant", v.Name, "mode", mode, "wall", p.Wall.Round(time.Millisecond),
			"requests", r.Host.Requests, "429s", r.Requests429(), "in_retry_after_window", r.Host.InRetryAfterWindow,
			"final_rps", r.FinalLimit)
		runs = append(runs, r)
	}
	return runs, nil
}

// startSampler reads contentdl's learning file every sampleEvery and records the
// effective limit of key at each read, until the returned stop is called. With
// enabled false it records nothing.
func startSampler(path, key string, t0 time.Time, enabled bool) (stop func() []LimitSample) {
	if !enabled {
		return func() []LimitSample { return nil }
	}
	var (
		mu      sync.Mutex
		samples []LimitSample
	)
	read := func() {
		f, err := learning.Load(path)
		if err != nil {
			return // a torn or locked read: the next tick reads again
		}
		b, ok := f.Providers[key]
		if !ok {
			return
		}
		mu.Lock()
		samples = append(samples, LimitSample{At: time.Since(t0), RPS: b.EffectiveRPS})
		mu.Unlock()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		read()
		for {
			select {
			case <-done:
				read()
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() []LimitSample {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}
