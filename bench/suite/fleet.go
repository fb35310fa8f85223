package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fleet/fleettest"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/shard"
	"github.com/docstokg/contentdl/internal/sim"
)

// Fleet part settings and targets (issue 12): the scenario of the fleet end-to-end
// tests (internal/fleet/fleete2e), a little larger for steadier figures.
const (
	// FleetMembers contentdl processes run at once, --shard I/FleetMembers each.
	FleetMembers = 4
	// FleetCapacity is the shared host's hidden capacity C (rps), FleetBurst its
	// bucket.
	FleetCapacity = 10.0
	FleetBurst    = 2
	// FleetConfigured is the rate every member is configured with for the host:
	// 2.5 × C each, so 10 × C for the fleet. FleetConcurrency is its concurrency cap.
	FleetConfigured  = 2.5 * FleetCapacity
	FleetConcurrency = 4
	// FleetWorks direct PDFs on the shared host; FleetWorkers per member.
	FleetWorks   = 400
	FleetWorkers = 8
	// FleetWindow is the window the bound holds for, after the first FleetWarmUp of
	// the host's traffic.
	FleetWindow = 5 * time.Second
	FleetWarmUp = 10 * time.Second
	// FleetBoundFactor × C × FleetWindow is the most requests a window may hold.
	FleetBoundFactor = 1.05
	// TargetFleet429 is the most 429s after the warm-up, as a share of the requests.
	TargetFleet429 = 0.01
	// In the fault run Redis is killed FleetRedisDownAt after the members start and
	// started again, empty, FleetRedisDownFor later.
	FleetRedisDownAt  = 14 * time.Second
	FleetRedisDownFor = 6 * time.Second
	// FleetTimeout stops a run that is still going (SIGTERM to every member); it is
	// then reported unfinished. A run takes 45 to 80 s on 2 cores; the three stay
	// within about 4 minutes even when one of them is stopped.
	FleetTimeout = 95 * time.Second
	// FleetGrace is the simulator's politeness grace.
	FleetGrace = 10 * time.Millisecond
	// FleetSkipNote is said on stderr and in RESULTS.md when the part cannot run.
	FleetSkipNote = "fleet part skipped: redis-server not found; " + fleettest.InstallHint
)

// FleetBound is the most requests a FleetWindow may hold: 1.05 × C × 5 s.
func FleetBound() float64 { return FleetBoundFactor * FleetCapacity * FleetWindow.Seconds() }

// The fleet runs.
const (
	FleetShared  = "shared"
	FleetNoRedis = "no redis"
	FleetFault   = "redis restarted"
)

// FleetModes lists the fleet runs in run order.
var FleetModes = []string{FleetShared, FleetNoRedis, FleetFault}

// fleetHost is the shared publisher host's name in the scenario.
const fleetHost = "pub"

// FleetMember is one process of a fleet run.
type FleetMember struct {
	// Shard is "I/N"; Mailto is its --mailto, which its User-Agent carries, so the
	// simulator's request log tells the members apart.
	Shard, Mailto string
	Proc          Proc
	// Saved is what its JSON summary says it saved (-1 when it printed none).
	Saved int
	// FellBack and CameBack say whether it logged the fallback to local limits and
	// the return to Redis.
	FellBack, CameBack bool
}

// FleetRun is one run of the fleet part: the members and what the shared host saw.
type FleetRun struct {
	Mode    string
	Members []FleetMember
	// TimedOut says the run was stopped after FleetTimeout.
	TimedOut bool
	// Wall is from the start of the members to the end of the last of them.
	Wall time.Duration
	// Host is the shared host's stats (its request log included).
	Host sim.HostStats
	// Works are the simulator's work ids; Saved counts each work's saves (a
	// manifest record classified pdf) across the shard manifests.
	Works []string
	Saved map[string]int
	// RedisDown and RedisUp are when Redis was killed and answered again, from the
	// start of the host's stats (zero when it was not stopped).
	RedisDown, RedisUp time.Duration
}

