package learning

import (
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/providers"
)

func TestDefaultConfigIsDocumented(t *testing.T) {
	c := DefaultConfig()
	if c.MaxReductionPct != 80 || c.MinRPS != 0.05 || c.ForgetAfter != 7*24*time.Hour || c.MaxWait != time.Minute {
		t.Errorf("defaults drifted from the documented ones: %+v", c)
	}
	want := []Tier{{3, 10}, {5, 20}, {10, 30}}
	for i, tr := range c.Tiers {
		if tr != want[i] {
			t.Errorf("tier %d = %+v, want %+v", i, tr, want[i])
		}
	}
}

func TestEpisodeSchedule(t *testing.T) {
	for _, tc := range []struct {
		episode int
		wantPct float64
	}{
		{1, 0}, {2, 0}, {3, 10}, {4, 10}, {5, 20}, {9, 20}, {10, 30}, {25, 30},
	} {
		f := newFixture(t, noWindow(), 10, 1)
		f.ok(5)
		f.throttle(tc.episode)
		b := f.behavior()
		if !approx(b.AppliedReductionPct, tc.wantPct) {
			t.Errorf("episode of %d: reduction %v%%, want %v%%", tc.episode, b.AppliedReductionPct, tc.wantPct)
		}
		if b.Consecutive429s != tc.episode || b.Total429s != int64(tc.episode) {
			t.Errorf("episode of %d: consecutive %d, total %d", tc.episode, b.Consecutive429s, b.Total429s)
		}
		wantEff := 10 * (1 - tc.wantPct/100)
		if !approx(b.EffectiveRPS, wantEff) {
			t.Errorf("episode of %d: effective %v, want %v", tc.episode, b.EffectiveRPS, wantEff)
		}
		wantStatus := StatusNormal
		if tc.wantPct > 0 {
			wantStatus = StatusReducing
		}
		if b.Status != wantStatus {
			t.Errorf("episode of %d: status %s, want %s", tc.episode, b.Status, wantStatus)
		}
	}
}

func TestEpisodesAddUpAndSuccessEndsThem(t *testing.T) {
	f := newFixture(t, noWindow(), 10, 1)
	f.throttle(3)
	f.ok(1)
	if b := f.behavior(); b.Consecutive429s != 0 {
		t.Fatalf("a success must end the episode, consecutive = %d", b.Consecutive429s)
	}
	f.throttle(2) // a new episode below the first tier
	if b := f.behavior(); !approx(b.AppliedReductionPct, 10) {
		t.Fatalf("reduction %v%% after 3 then 2, want 10%%", b.AppliedReductionPct)
	}
	f.throttle(1) // the same episode reaches 3: worth another 10
	if b := f.behavior(); !approx(b.AppliedReductionPct, 20) {
		t.Fatalf("reduction %v%% after two episodes of 3, want 20%%", b.AppliedReductionPct)
	}
	// Transport errors and 5xx neither end nor extend an episode.
	f.observe(0, nil)
	f.observe(503, nil)
	f.throttle(2) // this episode is now 5 long: raised by the difference, 20 − 10
	b := f.behavior()
	if !approx(b.AppliedReductionPct, 30) || b.Consecutive429s != 5 {
		t.Fatalf("reduction %v%%, consecutive %d; want 30%% and 5", b.AppliedReductionPct, b.Consecutive429s)
	}
	if b.TotalRequests != 11 || b.Total429s != 8 {
		t.Fatalf("totals %d requests / %d 429s, want 11 / 8", b.TotalRequests, b.Total429s)
	}
}

