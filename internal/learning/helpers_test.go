package learning

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recLimiter records what the tracker sets.
type recLimiter struct {
	mu     sync.Mutex
	limits []float64
	bursts []int
}

func (r *recLimiter) SetLimitAt(_ time.Time, l rate.Limit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limits = append(r.limits, float64(l))
}

func (r *recLimiter) SetBurstAt(_ time.Time, b int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bursts = append(r.bursts, b)
}

func (r *recLimiter) last() (float64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var l float64
	var b int
	if n := len(r.limits); n > 0 {
		l = r.limits[n-1]
	}
	if n := len(r.bursts); n > 0 {
		b = r.bursts[n-1]
	}
	return l, b
}

func newLogger(w *testkit.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noWindow returns the defaults with the windowed rule out of reach, to test the
// episode schedule alone.
func noWindow() Config {
	c := DefaultConfig()
	c.Window429Share = 0.999
	return c
}

// fixture is a tracker with one registered host on a fake clock.
type fixture struct {
	t   *testing.T
	clk *clock.Fake
	tr  *Tracker
	lim *recLimiter
}

const testHost = "pub.example"

func newFixture(t *testing.T, cfg Config, configured float64, burst int) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: clock.NewFake(t0), lim: &recLimiter{}}
	f.tr = NewTracker(cfg, f.clk, nil)
	f.tr.Register("web", testHost, configured, burst, f.lim)
	return f
}

func (f *fixture) observe(status int, h http.Header) Effect {
	return f.tr.Observe(Observation{Host: testHost, Status: status, Header: h})
}

func (f *fixture) ok(n int) {
	for i := 0; i < n; i++ {
		f.observe(http.StatusOK, nil)
	}
}

func (f *fixture) throttle(n int) {
	for i := 0; i < n; i++ {
		f.observe(http.StatusTooManyRequests, nil)
	}
}

func (f *fixture) behavior() ProviderBehavior {
	f.t.Helper()
	b, ok := f.tr.Behavior(testHost)
	if !ok {
		f.t.Fatal("host not tracked")
	}
	return b
}

func retryAfter(secs int) http.Header {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(secs))
	return h
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