// Fleet is the fleet part.
type Fleet struct {
	// Skipped says why the part did not run ("" when it ran).
	Skipped string
	Runs    []FleetRun
	// Started and Elapsed time the part (its section can be refreshed on its own:
	// benchsuite --only fleet).
	Started time.Time
	Elapsed time.Duration
}

// MemberFigures is what one member sent to the shared host over the whole run.
type MemberFigures struct {
	Requests, Accepted, Throttled int
}

// FleetFigures are one run's figures.
type FleetFigures struct {
	// Windows are the requests per FleetWindow from FleetWarmUp after the host's
	// first request on (see fleetWindows); MaxWindow the largest.
	Windows   []int
	MaxWindow int
	// Busiest is the most requests in any FleetWindow of the whole run, warm-up
	// included, in 1 s steps; BusiestAt where that window starts (from the host's
	// first request).
	Busiest   int
	BusiestAt time.Duration
	// Requests and Throttled count the requests (and their 429s) after the warm-up;
	// Served is the rate the host accepted them at ÷ C: the accepted ones over the
	// time from the end of the warm-up to the last request (0 when there is none).
	Requests, Throttled int
	Served              float64
	// InWindow counts requests inside a Retry-After window beyond the grace, over
	// the whole run; InWindowStrict all of them.
	InWindow, InWindowStrict int64
	// PerMember is in FleetRun.Members order; Strangers counts requests whose
	// User-Agent names no member.
	PerMember []MemberFigures
	Strangers int
	// Once, Missing and Twice count the works saved exactly once, not at all, and
	// more than once across the shards.
	Once    int
	Missing []string
	Twice   []string
	// ExitCodes are the members' exit codes; AllExitZero says every one was 0.
	ExitCodes   []int
	AllExitZero bool
	// FellBack and CameBack count the members that logged the fallback and the return.
	FellBack, CameBack int
}

// Share429 is the share of the requests after the warm-up that got 429.
func (f FleetFigures) Share429() float64 {
	if f.Requests == 0 {
		return 0
	}
	return float64(f.Throttled) / float64(f.Requests)
}

// Figures computes run r's figures.
func (r FleetRun) Figures() FleetFigures {
	log := r.Host.Log
	f := FleetFigures{
		Windows:        fleetWindows(log, FleetWarmUp, FleetWindow),
		InWindow:       r.Host.InRetryAfterWindow,
		InWindowStrict: r.Host.InRetryAfterWindow + r.Host.InRetryAfterGrace,
		AllExitZero:    !r.TimedOut,
	}
	for _, n := range f.Windows {
		f.MaxWindow = max(f.MaxWindow, n)
	}
	f.Busiest, f.BusiestAt = busiestWindow(log, FleetWindow, time.Second)
	f.Requests, f.Throttled = afterWarmUp(log, FleetWarmUp)
	if n := len(log); n > 0 {
		if span := log[n-1].Arrived - (log[0].Arrived + FleetWarmUp); span > 0 {
			f.Served = float64(f.Requests-f.Throttled) / span.Seconds() / FleetCapacity
		}
	}
	mailtos := make([]string, len(r.Members))
	for i, m := range r.Members {
		mailtos[i] = m.Mailto
		f.ExitCodes = append(f.ExitCodes, m.Proc.ExitCode)
		if m.Proc.ExitCode != 0 {
			f.AllExitZero = false
		}
		if m.FellBack {
			f.FellBack++
		}
		if m.CameBack {
			f.CameBack++
		}
	}
	f.PerMember, f.Strangers = perMember(log, mailtos)
	f.Once, f.Missing, f.Twice = exactlyOnce(r.Works, r.Saved)
	return f
}

