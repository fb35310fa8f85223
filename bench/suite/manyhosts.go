package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/sim"
)

// Many-hosts part settings and targets (issue 10).
const (
	// ManyHostsWorkers is contentdl's --workers in the many-hosts part.
	ManyHostsWorkers = 8
	// ManyHostsTimeout stops a run that is still going (SIGTERM, as a user's ^C);
	// it is then reported unfinished, with what the hosts saw until then. It keeps
	// the part within a few minutes whatever the scheduler does.
	ManyHostsTimeout = 150 * time.Second
	// ManyHostsSettle is the start of a limited host's service excluded from its
	// served rate: the time a client may spend finding the host's capacity.
	ManyHostsSettle = 10 * time.Second
	// TargetManyWall: with both gates on, wall ≤ 1.15 × the ideal wall.
	TargetManyWall = 1.15
	// TargetManyServed: with both gates on, every limited host served at ≥ 0.9 ×
	// its capacity after its first ManyHostsSettle.
	TargetManyServed = 0.9
	// TargetUnlimitedSlack: in every mode, unlimited hosts done within 2 s of their
	// ideal.
	TargetUnlimitedSlack = 2 * time.Second
	// TargetReopenInFlight: in every mode, at most one request in flight to a host
	// from the end of its Retry-After window until that request's answer.
	TargetReopenInFlight = 1
)

// The many-hosts modes.
const (
	ManyGatesOff = "gates off"
	ManyGatesOn  = "both gates on"
)

// ManyHostsModes lists the many-hosts modes in run order.
var ManyHostsModes = []string{ManyGatesOff, ManyGatesOn}

// ManyHost is one publisher host of the many-hosts scenario and what a perfect
// client could do with it.
type ManyHost struct {
	Name string
	// Capacity is the hidden rate (rps); 0 is unlimited.
	Capacity float64
	Burst    int
	// Configured is the rate and burst contentdl is configured with for the host:
	// the scenario's configured block, else contentdl's rate_limits.default.
	Configured      float64
	ConfiguredBurst int
	// Concurrency is contentdl's cap on requests in flight to the host.
	Concurrency int
	Latency     time.Duration
	RetryAfter  sim.RetryAfterStyle
	// Pause is what one 429 costs a client that honours it: the host's
	// Retry-After (the time until its bucket holds a token, at least 1 s, unless
	// the scenario fixes it), or contentdl's rate_limits.default.cooldown for a
	// host that sends none. 0 when the host is configured at or below its capacity
	// (a client that keeps to its configuration never meets a 429).
	Pause time.Duration
	// Works is how many works the host serves (one request each when all goes well).
	Works int
}

// Limited reports whether the host has a hidden capacity.
func (h ManyHost) Limited() bool { return h.Capacity > 0 }

// Rate is the fastest pace (rps) at which a client that keeps to its
// configuration can be served: the least of the hidden capacity, the configured
// rate, and the concurrency cap over the latency.
func (h ManyHost) Rate() float64 {
	r := h.Configured
	if h.Limited() {
		r = math.Min(r, h.Capacity)
	}
	if h.Latency > 0 && h.Concurrency > 0 {
		r = math.Min(r, float64(h.Concurrency)/h.Latency.Seconds())
	}
	return r
}

// Ideal is the host's ideal time to finish: its works at Rate, plus one latency
// for the last answer, plus one Pause where the host is configured above its
// capacity (a client has to meet one 429 to learn it).
func (h ManyHost) Ideal() time.Duration {
	d := h.Latency + h.Pause
	if r := h.Rate(); r > 0 {
		d += time.Duration(float64(h.Works) / r * float64(time.Second))
	}
	return d
}

// ManyHostsRun is one mode: the process and what the simulator saw.
type ManyHostsRun struct {
	Mode string
	Proc Proc
	// TimedOut says the run was stopped after ManyHostsTimeout.
	TimedOut bool
	// Summary is contentdl's JSON summary (zero when it printed none).
	Summary download.Summary
	// Hosts are the publisher hosts' stats, in ManyHosts.Hosts order.
	Hosts []sim.HostStats
	// All are every host's stats, the APIs included.
	All []sim.HostStats
}