func TestReductionCapAndFloor(t *testing.T) {
	f := newFixture(t, noWindow(), 10, 1)
	for i := 0; i < 6; i++ {
		f.throttle(10)
		f.ok(1)
	}
	b := f.behavior()
	if b.AppliedReductionPct != 80 {
		t.Fatalf("reduction %v%%, want the 80%% cap", b.AppliedReductionPct)
	}
	// No truncation: 10 rps at 80 % is 2.0, not 1.
	if b.EffectiveRPS != 2.0 {
		t.Fatalf("effective %v, want 2.0", b.EffectiveRPS)
	}
	if l, _ := f.lim.last(); l != 2.0 {
		t.Fatalf("limiter got %v, want 2.0", l)
	}

	// The floor: 0.2 rps at 80 % would be 0.04; min_rps is 0.05.
	g := newFixture(t, noWindow(), 0.2, 1)
	for i := 0; i < 6; i++ {
		g.throttle(10)
		g.ok(1)
	}
	if b := g.behavior(); b.EffectiveRPS != 0.05 || b.AppliedReductionPct != 80 {
		t.Fatalf("effective %v at %v%%, want the 0.05 floor at 80%%", b.EffectiveRPS, b.AppliedReductionPct)
	}
	// A configured rate already below the floor is never raised to it.
	if got := effectiveRPS(0.02, 80, 0, 0.05); got != 0.02 {
		t.Fatalf("effectiveRPS(0.02 configured, 80%%) = %v, want 0.02", got)
	}
}

func TestEffectiveRPSArithmetic(t *testing.T) {
	for _, tc := range []struct {
		configured, pct, ceiling, want float64
	}{
		{10, 80, 0, 2.0},
		{10, 0, 0, 10},
		{3, 10, 0, 2.7},
		{7, 30, 0, 7 * 0.7},
		{25, 60, 0, 10},
		{10, 80, 1.5, 1.5}, // an advertised ceiling below the learned rate wins
		{10, 20, 50, 8},    // a ceiling above it changes nothing
		{0.1, 80, 0, 0.05}, // floor
	} {
		if got := effectiveRPS(tc.configured, tc.pct, tc.ceiling, 0.05); !approx(got, tc.want) {
			t.Errorf("effectiveRPS(%v, %v%%, ceiling %v) = %v, want %v", tc.configured, tc.pct, tc.ceiling, got, tc.want)
		}
	}
}

func TestBurstScaling(t *testing.T) {
	for _, tc := range []struct {
		burst     int
		eff, conf float64
		want      int
	}{
		{10, 2, 10, 2},
		{10, 10, 10, 10},
		{1, 2, 10, 1},
		{3, 2, 10, 1},
		{0, 5, 10, 1},
		{4, 5, 10, 2},
		{5, 20, 10, 5}, // never above the configured burst
	} {
		if got := scaledBurst(tc.burst, tc.eff, tc.conf); got != tc.want {
			t.Errorf("scaledBurst(%d, %v/%v) = %d, want %d", tc.burst, tc.eff, tc.conf, got, tc.want)
		}
	}
	// While a reduction is in force the burst is scaled with the rate and halved
	// (reducedBurstShare), so that requests saved up during a Retry-After pause do not
	// empty the host's bucket at once: 10 × 0.7 × 0.5 = 3.5 → 4.
	f := newFixture(t, noWindow(), 10, 10)
	f.throttle(10)
	if l, b := f.lim.last(); l != 7 || b != 4 {
		t.Fatalf("limiter got %v rps burst %d, want 7 rps burst 4", l, b)
	}
	// Back at the configured rate, the configured burst is restored.
	f.clk.Advance(time.Hour)
	f.ok(1)
	if l, b := f.lim.last(); l != 10 || b != 10 {
		t.Fatalf("limiter got %v rps burst %d after recovery, want 10 rps burst 10", l, b)
	}
}

func TestUnregisteredHostIsCountedNotControlled(t *testing.T) {
	f := newFixture(t, noWindow(), 10, 1)
	f.tr.Observe(Observation{Host: "other.example", Status: 429})
	f.tr.Observe(Observation{Host: "other.example", Status: 429})
	f.tr.Observe(Observation{Host: "other.example", Status: 429})
	b, ok := f.tr.Behavior("other.example")
	if !ok || b.Provider != providers.Web || b.Total429s != 3 || b.AppliedReductionPct != 0 {
		t.Fatalf("unregistered host: %+v, %v", b, ok)
	}
	// Registering it later folds those observations into the registered entry.
	lim := &recLimiter{}
	f.tr.Register("crossref", "other.example", 10, 1, lim)
	b, _ = f.tr.Behavior("other.example")
	if b.Provider != "crossref" || b.Total429s != 3 || b.TotalRequests != 3 {
		t.Fatalf("after Register: %+v", b)
	}
	for _, s := range f.tr.Snapshot() {
		if s.Key() == "web@other.example" {
			t.Fatalf("the pre-registration entry survived: %v", f.tr.Snapshot())
		}
	}
}
