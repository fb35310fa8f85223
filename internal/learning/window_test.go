package learning

import (
	"math"
	"net/http"
	"testing"
	"time"
)

// windowOnly returns the defaults with the episode schedule out of reach.
func windowOnly() Config {
	c := DefaultConfig()
	c.Tiers = []Tier{{Threshold: 1000, StepPct: 10}}
	return c
}

// paced sends n responses 1/rps apart, every k-th one a 429.
func (f *fixture) paced(n, every int, rps float64) {
	for i := 1; i <= n; i++ {
		f.clk.Advance(time.Duration(float64(time.Second) / rps))
		if every > 0 && i%every == 0 {
			f.observe(http.StatusTooManyRequests, nil)
		} else {
			f.observe(http.StatusOK, nil)
		}
	}
}

// TestWindowedTriggerCatchesSporadic429s: a host that answers 429 now and then, with
// successes between, never builds an episode of 3, so the seed's rule alone would never
// react. A 10 % share over the window reduces the rate.
func TestWindowedTriggerCatchesSporadic429s(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	f.paced(10, 10, 10) // one 429 in ten: an anecdote, tolerated
	if b := f.behavior(); b.AppliedReductionPct != 0 {
		t.Fatalf("one 429 reduced the rate to %v%%", b.AppliedReductionPct)
	}
	f.paced(10, 10, 10) // a second one: the share (10 %) is above 2 %
	b := f.behavior()
	if b.AppliedReductionPct <= 0 || b.Status != StatusReducing {
		t.Fatalf("sporadic 429s did not reduce: %+v", b)
	}
	if b.Consecutive429s > 1 {
		t.Fatalf("consecutive %d: the episode rule was not what fired", b.Consecutive429s)
	}
	// The host accepted 18 of 20 requests sent at 10 rps over about 2 s: the capacity
	// estimate is the geometric mean of ~9 accepted and 10 sent, and the new rate is
	// Beta times it.
	if b.EffectiveRPS < 0.7*9 || b.EffectiveRPS > 0.7*10 {
		t.Fatalf("effective %v rps, want between β×9 and β×10", b.EffectiveRPS)
	}
	if b.LastGoodRPS < 9 || b.LastGoodRPS > 10 {
		t.Fatalf("last good rate %v, want the capacity estimate between 9 and 10", b.LastGoodRPS)
	}
}

func TestWindowedTriggerToleratesALowShare(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	f.paced(2000, 100, 10) // 1 % of 429s, spread out: below the 2 % threshold
	b := f.behavior()
	if b.AppliedReductionPct != 0 || b.Total429s != 20 {
		t.Fatalf("a 1%% share changed the rate: %+v", b)
	}
}

// TestWindowMeasuresAcceptedRate: when the host accepts far less than we send, the
// drop goes well below Beta × the sending rate, but never below Beta² × it at once.
func TestWindowMeasuresAcceptedRate(t *testing.T) {
	f := newFixture(t, windowOnly(), 20, 1)
	f.paced(30, 2, 20) // half of the requests are refused
	b := f.behavior()
	// accepted ≈ 10 rps, sending 20: estimate √200 ≈ 14.1, new rate ≈ 9.9.
	if b.EffectiveRPS < 9 || b.EffectiveRPS > 11 {
		t.Fatalf("effective %v rps, want about 0.7 × √(10 × 20) ≈ 9.9", b.EffectiveRPS)
	}

	g := newFixture(t, windowOnly(), 20, 1)
	g.paced(30, 1, 20) // everything refused: nothing is known but "less than 20"
	if b := g.behavior(); !approx(b.EffectiveRPS, 0.7*0.7*20) {
		t.Fatalf("effective %v rps, want β² × 20 = %v", b.EffectiveRPS, 0.7*0.7*20)
	}
}

// TestStragglersDoNotCompound: 429s answering requests that were in flight when the
// rate was cut (they arrive within the settle time or the Retry-After pause) count, but
// neither trigger the window again nor lower the last good rate.
func TestStragglersDoNotCompound(t *testing.T) {
	f := newFixture(t, windowOnly(), 10, 1)
	f.paced(20, 10, 10)
	cut := f.behavior()
	if cut.AppliedReductionPct <= 0 {
		t.Fatal("no reduction to start from")
	}
	for i := 0; i < 7; i++ { // eight workers: seven more answers in flight
		f.clk.Advance(50 * time.Millisecond)
		f.observe(http.StatusTooManyRequests, retryAfter(1))
	}
	after := f.behavior()
	if after.AppliedReductionPct != cut.AppliedReductionPct || after.LastGoodRPS != cut.LastGoodRPS {
		t.Fatalf("stragglers moved the state: %v%% → %v%%, good %v → %v",
			cut.AppliedReductionPct, after.AppliedReductionPct, cut.LastGoodRPS, after.LastGoodRPS)
	}
	if after.Total429s != cut.Total429s+7 {
		t.Fatalf("stragglers were not counted: %d", after.Total429s)
	}
}

// TestPushBackWhileRecovering: a 429 after the settle time, while a reduction is in
// force and the window does not fire, steps the rate back and sets a plateau below
// the rate that was pushed back.
func TestPushBackWhileRecovering(t *testing.T) {
	f := newFixture(t, windowOnly(), 10, 1)
	f.paced(20, 10, 10)
	f.paced(300, 0, 7) // a clean 43 s: climbing
	before := f.behavior()
	if before.Status != StatusRecovering {
		t.Fatalf("status %s, want recovering", before.Status)
	}
	f.paced(1, 1, 7)
	after := f.behavior()
	if !approx(after.EffectiveRPS, before.EffectiveRPS*pushBackDrop) {
		t.Fatalf("pushed back at %v: rate %v, want %v", before.EffectiveRPS, after.EffectiveRPS, before.EffectiveRPS*pushBackDrop)
	}
	if after.LastGoodRPS > before.EffectiveRPS*pushBackPlateau+1e-9 || after.LastGoodRPS <= after.EffectiveRPS {
		t.Fatalf("plateau %v, want in (%v, %v]", after.LastGoodRPS, after.EffectiveRPS, before.EffectiveRPS*pushBackPlateau)
	}
	if after.Status != StatusReducing {
		t.Fatalf("status %s after a push-back, want reducing", after.Status)
	}
}

func TestCapacityEstimateBounds(t *testing.T) {
	cfg := DefaultConfig()
	hs := newHostState("web", "h")
	now := t0.UnixNano()
	if got := hs.capacityEstimate(&cfg, now, 10); got != 10 {
		t.Fatalf("no data: %v, want the sending rate", got)
	}
	hs.windowReset(now)
	for i := 0; i < 40; i++ {
		now += int64(100 * time.Millisecond)
		hs.windowAdd(&cfg, now, i%4 == 0)
	}
	acc, _ := hs.acceptedRate(&cfg, now)
	if math.Abs(acc-7.5) > 0.3 {
		t.Fatalf("accepted rate %v, want about 7.5", acc)
	}
	if got := hs.capacityEstimate(&cfg, now, 12); !approx(got, math.Sqrt(acc*12)) {
		t.Fatalf("estimate %v, want √(%v × 12)", got, acc)
	}
	if got := hs.capacityEstimate(&cfg, now, 20); !approx(got, 0.7*20) {
		t.Fatalf("estimate %v, want the floor β × 20", got)
	}
	if got := hs.capacityEstimate(&cfg, now, 5); got != 5 {
		t.Fatalf("estimate %v, want the sending rate when it is below the accepted rate", got)
	}
}
