package learning

import (
	"container/heap"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
)

// This file simulates the benchmark of the learning issue without sleeping: one host
// with a hidden token-bucket capacity C, a configured limit of 2.5 × C, 8 workers and
// 300 files, driven by a discrete-event loop on a fake clock. The workers behave like
// the fetch layer: a host gate honours Retry-After and Effect.CooldownUntil, a real
// *rate.Limiter paces them, requests waiting on the limiter re-reserve when the limit
// changes, and a 429 retries the same file.

// simServer is a token bucket that answers 429 when it is empty.
type simServer struct {
	capacity, burst float64
	tokens          float64
	last            time.Time
	retryAfter      time.Duration // 0: no Retry-After header
}

func (s *simServer) handle(t time.Time) (int, http.Header) {
	if s.last.IsZero() {
		s.tokens = s.burst
	} else {
		s.tokens = math.Min(s.burst, s.tokens+t.Sub(s.last).Seconds()*s.capacity)
	}
	s.last = t
	if s.tokens >= 1 {
		s.tokens--
		return http.StatusOK, nil
	}
	if s.retryAfter <= 0 {
		return http.StatusTooManyRequests, nil
	}
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(s.retryAfter.Seconds()))))
	return http.StatusTooManyRequests, h
}

// genLimiter wraps *rate.Limiter and counts the changes the tracker makes.
type genLimiter struct {
	*rate.Limiter
	gen int
}

var _ Limiter = (*genLimiter)(nil)

func (g *genLimiter) SetLimitAt(t time.Time, l rate.Limit) { g.gen++; g.Limiter.SetLimitAt(t, l) }
func (g *genLimiter) SetBurstAt(t time.Time, b int)        { g.gen++; g.Limiter.SetBurstAt(t, b) }