// ManyHosts is the many-hosts part.
type ManyHosts struct {
	Scenario string
	Works    int
	Workers  int
	// Grace is the scenario's politeness grace.
	Grace time.Duration
	Hosts []ManyHost
	Runs  []ManyHostsRun
	// Started and Elapsed time the part (its section can be refreshed on its own:
	// benchsuite --only manyhosts).
	Started time.Time
	Elapsed time.Duration
}

// IdealWall is the longest host ideal: a run cannot end before its slowest host.
func (m ManyHosts) IdealWall() time.Duration {
	var d time.Duration
	for _, h := range m.Hosts {
		d = max(d, h.Ideal())
	}
	return d
}

// HostFigures is what one host got in one run.
type HostFigures struct {
	// Requests, Accepted (200) and Throttled (429) count the host's requests.
	Requests, Accepted, Throttled int
	// Done says every work of the host was served (Accepted ≥ Works); Finish is
	// when the last accepted request was answered, from the start of the run.
	Done   bool
	Finish time.Duration
	// Served is the accepted rate after the host's first ManyHostsSettle ÷ its
	// Rate; ServedOK is false when the host was done before then.
	Served   float64
	ServedOK bool
	// InWindow counts requests inside a Retry-After window the host announced:
	// Strict all of them, BeyondGrace those past the politeness grace.
	InWindowStrict, InWindowBeyondGrace int64
	// Reopens is how many windows ended with a request after them; MaxInFlight
	// the most requests in flight in any of them (the stampede figure).
	Reopens, MaxInFlight int
}

// Share429 is the share of the host's requests that got 429.
func (f HostFigures) Share429() float64 {
	if f.Requests == 0 {
		return 0
	}
	return float64(f.Throttled) / float64(f.Requests)
}

// Figures computes host i's figures in run r.
func (m ManyHosts) Figures(r ManyHostsRun, i int) HostFigures {
	h, st := m.Hosts[i], r.Hosts[i]
	f := HostFigures{
		Requests:            int(st.Requests),
		Throttled:           int(st.ByStatus["429"]),
		InWindowStrict:      st.InRetryAfterWindow + st.InRetryAfterGrace,
		InWindowBeyondGrace: st.InRetryAfterWindow,
		Reopens:             len(st.Reopens),
		MaxInFlight:         st.MaxReopenInFlight,
	}
	first := time.Duration(-1)
	var accepted []time.Duration
	for _, rec := range st.Log {
		if first < 0 || rec.Arrived < first {
			first = rec.Arrived
		}
		if rec.Outcome == "200" {
			accepted = append(accepted, rec.Arrived)
			f.Finish = max(f.Finish, rec.Answered)
		}
	}
	f.Accepted = len(accepted)
	f.Done = f.Accepted >= h.Works
	f.Served, f.ServedOK = servedRate(accepted, first+ManyHostsSettle, h.Rate())
	return f
}

// servedRate is the accepted rate from `from` on ÷ rate: the n requests accepted
// at or after from, over the time from `from` to the last of them plus one token
// period (1 ÷ rate, the service the last one used). A client that sends exactly at
// rate from `from` on scores 1. ok is false when nothing was accepted after from.
func servedRate(accepted []time.Duration, from time.Duration, rate float64) (float64, bool) {
	if rate <= 0 {
		return 0, false
	}
	n, last := 0, time.Duration(-1)
	for _, a := range accepted {
		if a >= from {
			n++
			last = max(last, a)
		}
	}
	if n == 0 {
		return 0, false
	}
	span := (last - from).Seconds() + 1/rate
	return float64(n) / span / rate, true
}