// fleetWindows counts the requests in consecutive windows of width window, the first
// starting warmUp after the first request. A last window that runs past the last
// request counts when at least half of it lies before that request (so the run's
// tail is judged, but not a sliver of it). The log is in arrival order.
func fleetWindows(log []sim.RequestRecord, warmUp, window time.Duration) []int {
	if len(log) == 0 || window <= 0 {
		return nil
	}
	first, last := log[0].Arrived, log[len(log)-1].Arrived
	var out []int
	for at := first + warmUp; at+window <= last+window/2; at += window {
		n := 0
		for _, r := range log {
			if r.Arrived >= at && r.Arrived < at+window {
				n++
			}
		}
		out = append(out, n)
	}
	return out
}

// busiestWindow is the most requests in any window of width window whose start is
// the first request plus a multiple of step, over the whole log, and that start
// (from the first request).
func busiestWindow(log []sim.RequestRecord, window, step time.Duration) (int, time.Duration) {
	if len(log) == 0 || step <= 0 {
		return 0, 0
	}
	first, last := log[0].Arrived, log[len(log)-1].Arrived
	best, bestAt := 0, time.Duration(0)
	for at := first; at <= last; at += step {
		n := 0
		for _, r := range log {
			if r.Arrived >= at && r.Arrived < at+window {
				n++
			}
		}
		if n > best {
			best, bestAt = n, at-first
		}
	}
	return best, bestAt
}

// afterWarmUp counts the requests that arrived warmUp or more after the first one,
// and the 429s among them.
func afterWarmUp(log []sim.RequestRecord, warmUp time.Duration) (requests, throttled int) {
	if len(log) == 0 {
		return 0, 0
	}
	from := log[0].Arrived + warmUp
	for _, r := range log {
		if r.Arrived < from {
			continue
		}
		requests++
		if r.Outcome == "429" {
			throttled++
		}
	}
	return requests, throttled
}

// memberOf is the index of the member whose mailto the User-Agent client names, or
// -1. contentdl's User-Agent ends "; mailto:ADDRESS)".
func memberOf(client string, mailtos []string) int {
	for i, m := range mailtos {
		if strings.Contains(client, "mailto:"+m+")") {
			return i
		}
	}
	return -1
}

// perMember counts each member's requests, accepted (any answer but 429) and 429s;
// strangers are requests whose User-Agent names no member.
func perMember(log []sim.RequestRecord, mailtos []string) (per []MemberFigures, strangers int) {
	per = make([]MemberFigures, len(mailtos))
	for _, r := range log {
		i := memberOf(r.Client, mailtos)
		if i < 0 {
			strangers++
			continue
		}
		per[i].Requests++
		if r.Outcome == "429" {
			per[i].Throttled++
		} else {
			per[i].Accepted++
		}
	}
	return per, strangers
}

// perSecondByMember counts each member's accepted requests and 429s per second of
// arrival, from the start of the stats (acc[i][s] is member i in second s).
func perSecondByMember(log []sim.RequestRecord, mailtos []string) (acc, thr [][]int) {
	secs := 0
	if len(log) > 0 {
		secs = int(log[len(log)-1].Arrived/time.Second) + 1
	}
	acc, thr = make([][]int, len(mailtos)), make([][]int, len(mailtos))
	for i := range mailtos {
		acc[i], thr[i] = make([]int, secs), make([]int, secs)
	}
	for _, r := range log {
		i := memberOf(r.Client, mailtos)
		if i < 0 || r.Arrived < 0 {
			continue
		}
		s := int(r.Arrived / time.Second)
		if r.Outcome == "429" {
			thr[i][s]++
		} else {
			acc[i][s]++
		}
	}
	return acc, thr
}

// exactlyOnce sorts works by how often saved says each was saved: once, missing
// (never) or twice (more than once). missing and twice are sorted.
func exactlyOnce(works []string, saved map[string]int) (once int, missing, twice []string) {
	for _, w := range works {
		switch saved[w] {
		case 0:
			missing = append(missing, w)
		case 1:
			once++
		default:
			twice = append(twice, w)
		}
	}
	slices.Sort(missing)
	slices.Sort(twice)
	return once, missing, twice
}