type simEvent struct {
	at     time.Time
	worker int
	seq    int
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type simParams struct {
	capacity    float64       // C, rps
	burst       float64       // the server's bucket size
	retryAfter  time.Duration // 0: the server sends no Retry-After
	workers     int
	files       int
	latency     time.Duration
	clientBurst int
	trace       func(format string, args ...any) // per-second timeline when set
}

type simResult struct {
	requests, throttled int
	elapsed             time.Duration
	after20             float64 // accepted rps after the first 20 s, ÷ C
	final               ProviderBehavior
	insidePause         int // requests sent inside an announced Retry-After window
}

func (r simResult) share() float64 { return float64(r.throttled) / float64(r.requests) }

func (r simResult) String() string {
	return fmt.Sprintf("requests=%d 429s=%d (%.2f%%) wall=%v after20=%.3f×C final=%.1f%% eff=%.2f status=%s",
		r.requests, r.throttled, 100*r.share(), r.elapsed.Round(time.Millisecond), r.after20,
		r.final.AppliedReductionPct, r.final.EffectiveRPS, r.final.Status)
}

// simulate runs one benchmark run. tr may carry state from an earlier run (Open).
func simulate(t testing.TB, p simParams, tr *Tracker, clk *clock.Fake) simResult {
	t.Helper()
	const host = "pub.example"
	configured := 2.5 * p.capacity
	lim := &genLimiter{Limiter: rate.NewLimiter(rate.Limit(configured), p.clientBurst)}
	tr.Register("web", host, configured, p.clientBurst, lim)
	srv := &simServer{capacity: p.capacity, burst: p.burst, retryAfter: p.retryAfter}

	start := clk.Now()
	type worker struct {
		state    int // 0 ready, 1 waiting on a reservation, 2 request in flight
		res      *rate.Reservation
		dueAt    time.Time
		evSeq    int // the worker's live event; older ones are stale
		status   int
		header   http.Header
		attempts int
		hasFile  bool
	}
	ws := make([]worker, p.workers)
	var q eventQueue
	seq := 0
	push := func(at time.Time, w int) {
		seq++
		ws[w].evSeq = seq
		heap.Push(&q, simEvent{at: at, worker: w, seq: seq})
	}
	for i := range ws {
		push(start, i)
	}
	var gate time.Time // the host gate: no request before it
	var announced time.Time
	// rewake models the fetch layer's wrapper: when the limit drops, the requests
	// waiting on the limiter give back their reservations (latest first) and queue again
	// under the new limit, so none slips through at the old rate. (A rise lets them keep
	// their place: they are early enough.)
	rewake := func(now time.Time) {
		var waiting []int
		for i := range ws {
			if ws[i].state == 1 {
				waiting = append(waiting, i)
			}
		}
		sort.Slice(waiting, func(a, b int) bool { return ws[waiting[a]].dueAt.Before(ws[waiting[b]].dueAt) })
		for k := len(waiting) - 1; k >= 0; k-- {
			ws[waiting[k]].res.CancelAt(now)
		}
		for _, i := range waiting {
			ws[i].state = 0
			push(now, i)
		}
	}
	next := 0
	done := 0
	var res simResult
	var accepted20 int
	var lastAt time.Time
	traceSec, traceSent, trace429 := 0, 0, 0
	for q.Len() > 0 {
		ev := heap.Pop(&q).(simEvent)
		w := &ws[ev.worker]
		if ev.seq != w.evSeq {
			continue
		}
		if d := ev.at.Sub(clk.Now()); d > 0 {
			clk.Advance(d)
		}
		now := clk.Now()
		switch w.state {
		case 0: // ready: take a file, pass the gate, reserve
			if !w.hasFile {
				if next >= p.files {
					continue
				}
				next++
				w.hasFile, w.attempts = true, 0
			}
			if now.Before(gate) {
				push(gate, ev.worker)
				continue
			}
			w.res = lim.ReserveN(now, 1)
			w.dueAt = now.Add(w.res.DelayFrom(now))
			w.state = 1
			push(w.dueAt, ev.worker)
		case 1: // reservation due: send, unless the gate closed meanwhile
			if now.Before(gate) {
				w.state = 0
				push(gate, ev.worker)
				continue
			}
			if now.Before(announced) {
				res.insidePause++
			}
			w.status, w.header = srv.handle(now)
			res.requests++
			if p.trace != nil {
				sec := int(now.Sub(start) / time.Second)
				for traceSec < sec {
					b, _ := tr.Behavior(host)
					p.trace("t=%3ds sent=%3d 429=%2d eff=%6.2f pct=%5.1f good=%6.2f %s", traceSec, traceSent, trace429, b.EffectiveRPS, b.AppliedReductionPct, b.LastGoodRPS, b.Status)
					traceSec++
					traceSent, trace429 = 0, 0
				}
				traceSent++
				if w.status == http.StatusTooManyRequests {
					trace429++
				}
			}
			if w.status == http.StatusTooManyRequests {
				res.throttled++
			} else if now.Sub(start) >= 20*time.Second {
				accepted20++
			}
			w.state = 2
			push(now.Add(p.latency), ev.worker)
		case 2: // response
			before := lim.Limit()
			e := tr.Observe(Observation{Host: host, Status: w.status, Header: w.header})
			if !e.CooldownUntil.IsZero() && e.CooldownUntil.After(gate) {
				gate = e.CooldownUntil
			}
			w.state = 0
			lastAt = now
			if w.status == http.StatusTooManyRequests {
				w.attempts++
				if ra, ok := parseRetryAfter(w.header.Get("Retry-After"), now); ok {
					if until := now.Add(ra); until.After(gate) {
						gate = until
						announced = until
					}
					push(now, ev.worker)
				} else {
					// No Retry-After: this request backs off on its own (1 s, 2 s, 4 s …).
					push(now.Add(time.Second<<min(w.attempts-1, 4)), ev.worker)
				}
			} else {
				w.hasFile = false
				done++
				push(now, ev.worker)
			}
			if lim.Limit() < before {
				rewake(now)
			}
		}
	}
	res.elapsed = lastAt.Sub(start)
	if tail := res.elapsed - 20*time.Second; tail > 0 {
		res.after20 = float64(accepted20) / tail.Seconds() / p.capacity
	}
	res.final, _ = tr.Behavior(host)
	if done != p.files {
		t.Fatalf("simulation finished %d of %d files", done, p.files)
	}
	return res
}

var simStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// simTrace returns t.Logf when LEARNING_SIM_TRACE is set, for a per-second timeline of
// the simulated runs (go test -run Simulated -v).
func simTrace(t *testing.T) func(string, ...any) {
	if os.Getenv("LEARNING_SIM_TRACE") == "" {
		return nil
	}
	return t.Logf
}

// TestBenchmarkTargetSimulated checks the target on the simulated benchmark:
// after the first 20 s the throughput is at least 0.9 × C with at most 3 % 429s, and a
// second run from the persisted state (five minutes later, as from cron) gets at most
// 1 % 429s. Several hidden capacities, bucket sizes and Retry-After lengths are tried,
// with 30 × C files (at least 300) so that every run lasts about 30 s.
func TestBenchmarkTargetSimulated(t *testing.T) {
	type scenario struct {
		simParams
		minAfter20 float64 // the first run's throughput after 20 s, ÷ C
	}
	for _, sc := range []scenario{
		{simParams{capacity: 10, burst: 10, retryAfter: time.Second}, 0.9},
		{simParams{capacity: 10, burst: 5, retryAfter: time.Second}, 0.9},
		{simParams{capacity: 4, burst: 4, retryAfter: time.Second}, 0.9},
		{simParams{capacity: 20, burst: 20, retryAfter: time.Second}, 0.9},
		{simParams{capacity: 2, burst: 2, retryAfter: time.Second}, 0.9},
		{simParams{capacity: 10, burst: 10, retryAfter: 2 * time.Second}, 0.9},
		// A host whose own burst is tiny: every over-shoot is punished with a pause
		// at once, so the accepted rate understates its capacity and the learner
		// may settle lower. The 429 targets still hold.
		{simParams{capacity: 10, burst: 2, retryAfter: time.Second}, 0.85},
	} {
		p := sc.simParams
		p.workers, p.files, p.latency, p.clientBurst = 8, max(300, int(30*p.capacity)), 50*time.Millisecond, 2
		p.trace = simTrace(t)
		t.Run(fmt.Sprintf("C=%v,burst=%v,retry-after=%v", p.capacity, p.burst, p.retryAfter), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "learning.json")
			clk := clock.NewFake(simStart)
			tr := NewTracker(DefaultConfig(), clk, nil)
			if err := tr.Open(path); err != nil {
				t.Fatal(err)
			}
			first := simulate(t, p, tr, clk)
			t.Logf("first run:  %v", first)
			if err := tr.Save(); err != nil {
				t.Fatal(err)
			}
			clk.Advance(5 * time.Minute)
			tr2 := NewTracker(DefaultConfig(), clk, nil)
			if err := tr2.Open(path); err != nil {
				t.Fatal(err)
			}
			second := simulate(t, p, tr2, clk)
			t.Logf("second run: %v", second)

			if first.after20 < sc.minAfter20 {
				t.Errorf("first run: throughput after 20 s = %.3f × C, want >= %v", first.after20, sc.minAfter20)
			}
			if first.share() > 0.03 {
				t.Errorf("first run: 429 share = %.2f%%, want <= 3%%", 100*first.share())
			}
			if second.share() > 0.01 {
				t.Errorf("second run: 429 share = %.2f%%, want <= 1%%", 100*second.share())
			}
			if first.insidePause+second.insidePause != 0 {
				t.Errorf("requests inside Retry-After windows: %d", first.insidePause+second.insidePause)
			}
			if first.final.AppliedReductionPct < 40 {
				t.Errorf("learned reduction %.1f%%, want about 60%% for a limit of 2.5 × C", first.final.AppliedReductionPct)
			}
		})
	}
}