// RunSummary is one run's figures over every host.
type RunSummary struct {
	Requests, Throttled int
	// InWindowStrict and InWindowBeyondGrace sum over every host, the APIs too.
	InWindowStrict, InWindowBeyondGrace int64
	// MaxInFlight is the stampede figure over every host; Stampedes counts
	// reopenings with more than one request in flight.
	MaxInFlight, Stampedes, Reopens int
}

// Share429 is the share of the publisher hosts' requests that got 429.
func (s RunSummary) Share429() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Throttled) / float64(s.Requests)
}

// Summarize sums a run over its hosts.
func (m ManyHosts) Summarize(r ManyHostsRun) RunSummary {
	var s RunSummary
	for i := range m.Hosts {
		f := m.Figures(r, i)
		s.Requests += f.Requests
		s.Throttled += f.Throttled
	}
	for _, h := range r.All {
		s.InWindowStrict += h.InRetryAfterWindow + h.InRetryAfterGrace
		s.InWindowBeyondGrace += h.InRetryAfterWindow
		s.MaxInFlight = max(s.MaxInFlight, h.MaxReopenInFlight)
		s.Stampedes += h.Stampedes
		s.Reopens += len(h.Reopens)
	}
	return s
}

// Checks evaluates the many-hosts targets.
func (m ManyHosts) Checks() []Check {
	var out []Check
	ideal := m.IdealWall()
	for _, r := range m.Runs {
		if r.Mode == ManyGatesOn {
			ratio := r.Proc.Wall.Seconds() / ideal.Seconds()
			measured := fmt.Sprintf("%.2f (%.1f s ÷ %.1f s)", ratio, r.Proc.Wall.Seconds(), ideal.Seconds())
			if r.TimedOut {
				measured = fmt.Sprintf("> %.2f (stopped after %s)", ratio, ManyHostsTimeout)
			}
			out = append(out, Check{Target: fmt.Sprintf("many hosts, %s: wall ≤ %.2f × ideal", r.Mode, TargetManyWall),
				Measured: measured, Met: !r.TimedOut && ratio <= TargetManyWall})
			worst, worstName, met, any := math.Inf(1), "", true, false
			for i, h := range m.Hosts {
				if !h.Limited() {
					continue
				}
				f := m.Figures(r, i)
				if !f.ServedOK {
					if !f.Done {
						met = false
						worst, worstName, any = 0, h.Name, true
					}
					continue
				}
				any = true
				if f.Served < worst {
					worst, worstName = f.Served, h.Name
				}
				if f.Served < TargetManyServed {
					met = false
				}
			}
			measured = "every limited host done within its first " + ManyHostsSettle.String()
			if any {
				measured = fmt.Sprintf("lowest %.2f × capacity (%s)", worst, worstName)
			}
			out = append(out, Check{Target: fmt.Sprintf("many hosts, %s: every limited host served ≥ %.1f × capacity after its first %s",
				r.Mode, TargetManyServed, ManyHostsSettle), Measured: measured, Met: met})
		}
		worst, worstName, met := time.Duration(math.MinInt64), "", true
		for i, h := range m.Hosts {
			if h.Limited() {
				continue
			}
			f := m.Figures(r, i)
			late := f.Finish - h.Ideal()
			if !f.Done {
				late = max(late, r.Proc.Wall-h.Ideal())
				met = false
			}
			if late > worst {
				worst, worstName = late, h.Name
			}
			if late > TargetUnlimitedSlack {
				met = false
			}
		}
		if worstName != "" {
			out = append(out, Check{Target: fmt.Sprintf("many hosts, %s: unlimited hosts done within %s of their ideal", r.Mode, TargetUnlimitedSlack),
				Measured: fmt.Sprintf("latest %+.1f s (%s)", worst.Seconds(), worstName), Met: met})
		}
		s := m.Summarize(r)
		out = append(out, Check{Target: fmt.Sprintf("many hosts, %s: 0 requests inside a Retry-After window beyond the %s grace", r.Mode, m.Grace),
			Measured: fmt.Sprintf("%d (%d strict)", s.InWindowBeyondGrace, s.InWindowStrict), Met: s.InWindowBeyondGrace == 0})
		out = append(out, Check{Target: fmt.Sprintf("many hosts, %s: no stampede (≤ %d request in flight when a window ends, until its answer)", r.Mode, TargetReopenInFlight),
			Measured: fmt.Sprintf("max %d; %d of %d reopenings", s.MaxInFlight, s.Stampedes, s.Reopens), Met: s.MaxInFlight <= TargetReopenInFlight})
	}
	return out
}

