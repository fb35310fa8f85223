package learning

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
)

// TestRecoveryBackToNormal: after a reduction, sustained success brings the rate back
// to the configured limit step by step (no 429 ever again), the status going reducing →
// recovering → normal, and the reduction never grows on a success.
func TestRecoveryBackToNormal(t *testing.T) {
	f := newFixture(t, noWindow(), 10, 1)
	for i := 0; i < 3; i++ {
		f.throttle(10)
		f.ok(1)
	}
	start := f.behavior()
	if start.AppliedReductionPct != 80 || start.Status != StatusReducing {
		t.Fatalf("start: %v%% %s", start.AppliedReductionPct, start.Status)
	}
	// No last good rate below the configured one is known (the episodes fired at the
	// configured rate), so recovery is additive: hold one clean interval, then 10
	// points of the configured rate per interval.
	prev := start.AppliedReductionPct
	seen := map[Status]bool{}
	var normalAt time.Duration
	for elapsed := time.Second; elapsed <= 10*time.Minute; elapsed += time.Second {
		f.clk.Advance(time.Second)
		f.observe(http.StatusOK, nil)
		b := f.behavior()
		if b.AppliedReductionPct > prev {
			t.Fatalf("at %v the reduction grew on success: %v → %v", elapsed, prev, b.AppliedReductionPct)
		}
		prev = b.AppliedReductionPct
		seen[b.Status] = true
		switch elapsed {
		case 30 * time.Second:
			if b.AppliedReductionPct != 80 {
				t.Errorf("after one clean interval: %v%%, want still 80%% (a clean interval first)", b.AppliedReductionPct)
			}
		case 60 * time.Second:
			// 10 points per interval, applied in steps of at least 5 % of the rate.
			if b.AppliedReductionPct < 70 || b.AppliedReductionPct > 71 {
				t.Errorf("after two clean intervals: %v%%, want 70%% (to one 5%% step)", b.AppliedReductionPct)
			}
		}
		if b.Status == StatusNormal && normalAt == 0 {
			normalAt = elapsed
			if b.AppliedReductionPct != 0 || b.EffectiveRPS != 10 {
				t.Fatalf("normal at %v%% / %v rps", b.AppliedReductionPct, b.EffectiveRPS)
			}
		}
	}
	if !seen[StatusRecovering] || normalAt == 0 {
		t.Fatalf("statuses seen %v, normal at %v", seen, normalAt)
	}
	if normalAt < 4*time.Minute || normalAt > 5*time.Minute {
		t.Errorf("back to normal after %v, want 4.5 min (9 clean intervals of 30 s)", normalAt)
	}
	if l, b := f.lim.last(); l != 10 || b != 1 {
		t.Fatalf("limiter left at %v rps burst %d", l, b)
	}
}

// TestRecoveryCubicToLastGoodRate: after a windowed cut to Beta × the estimated
// capacity, the first clean interval climbs back to that estimate along a concave
// cubic: most of the way in the first third, flat on arrival.
func TestRecoveryCubicToLastGoodRate(t *testing.T) {
	f := newFixture(t, windowOnly(), 20, 1)
	f.paced(20, 10, 20)
	cut := f.behavior()
	w, r0 := cut.LastGoodRPS, cut.EffectiveRPS
	if !(r0 < w && w < 20) {
		t.Fatalf("want a cut below a last good rate below 20: %v < %v", r0, w)
	}
	rateAt := func(after time.Duration) float64 {
		f.clk.Advance(after)
		f.observe(http.StatusOK, nil)
		return f.behavior().EffectiveRPS
	}
	third := rateAt(10 * time.Second)
	// 1 − (2/3)³ ≈ 70 % of the gap, give or take the 5 % application step.
	if want := w - (w-r0)*8.0/27; third < want*0.95 || third > want+1e-9 {
		t.Errorf("after T/3: %v rps, want about %v", third, want)
	}
	full := rateAt(20 * time.Second)
	if !approx(full, w) {
		t.Errorf("after T: %v rps, want the last good rate %v", full, w)
	}
	// Beyond it the probe starts slowly: after another third of T it has gone up by
	// at most D/27 (D = w − r0), well under the 10-point additive cap.
	probe := rateAt(10 * time.Second)
	if probe > w+(w-r0)/27+1e-9 {
		t.Errorf("probe after T/3 beyond W: %v rps, want at most %v", probe, w+(w-r0)/27)
	}
	// And eventually it gets back to the configured rate.
	for i := 0; i < 40; i++ {
		rateAt(15 * time.Second)
	}
	if b := f.behavior(); b.Status != StatusNormal || b.EffectiveRPS != 20 {
		t.Fatalf("after 10 clean minutes: %s at %v rps", b.Status, b.EffectiveRPS)
	}
}

// TestSnapshotEvaluatesRecovery: no goroutine runs; reading the state applies the
// recovery due, to the limiter as well.
func TestSnapshotEvaluatesRecovery(t *testing.T) {
	f := newFixture(t, noWindow(), 10, 4)
	f.throttle(10)
	if l, b := f.lim.last(); l != 7 || b != 1 { // 4 × 0.7 × 0.5 rounded
		t.Fatalf("after the cut the limiter has %v rps burst %d", l, b)
	}
	f.clk.Advance(time.Hour)
	rows := f.tr.Snapshot()
	if len(rows) != 1 || rows[0].Status != StatusNormal || rows[0].EffectiveRPS != 10 {
		t.Fatalf("snapshot after an hour: %+v", rows)
	}
	if l, b := f.lim.last(); l != 10 || b != 4 {
		t.Fatalf("limiter not restored by Snapshot: %v rps burst %d", l, b)
	}
}

// grants counts the requests a real limiter lets through during one simulated second
// starting at from, asking every millisecond.
func grants(lim *rate.Limiter, from time.Time) int {
	n := 0
	for ms := 0; ms < 1000; ms++ {
		if lim.AllowN(from.Add(time.Duration(ms)*time.Millisecond), 1) {
			n++
		}
	}
	return n
}

// TestLimiterReallySlowedAndRestored drives a real *rate.Limiter through the tracker
// and counts what it grants through its explicit-time API.
func TestLimiterReallySlowedAndRestored(t *testing.T) {
	clk := clock.NewFake(t0)
	tr := NewTracker(noWindow(), clk, nil)
	lim := rate.NewLimiter(10, 1)
	tr.Register("web", testHost, 10, 1, lim)

	if n := grants(lim, clk.Now()); n != 10 {
		t.Fatalf("before: %d grants per second, want 10", n)
	}
	clk.Advance(time.Second)
	for i := 0; i < 3; i++ {
		for j := 0; j < 10; j++ {
			tr.Observe(Observation{Host: testHost, Status: 429})
		}
		tr.Observe(Observation{Host: testHost, Status: 200})
	}
	if n := grants(lim, clk.Now()); n != 2 {
		t.Fatalf("at 80%%: %d grants per second, want 2 (10 × 0.2, not truncated)", n)
	}
	clk.Advance(time.Second)
	for i := 0; i < 600; i++ {
		clk.Advance(time.Second)
		tr.Observe(Observation{Host: testHost, Status: 200})
	}
	if b, _ := tr.Behavior(testHost); b.Status != StatusNormal {
		t.Fatalf("not recovered after 10 min: %+v", b)
	}
	if n := grants(lim, clk.Now()); n != 10 {
		t.Fatalf("after recovery: %d grants per second, want 10", n)
	}
}