// TestLearningOffBaseline documents what the same simulated host does without learning:
// the static limit keeps running into the capacity, so the 429 share is well above 3 %.
func TestLearningOffBaseline(t *testing.T) {
	sc := simParams{capacity: 10, burst: 10, retryAfter: time.Second, workers: 8, files: 300, latency: 50 * time.Millisecond, clientBurst: 2}
	clk := clock.NewFake(simStart)
	// A cap of 0 % makes every reduction impossible: learning off.
	cfg := DefaultConfig()
	cfg.MaxReductionPct = 0
	r := simulate(t, sc, NewTracker(cfg, clk, nil), clk)
	t.Logf("learning off: %v", r)
	if r.share() < 0.03 {
		t.Errorf("baseline 429 share %.2f%%: the simulated host is not over-driven", 100*r.share())
	}
}

// TestNoRetryAfterSimulated runs a host that sends no Retry-After: each throttled
// request backs off on its own while the other workers go on, so 429s come in long
// runs and the episode schedule acts beside the window. Learning must cut the 429 share
// to a fraction of the static limit's and settle near C.
func TestNoRetryAfterSimulated(t *testing.T) {
	sc := simParams{capacity: 10, burst: 10, workers: 8, files: 300, latency: 50 * time.Millisecond, clientBurst: 2, trace: simTrace(t)}
	clk := clock.NewFake(simStart)
	cfg := DefaultConfig()
	cfg.MaxReductionPct = 0
	off := simulate(t, sc, NewTracker(cfg, clk, nil), clk)
	t.Logf("learning off:   %v", off)
	clk = clock.NewFake(simStart)
	on := simulate(t, sc, NewTracker(DefaultConfig(), clk, nil), clk)
	t.Logf("learning on:    %v", on)
	if on.share() > off.share()/3 {
		t.Errorf("429 share %.2f%% with learning, %.2f%% without: want at most a third", 100*on.share(), 100*off.share())
	}
	if on.after20 < 0.85 {
		t.Errorf("throughput after 20 s = %.3f × C, want >= 0.85", on.after20)
	}
}