// loadManyHosts reads manyhosts.yaml and checks that it suits the part.
func loadManyHosts(path string) (sim.Scenario, error) {
	sc, err := sim.LoadScenario(path)
	if err != nil {
		return sim.Scenario{}, err
	}
	if len(sc.Hosts) < 2 {
		return sim.Scenario{}, fmt.Errorf("%s: want several publisher hosts", path)
	}
	if sc.Works.Mix != (sim.Mix{DirectPDF: sc.Works.Mix.DirectPDF}) {
		return sim.Scenario{}, fmt.Errorf("%s: every work must be a direct PDF (works.mix: {direct_pdf: 1})", path)
	}
	return sc, nil
}

// ManyHostsOf describes the scenario's publisher hosts as contentdl sees them with
// its defaults and the scenario's configured limits; works are the simulator's
// works (each names its host).
func ManyHostsOf(sc sim.Scenario, works []sim.Work) []ManyHost {
	def := config.Defaults().RateLimits.Default
	counts := map[string]int{}
	for _, w := range works {
		counts[w.Host]++
	}
	hosts := make([]ManyHost, len(sc.Hosts))
	for i, hs := range sc.Hosts {
		h := ManyHost{Name: hs.Name, Capacity: hs.Capacity.RPS, Burst: hs.Capacity.Burst,
			Configured: def.RPS, ConfiguredBurst: def.Burst, Concurrency: def.Concurrency,
			Latency: hs.Latency, RetryAfter: hs.RetryAfter, Works: counts[hs.Name]}
		if hs.Configured.RPS > 0 {
			h.Configured, h.ConfiguredBurst = hs.Configured.RPS, hs.Configured.Burst
		}
		if h.Limited() && (h.Configured > h.Capacity || h.ConfiguredBurst > h.Burst) {
			switch {
			case hs.RetryAfter == sim.RetryAfterNone:
				h.Pause = def.Cooldown
			case hs.RetryAfterSeconds > 0:
				h.Pause = time.Duration(hs.RetryAfterSeconds) * time.Second
			default:
				h.Pause = time.Duration(math.Max(1, math.Ceil(1/h.Capacity))) * time.Second
			}
		}
		hosts[i] = h
	}
	return hosts
}

