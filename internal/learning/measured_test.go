package learning

import (
	"net/http"
	"testing"
	"time"
)

// TestMeasuredRuleLandsNearCapacity drives a token-bucket host (capacity 10 rps, burst
// 10, Retry-After 1 s) at a configured 25 rps, pacing requests at the tracker's
// effective rate and honouring Retry-After. Between two congestion signals the host's
// bucket is empty at both ends, so the rate it accepted in between is its refill rate:
// the measured rule lands just below it within a few seconds, after a handful of 429s,
// instead of walking down in fixed steps.
func TestMeasuredRuleLandsNearCapacity(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 25, 25)
	srv := &simServer{capacity: 10, burst: 10, retryAfter: time.Second}
	throttled := 0
	for f.clk.Now().Sub(t0) < 8*time.Second {
		b := f.behavior()
		f.clk.Advance(time.Duration(float64(time.Second) / b.EffectiveRPS))
		status, h := srv.handle(f.clk.Now())
		f.observe(status, h)
		if status == http.StatusTooManyRequests {
			throttled++
			ra, _ := parseRetryAfter(h.Get("Retry-After"), f.clk.Now())
			f.clk.Advance(ra)
		}
	}
	b := f.behavior()
	if b.EffectiveRPS < 8.5 || b.EffectiveRPS > 10.5 {
		t.Fatalf("after 8 s the rate is %v rps, want about the capacity (8.5–10.5): %+v", b.EffectiveRPS, b)
	}
	if throttled > 4 {
		t.Fatalf("%d 429s on the way down, want at most 4", throttled)
	}
	if b.LastGoodRPS < 9 || b.LastGoodRPS > 25 {
		t.Fatalf("last good rate %v, want between the measured rate and the rate that was pushed back", b.LastGoodRPS)
	}
}

// TestLightlyUsedHostToleratesA429: a host that accepted all we sent, at a rate well
// below the configured one, was not over-driven, so one 429 does not cut the rate:
// the measured rule compares what it took with what we sent, not with the limit.
func TestLightlyUsedHostToleratesA429(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 25, 25)
	f.paced(40, 0, 2) // 20 s at 2 rps, all accepted
	f.paced(1, 1, 2)  // then one 429
	f.paced(40, 0, 2) // and on as before
	f.paced(1, 1, 2)  // another, 20 s later (a share below the window's 5 %)
	if b := f.behavior(); b.AppliedReductionPct != 0 || b.Status != StatusNormal {
		t.Fatalf("a lightly used host was cut: %+v", b)
	}
}

// TestEpisodeDoesNotCompoundWithAnotherRule: an episode is worth its tier over the
// reduction in force when it began. When another rule already cut deeper during the
// same episode, the in-flight 429s that lengthen the episode add nothing.
func TestEpisodeDoesNotCompoundWithAnotherRule(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	f.paced(20, 10, 10) // the window fires on the second 429 (about 34 %)
	cut := f.behavior()
	if cut.AppliedReductionPct < 20 {
		t.Fatalf("window cut %v%%, want more than the 20 points of a 5-long episode", cut.AppliedReductionPct)
	}
	f.throttle(4) // in-flight answers: the episode is now 5 long, worth 0 + 20 points
	if b := f.behavior(); b.AppliedReductionPct != cut.AppliedReductionPct || b.Consecutive429s != 5 {
		t.Fatalf("the episode compounded with the window: %v%% → %v%% (consecutive %d)",
			cut.AppliedReductionPct, b.AppliedReductionPct, b.Consecutive429s)
	}
	f.throttle(5) // 10 long: 0 + 30 points, still below the window's cut
	if b := f.behavior(); b.AppliedReductionPct != cut.AppliedReductionPct {
		t.Fatalf("a 10-long episode moved the cut: %v%% → %v%%", cut.AppliedReductionPct, b.AppliedReductionPct)
	}
}

// TestColdStartBurst: a host with no learned state gets at most 200 ms worth of its
// configured rate as a burst (a slow start), until a clean RecoveryInterval at the
// configured rate shows what it accepts; then the configured burst returns. A host
// known from the file starts with its burst as learned.
func TestColdStartBurst(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 25, 25)
	if l, b := f.lim.last(); l != 25 || b != 5 {
		t.Fatalf("cold host: limiter %v rps burst %d, want 25 rps burst 5", l, b)
	}
	f.paced(25*29, 0, 25) // 29 clean seconds: still on probation
	if _, b := f.lim.last(); b != 5 {
		t.Fatalf("after 29 clean seconds: burst %d, want 5", b)
	}
	f.paced(25*2, 0, 25)
	if l, b := f.lim.last(); l != 25 || b != 25 {
		t.Fatalf("after a clean interval: limiter %v rps burst %d, want the configured 25 / 25", l, b)
	}
}

// TestRestedHostThatTakesOneRequestIsCut: a host with a one-token bucket and long
// windows (capacity 1 rps, Retry-After 10 s) shows a single pattern: after each window
// it takes one request and refuses the next. That one acceptance across a rested
// window is enough evidence: each such refusal cuts to β² of the rate sent, so the
// rate is at its floor after a few windows instead of after minutes (the measured rule
// alone waits for five acceptances, which this host never gives in a row).
func TestRestedHostThatTakesOneRequestIsCut(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 5, 2)
	srv := &simServer{capacity: 1, burst: 1, retryAfter: 10 * time.Second}
	windows := 0
	cut := 5.0 // the rate right after the last 429 (recovery climbs during the pause)
	// The floor is the 80 % cap of learning.max_reduction_pct: 1 rps of 5.
	for windows < 6 && cut > 1.05 {
		b := f.behavior()
		f.clk.Advance(time.Duration(float64(time.Second) / b.EffectiveRPS))
		status, h := srv.handle(f.clk.Now())
		f.observe(status, h)
		if status == http.StatusTooManyRequests {
			windows++
			cut = f.behavior().EffectiveRPS
			ra, _ := parseRetryAfter(h.Get("Retry-After"), f.clk.Now())
			f.clk.Advance(ra)
		}
	}
	if cut > 1.05 || windows > 4 {
		t.Fatalf("after %d windows the rate was cut to %v rps, want the 1 rps floor within 4", windows, cut)
	}
}