// readSaved counts each work's saves across the manifests of shards 1..n in out: a
// manifest record classified pdf is a save (the scenario's works are all PDFs). A
// shard without a manifest saved nothing.
func readSaved(out string, n int) (map[string]int, error) {
	saved := map[string]int{}
	for i := 1; i <= n; i++ {
		path := filepath.Join(out, download.ManifestName(shard.Shard{I: i, N: n}))
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = manifest.Read(f, nil, func(r *manifest.Record) error {
			if r.RecordType == manifest.TypeManifest && r.Classification == manifest.ClassPDF {
				saved[r.WorkID]++
			}
			return nil
		})
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return saved, nil
}

// Checks evaluates the fleet targets. A skipped part has none.
func (f *Fleet) Checks() []Check {
	var out []Check
	bound := FleetBound()
	boundLabel := fmt.Sprintf("%g × C × %s = %.1f", FleetBoundFactor, FleetWindow, bound)
	for _, r := range f.Runs {
		g := r.Figures()
		windows := fmt.Sprintf("max %d in %d windows", g.MaxWindow, len(g.Windows))
		if len(g.Windows) == 0 {
			windows = "no window after the warm-up (run too short)"
		}
		keepsBound := Check{Target: fmt.Sprintf("fleet, %s: requests in every %s window after a %s warm-up ≤ %s", r.Mode, FleetWindow, FleetWarmUp, boundLabel),
			Measured: windows, Met: len(g.Windows) > 0 && float64(g.MaxWindow) <= bound}
		once := Check{Target: fmt.Sprintf("fleet, %s: every work saved exactly once across the shards", r.Mode),
			Measured: fmt.Sprintf("%d of %d once, %d missing, %d more than once", g.Once, len(r.Works), len(g.Missing), len(g.Twice)),
			Met:      len(r.Works) > 0 && g.Once == len(r.Works)}
		switch r.Mode {
		case FleetShared:
			out = append(out, keepsBound,
				Check{Target: fmt.Sprintf("fleet, %s: 429s after the warm-up ≤ %s", r.Mode, pct(TargetFleet429)),
					Measured: fmt.Sprintf("%s (%d of %d)", pct(g.Share429()), g.Throttled, g.Requests),
					Met:      g.Requests > 0 && g.Share429() <= TargetFleet429},
				Check{Target: fmt.Sprintf("fleet, %s: 0 requests inside a Retry-After window beyond the %s grace", r.Mode, FleetGrace),
					Measured: fmt.Sprintf("%d (%d strict)", g.InWindow, g.InWindowStrict), Met: g.InWindow == 0},
				once)
		case FleetNoRedis:
			out = append(out, Check{Target: fmt.Sprintf("fleet, %s (negative control): the busiest %s window breaks the bound %.1f", r.Mode, FleetWindow, bound),
				Measured: fmt.Sprintf("%d (at %.0f s); max after the warm-up %d", g.Busiest, g.BusiestAt.Seconds(), g.MaxWindow),
				Met:      float64(g.Busiest) > bound})
		case FleetFault:
			codes := fmt.Sprint(g.ExitCodes)
			if r.TimedOut {
				codes += fmt.Sprintf(" (stopped after %s)", FleetTimeout)
			}
			out = append(out, keepsBound,
				Check{Target: fmt.Sprintf("fleet, %s: every process exits 0", r.Mode), Measured: codes, Met: g.AllExitZero},
				once)
		}
	}
	return out
}

// fleetScenario is the simulator's scenario for one fleet run: FleetWorks direct
// PDFs on one publisher host with the hidden capacity C, answering over-capacity
// requests with 429 and Retry-After in seconds (until its bucket holds a token).
func fleetScenario() sim.Scenario {
	return sim.Scenario{
		Name: "fleet", Seed: 12, Topic: "fleet coordination",
		Works:           sim.WorksSpec{Count: FleetWorks, Mix: sim.Mix{DirectPDF: 1}},
		PDFSize:         sim.MinPDFSize,
		PolitenessGrace: FleetGrace,
		Hosts: []sim.HostSpec{{Name: fleetHost, ServiceSpec: sim.ServiceSpec{
			Capacity: sim.Capacity{RPS: FleetCapacity, Burst: FleetBurst}, RetryAfter: sim.RetryAfterSeconds}}},
	}
}

// runFleet runs the three fleet runs. Without redis-server the part is skipped with
// a note (the caller decides whether that is an error).
func (s *Suite) runFleet(ctx context.Context) (*Fleet, error) {
	f := &Fleet{Started: time.Now()}
	if _, err := fleettest.Lookup(); err != nil {
		s.log.Warn(FleetSkipNote)
		f.Skipped = FleetSkipNote
		return f, nil
	}
	dir := filepath.Join(s.opts.WorkDir, "fleet")
	for i, mode := range FleetModes {
		s.log.Info("fleet run", "mode", mode, "members", FleetMembers, "works", FleetWorks, "capacity", FleetCapacity,
			"configured_each", FleetConfigured)
		r, err := s.fleetRun(ctx, filepath.Join(dir, strconv.Itoa(i)), mode)
		if err != nil {
			return nil, fmt.Errorf("fleet, %s: %w", mode, err)
		}
		g := r.Figures()
		s.log.Info("fleet run done", "mode", mode, "wall", r.Wall.Round(time.Millisecond), "timed_out", r.TimedOut,
			"exit_codes", fmt.Sprint(g.ExitCodes), "max_window", g.MaxWindow, "busiest_window", g.Busiest, "bound", FleetBound(),
			"429_after_warmup", g.Throttled, "requests_after_warmup", g.Requests, "in_window", g.InWindow,
			"saved_once", g.Once, "missing", len(g.Missing), "twice", len(g.Twice))
		f.Runs = append(f.Runs, r)
	}
	f.Elapsed = time.Since(f.Started)
	return f, nil
}

// fleetRun runs FleetMembers contentdl processes, shard I/FleetMembers each, into one
// OUT against a fresh simulator; with Redis (every mode but FleetNoRedis) they share
// it, and in FleetFault it is killed and restarted in the middle of the run.
func (s *Suite) fleetRun(ctx context.Context, dir, mode string) (FleetRun, error) {
	r := FleetRun{Mode: mode}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	sm, err := sim.Start(fleetScenario(), sim.Options{})
	if err != nil {
		return r, err
	}
	defer func() { _ = sm.Close() }()
	for _, w := range sm.Works() {
		r.Works = append(r.Works, w.ID)
	}
	cfg := newClientConfig(sm)
	cfg.OpenAlex.PerPage = discoveryPerPage
	cfg.Resolvers.Order = cfg.Resolvers.Order[:1] // every work is a direct PDF
	cfg.setHost(hostLimit{Host: strings.TrimPrefix(sm.HostURLByName(fleetHost), "http://"), RPS: FleetConfigured,
		Burst: FleetBurst, Concurrency: FleetConcurrency})
	cfgPath := filepath.Join(dir, "contentdl.yaml")
	if err := cfg.write(cfgPath); err != nil {
		return r, err
	}
	var redis *fleettest.Server
	if mode != FleetNoRedis {
		rdir := filepath.Join(dir, "redis")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return r, err
		}
		if redis, err = fleettest.StartServer(rdir); err != nil {
			return r, err
		}
		defer redis.Stop()
	}
	out := filepath.Join(dir, "out")
	r.Members = make([]FleetMember, FleetMembers)
	stdouts := make([]bytes.Buffer, FleetMembers)
	errs := make([]error, FleetMembers)
	runCtx, cancel := context.WithTimeout(ctx, FleetTimeout)
	defer cancel()
	sm.Reset() // the stats start with the members
	statsStart := sm.Stats().Start
	started := time.Now()
	var wg sync.WaitGroup
	for i := range FleetMembers {
		m := &r.Members[i]
		m.Shard, m.Mailto, m.Saved = fmt.Sprintf("%d/%d", i+1, FleetMembers), fmt.Sprintf("fleet-member-%d@example.org", i+1), -1
		args := []string{"run", "--topic", sm.Scenario().Topic, "--config", cfgPath, "--out", out,
			"--shard", m.Shard, "--workers", strconv.Itoa(FleetWorkers), "--mailto", m.Mailto,
			"--enable-provider-learning", "--enable-contextual-retry",
			"--provider-learning-path", filepath.Join(dir, fmt.Sprintf("provider-learning-%d.json", i+1)),
			"--json", "--progress", "never", "--log-level", "info"}
		if redis != nil {
			args = append(args, "--redis", redis.URL())
		}
		errLog := filepath.Join(dir, fmt.Sprintf("member-%d.stderr.log", i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Proc, errs[i] = s.runProc(runCtx, &stdouts[i], errLog, s.opts.Contentdl, args...)
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	var faultErr error
	if mode == FleetFault {
		faultErr = s.stopRedis(runCtx, redis, started, statsStart, allDone, &r)
		if faultErr != nil {
			cancel()
		}
	}
	<-allDone
	r.Wall = time.Since(started)
	if faultErr != nil {
		return r, faultErr
	}
	for i := range r.Members {
		m := &r.Members[i]
		errLog := filepath.Join(dir, fmt.Sprintf("member-%d.stderr.log", i+1))
		if log, err := os.ReadFile(errLog); err == nil {
			m.FellBack = bytes.Contains(log, []byte("fleet: redis unreachable"))
			m.CameBack = bytes.Contains(log, []byte("fleet: redis is back"))
		}
		switch err := errs[i]; {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			r.TimedOut, m.Proc.ExitCode = true, -1
			continue
		default:
			return r, fmt.Errorf("member %s: %w", m.Shard, err)
		}
		var sum download.Summary
		if err := json.Unmarshal(stdouts[i].Bytes(), &sum); err == nil {
			m.Saved = sum.Saved
		} else {
			s.log.Warn("fleet member printed no JSON summary", "mode", mode, "shard", m.Shard, "exit", m.Proc.ExitCode,
				"stderr", tail(errLog, 1500))
		}
	}
	st := sm.Stats()
	h, ok := st.Host(fleetHost)
	if !ok {
		return r, fmt.Errorf("no stats for host %s", fleetHost)
	}
	if h.LogTruncated {
		return r, fmt.Errorf("host %s: the simulator's request log overflowed", fleetHost)
	}
	r.Host = h
	if r.Saved, err = readSaved(out, FleetMembers); err != nil {
		return r, err
	}
	return r, sm.Close()
}

// stopRedis kills redis FleetRedisDownAt after started and starts it again
// FleetRedisDownFor later, unless the members are all done first (or ctx ends),
// and records when, from the simulator's statsStart.
func (s *Suite) stopRedis(ctx context.Context, redis *fleettest.Server, started, statsStart time.Time, done <-chan struct{}, r *FleetRun) error {
	wait := func(until time.Time) bool {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-done:
		case <-ctx.Done():
		}
		return false
	}
	if !wait(started.Add(FleetRedisDownAt)) {
		return nil
	}
	redis.Stop()
	r.RedisDown = time.Since(statsStart)
	s.log.Info("fleet: redis-server killed", "at", time.Since(started).Round(time.Millisecond))
	if !wait(started.Add(FleetRedisDownAt + FleetRedisDownFor)) {
		// The members ended while Redis was down: it stays down (the run is over).
		r.RedisUp = time.Since(statsStart)
		return nil
	}
	if err := redis.Restart(); err != nil {
		return fmt.Errorf("restarting redis-server: %w", err)
	}
	r.RedisUp = time.Since(statsStart)
	s.log.Info("fleet: redis-server started again, empty", "at", time.Since(started).Round(time.Millisecond))
	return nil
}