// runManyHosts runs contentdl against manyhosts.yaml in every mode.
func (s *Suite) runManyHosts(ctx context.Context) (*ManyHosts, error) {
	sc, err := loadManyHosts(filepath.Join(s.opts.Scenarios, "manyhosts.yaml"))
	if err != nil {
		return nil, err
	}
	started := time.Now()
	sm, err := sim.Start(sc, sim.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sm.Close() }()
	sc = sm.Scenario()
	hosts := ManyHostsOf(sc, sm.Works())
	m := &ManyHosts{Scenario: sc.Name, Works: sc.Works.Count, Workers: ManyHostsWorkers, Grace: sc.PolitenessGrace,
		Hosts: hosts, Started: started}
	dir := filepath.Join(s.opts.WorkDir, "manyhosts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := newClientConfig(sm)
	cfg.OpenAlex.PerPage = discoveryPerPage
	cfg.Resolvers.Order = cfg.Resolvers.Order[:1] // every work is a direct PDF
	cfgPath := filepath.Join(dir, "contentdl.yaml")
	if err := cfg.write(cfgPath); err != nil {
		return nil, err
	}
	for i, mode := range ManyHostsModes {
		s.log.Info("many-hosts run", "mode", mode, "works", sc.Works.Count, "hosts", len(hosts),
			"ideal_wall", m.IdealWall().Round(100*time.Millisecond))
		r, err := s.manyHostsRun(ctx, sm, m, cfgPath, filepath.Join(dir, strconv.Itoa(i)), mode)
		if err != nil {
			return nil, fmt.Errorf("many hosts, %s: %w", mode, err)
		}
		sum := m.Summarize(r)
		s.log.Info("many-hosts run done", "mode", mode, "wall", r.Proc.Wall.Round(time.Millisecond), "timed_out", r.TimedOut,
			"saved", r.Summary.Saved, "requests", sum.Requests, "429s", sum.Throttled,
			"in_window_beyond_grace", sum.InWindowBeyondGrace, "max_reopen_in_flight", sum.MaxInFlight)
		m.Runs = append(m.Runs, r)
	}
	if err := sm.Close(); err != nil {
		return nil, err
	}
	m.Elapsed = time.Since(m.Started)
	return m, nil
}

func (s *Suite) manyHostsRun(ctx context.Context, sm *sim.Sim, m *ManyHosts, cfgPath, dir, mode string) (ManyHostsRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ManyHostsRun{}, err
	}
	args := []string{"run", "--topic", sm.Scenario().Topic, "--config", cfgPath, "--out", filepath.Join(dir, "out"),
		"--workers", strconv.Itoa(ManyHostsWorkers), "--json", "--progress", "never", "--log-level", "warn"}
	if mode == ManyGatesOn {
		args = append(args, "--enable-contextual-retry", "--enable-provider-learning",
			"--provider-learning-path", filepath.Join(dir, "provider-learning.json"))
	}
	errLog := filepath.Join(dir, "stderr.log")
	sm.Reset()
	runCtx, cancel := context.WithTimeout(ctx, ManyHostsTimeout)
	defer cancel()
	var stdout bytes.Buffer
	p, err := s.runProc(runCtx, &stdout, errLog, s.opts.Contentdl, args...)
	r := ManyHostsRun{Mode: mode, Proc: p}
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		r.TimedOut, r.Proc.Wall = true, ManyHostsTimeout
	default:
		return ManyHostsRun{}, err
	}
	if !r.TimedOut {
		if err := json.Unmarshal(stdout.Bytes(), &r.Summary); err != nil {
			return ManyHostsRun{}, fmt.Errorf("contentdl exited %d without a JSON summary: %w; stderr: %s", p.ExitCode, err, tail(errLog, 2000))
		}
	}
	st := sm.Stats()
	r.All = st.Hosts
	for _, h := range m.Hosts {
		hs, ok := st.Host(h.Name)
		if !ok {
			return ManyHostsRun{}, fmt.Errorf("no stats for host %s", h.Name)
		}
		if hs.LogTruncated {
			return ManyHostsRun{}, fmt.Errorf("host %s: the simulator's request log overflowed", h.Name)
		}
		r.Hosts = append(r.Hosts, hs)
	}
	return r, nil
}

// styleLabel names a Retry-After style for the tables.
func styleLabel(h ManyHost) string {
	switch h.RetryAfter {
	case sim.RetryAfterNone:
		return "none"
	case sim.RetryAfterHTTPDate:
		return "HTTP-date"
	}
	return "seconds"
}

// capacityLabel is the host's capacity in a table cell.
func capacityLabel(h ManyHost) string {
	if !h.Limited() {
		return "unlimited"
	}
	return fmt.Sprintf("%g rps, burst %d", h.Capacity, h.Burst)
}

// joinNames lists host names for prose.
func joinNames(hosts []ManyHost, keep func(ManyHost) bool) string {
	var names []string
	for _, h := range hosts {
		if keep(h) {
			names = append(names, h.Name)
		}
	}
	return strings.Join(names, ", ")
}
