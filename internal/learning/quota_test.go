package learning

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

// TestQuotaIsNotCongestion: a 429 whose Retry-After is beyond max_wait (OpenAlex's spent
// daily budget) marks the provider quota_exhausted until then, leaves its rate alone,
// tells the fetch layer to stop, survives a restart, and expires on time.
func TestQuotaIsNotCongestion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	logs := &testkit.Buffer{}
	clk := clock.NewFake(t0)
	tr := NewTracker(DefaultConfig(), clk, newLogger(logs))
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	lim := &recLimiter{}
	tr.Register("openalex", "api.openalex.org", 10, 1, lim)
	tr.Observe(Observation{Host: "api.openalex.org", Status: 200})

	var e Effect
	for i := 0; i < 12; i++ { // answers to requests already in flight: still a quota
		e = tr.Observe(Observation{Host: "api.openalex.org", Status: 429, Header: retryAfter(3 * 3600)})
	}
	reset := t0.Add(3 * time.Hour)
	if !e.QuotaExhausted || !e.CooldownUntil.Equal(reset) {
		t.Fatalf("effect %+v, want quota exhausted until %v", e, reset)
	}
	b, _ := tr.Behavior("api.openalex.org")
	if b.Status != StatusQuotaExhausted || b.AppliedReductionPct != 0 || b.EffectiveRPS != 10 {
		t.Fatalf("quota reduced the rate or missed the status: %+v", b)
	}
	if b.Consecutive429s != 0 || b.Total429s != 12 || len(b.RecoveryTimes) != 0 {
		t.Fatalf("a quota is not an episode and not a recovery time: %+v", b)
	}
	if b.QuotaResetAt == nil || !b.QuotaResetAt.Equal(reset) {
		t.Fatalf("quota_reset_at %v", b.QuotaResetAt)
	}
	if until, ok := tr.QuotaExhausted("api.openalex.org"); !ok || !until.Equal(reset) {
		t.Fatalf("QuotaExhausted = %v, %v", until, ok)
	}
	if !strings.Contains(logs.String(), "quota exhausted") {
		t.Fatalf("no log line: %s", logs)
	}
	if err := tr.Save(); err != nil {
		t.Fatal(err)
	}

	// A cron run an hour later skips the provider.
	clk.Advance(time.Hour)
	logs2 := &testkit.Buffer{}
	tr2 := NewTracker(DefaultConfig(), clk, newLogger(logs2))
	if err := tr2.Open(path); err != nil {
		t.Fatal(err)
	}
	if until, ok := tr2.QuotaExhausted("api.openalex.org"); !ok || !until.Equal(reset) {
		t.Fatalf("after reload (before Register): QuotaExhausted = %v, %v", until, ok)
	}
	if !strings.Contains(logs2.String(), "still exhausted") || !strings.Contains(logs2.String(), "api.openalex.org") {
		t.Fatalf("no clear log line on load: %s", logs2)
	}
	tr2.Register("openalex", "api.openalex.org", 10, 1, &recLimiter{})
	if b, _ := tr2.Behavior("api.openalex.org"); b.Status != StatusQuotaExhausted {
		t.Fatalf("after reload: %s", b.Status)
	}

	// After the reset it is a normal provider again.
	clk.Advance(2*time.Hour + time.Second)
	if _, ok := tr2.QuotaExhausted("api.openalex.org"); ok {
		t.Fatal("quota still exhausted after its reset")
	}
	e = tr2.Observe(Observation{Host: "api.openalex.org", Status: 200})
	if e.QuotaExhausted || !e.CooldownUntil.IsZero() {
		t.Fatalf("effect after the reset: %+v", e)
	}
	if b, _ := tr2.Behavior("api.openalex.org"); b.Status != StatusNormal || b.QuotaResetAt != nil {
		t.Fatalf("after the reset: %+v", b)
	}
}

func TestQuotaFromHeaders(t *testing.T) {
	// A 429 without Retry-After whose reset is hours away.
	f := newFixture(t, DefaultConfig(), 10, 1)
	e := f.observe(429, hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "7200"))
	if !e.QuotaExhausted || !e.CooldownUntil.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("effect %+v", e)
	}
	// A success saying nothing is left until tomorrow is a quota as well.
	g := newFixture(t, DefaultConfig(), 10, 1)
	e = g.observe(200, hdr("RateLimit", `"daily";r=0;t=40000`))
	if !e.QuotaExhausted || !e.CooldownUntil.Equal(t0.Add(40000*time.Second)) {
		t.Fatalf("effect %+v", e)
	}
	if b := g.behavior(); b.Status != StatusQuotaExhausted || b.AppliedReductionPct != 0 {
		t.Fatalf("state %+v", b)
	}
}

func TestShortRetryAfterIsCongestion(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	e := f.observe(429, retryAfter(30))
	if e.QuotaExhausted || !e.CooldownUntil.IsZero() {
		t.Fatalf("a 30 s Retry-After (max_wait 60 s) is not a quota: %+v", e)
	}
	f.observe(429, retryAfter(60)) // exactly max_wait: still congestion
	b := f.behavior()
	if b.Status == StatusQuotaExhausted || len(b.RecoveryTimes) != 2 || b.RecoveryTimes[0] != 30 || b.RecoveryTimes[1] != 60 {
		t.Fatalf("state %+v", b)
	}
	if got := b.RecoveryEstimate(); got != 45*time.Second {
		t.Fatalf("recovery estimate %v, want the median 45s", got)
	}
}

func TestRecoveryTimesKeepTheLast50(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	for i := 1; i <= 60; i++ {
		f.observe(429, retryAfter(i))
		f.observe(200, nil)
	}
	rt := f.behavior().RecoveryTimes
	if len(rt) != 50 || rt[0] != 11 || rt[49] != 60 {
		t.Fatalf("recovery_times = %v", rt)
	}
}
