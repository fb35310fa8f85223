package learning

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseRateLimitHeaders(t *testing.T) {
	now := t0
	type want struct {
		limit     float64 // 0: none
		remaining int     // -1: none
		reset     time.Duration
		hasReset  bool
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		want want
	}{
		{"none", hdr(), want{0, -1, 0, false}},
		{"openalex", hdr("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "7", "X-RateLimit-Reset", "3"),
			want{10, 7, 3 * time.Second, true}},
		{"openalex lower case", hdr("x-ratelimit-limit", "100000", "x-ratelimit-remaining", "0", "x-ratelimit-reset", "3600"),
			want{100000, 0, time.Hour, true}},
		{"reset as unix seconds", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(90*time.Second).Unix(), 10)),
			want{0, 0, 90 * time.Second, true}},
		{"reset as unix milliseconds", hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", strconv.FormatInt(now.Add(5*time.Second).UnixMilli(), 10)),
			want{0, 1, 5 * time.Second, true}},
		{"reset as an HTTP date", hdr("X-RateLimit-Reset", now.Add(2*time.Minute).Format(http.TimeFormat)),
			want{0, -1, 2 * time.Minute, true}},
		{"reset in the past", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)),
			want{0, 0, 0, true}},
		{"crossref", hdr("X-Rate-Limit-Limit", "50", "X-Rate-Limit-Interval", "1s"), want{50, -1, 0, false}},
		{"crossref per minute", hdr("x-rate-limit-limit", "30", "x-rate-limit-interval", "60s"), want{0.5, -1, 0, false}},
		{"crossref bare seconds", hdr("x-rate-limit-limit", "10", "x-rate-limit-interval", "2"), want{5, -1, 0, false}},
		{"crossref hourly is a quota", hdr("x-rate-limit-limit", "3600", "x-rate-limit-interval", "1h"), want{0, -1, 0, false}},
		{"ietf draft 11", hdr("RateLimit-Policy", `"burst";q=100;w=60`, "RateLimit", `"default";r=50;t=30`),
			want{100.0 / 60, 50, 30 * time.Second, true}},
		{"ietf tokens", hdr("RateLimit-Policy", `burst;q=10;w=1`, "RateLimit", `burst;r=0;t=2`),
			want{10, 0, 2 * time.Second, true}},
		{"ietf several policies", hdr("RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400, "fast";q=5;w=1`),
			want{100.0 / 60, -1, 0, false}},
		{"ietf window defaults to a second", hdr("RateLimit-Policy", `"p";q=7`), want{7, -1, 0, false}},
		{"ietf byte quotas are not request rates", hdr("RateLimit-Policy", `"bytes";q=1000;w=1;qu="content-bytes", "req";q=20;w=10`),
			want{2, -1, 0, false}},
		{"ietf quoted commas", hdr("RateLimit-Policy", `"a,b;c";q=4;w=2`), want{2, -1, 0, false}},
		{"ietf several limits: the smallest remaining", hdr("RateLimit", `"burst";r=10;t=1, "daily";r=3;t=5000`),
			want{0, 3, 5000 * time.Second, true}},
		{"draft 07 dictionary", hdr("RateLimit", "limit=100, remaining=0, reset=5"), want{100, 0, 5 * time.Second, true}},
		{"older drafts", hdr("RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "20"),
			want{100, 0, 20 * time.Second, true}},
		{"older drafts with policies", hdr("RateLimit-Limit", "10, 10;w=1, 1000;w=3600"), want{10, -1, 0, false}},
		{"older draft window", hdr("RateLimit-Limit", "100;w=60"), want{100.0 / 60, -1, 0, false}},
		{"most restrictive form wins", hdr("X-RateLimit-Limit", "50", "RateLimit-Policy", `"p";q=20;w=1`,
			"X-RateLimit-Remaining", "9", "X-RateLimit-Reset", "1", "RateLimit-Remaining", "4", "RateLimit-Reset", "2"),
			want{20, 4, 2 * time.Second, true}},
		{"equal remaining: the later reset", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "10",
			"RateLimit-Remaining", "0", "RateLimit-Reset", "40"), want{0, 0, 40 * time.Second, true}},
		{"repeated fields form one list", http.Header{"Ratelimit-Policy": {`"a";q=100;w=10`, `"b";q=3;w=1`}}, want{3, -1, 0, false}},
		{"malformed values are ignored", hdr("X-RateLimit-Limit", "ten", "X-RateLimit-Remaining", "-1",
			"X-RateLimit-Reset", "soon", "RateLimit-Policy", `"p";q=abc`, "RateLimit", `"p";r=;t=x`),
			want{0, -1, 0, false}},
		{"zero and huge limits", hdr("X-RateLimit-Limit", "0", "RateLimit-Limit", "1e999"), want{0, -1, 0, false}},
		{"huge reset is capped", hdr("X-RateLimit-Reset", "99999999999999999999"), want{0, -1, maxDelta, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ri := ParseRateLimitHeaders(tc.h, now)
			if (tc.want.limit > 0) != ri.HasLimit || (ri.HasLimit && !approx(ri.LimitRPS, tc.want.limit)) {
				t.Errorf("limit = %v (has %v), want %v", ri.LimitRPS, ri.HasLimit, tc.want.limit)
			}
			if (tc.want.remaining >= 0) != ri.HasRemaining || (ri.HasRemaining && ri.Remaining != tc.want.remaining) {
				t.Errorf("remaining = %d (has %v), want %d", ri.Remaining, ri.HasRemaining, tc.want.remaining)
			}
			if tc.want.hasReset != ri.HasReset || (ri.HasReset && ri.Reset.Sub(now) != tc.want.reset) {
				t.Errorf("reset = +%v (has %v), want +%v", ri.Reset.Sub(now), ri.HasReset, tc.want.reset)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(3 * time.Hour).UTC().Format(time.RFC850), 3 * time.Hour, true},
		{now.Add(45 * time.Second).UTC().Format(time.ANSIC), 45 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999999", maxDelta, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestAdvertisedRateIsACeiling: headers teach the limit before any 429.
func TestAdvertisedRateIsACeiling(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 25, 5)
	f.observe(200, hdr("X-Rate-Limit-Limit", "10", "X-Rate-Limit-Interval", "1s"))
	b := f.behavior()
	if b.CeilingRPS != 10 || b.EffectiveRPS != 10 || b.Status != StatusNormal {
		t.Fatalf("ceiling: %+v", b)
	}
	if l, burst := f.lim.last(); l != 10 || burst != 2 {
		t.Fatalf("limiter %v rps burst %d, want 10 and 2", l, burst)
	}
	// Reductions apply below the ceiling: effective = min(ceiling, configured × (1 − p)).
	cfg := noWindow()
	g := newFixture(t, cfg, 25, 5)
	g.observe(200, hdr("RateLimit-Policy", `"p";q=20;w=1`))
	g.throttle(10) // 30 %: 17.5 rps, still above the ceiling
	if b := g.behavior(); b.EffectiveRPS != 17.5 && b.EffectiveRPS != 20 {
		t.Fatalf("effective %v", b.EffectiveRPS)
	} else if b.EffectiveRPS != 17.5 {
		t.Fatalf("effective %v, want min(20, 17.5)", b.EffectiveRPS)
	}
	// A later, higher advertisement raises the ceiling again.
	f.observe(200, hdr("X-Rate-Limit-Limit", "40", "X-Rate-Limit-Interval", "1s"))
	if b := f.behavior(); b.EffectiveRPS != 25 {
		t.Fatalf("effective %v after the ceiling rose above the configured rate, want 25", b.EffectiveRPS)
	}
}

func TestRemainingZeroIsACooldown(t *testing.T) {
	f := newFixture(t, DefaultConfig(), 10, 1)
	e := f.observe(200, hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "12"))
	if !e.CooldownUntil.Equal(t0.Add(12*time.Second)) || e.QuotaExhausted {
		t.Fatalf("effect %+v, want a cooldown until +12s", e)
	}
	if b := f.behavior(); b.AppliedReductionPct != 0 || b.Status != StatusNormal {
		t.Fatalf("a cooldown changed the rate: %+v", b)
	}
	if e := f.observe(200, hdr("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "12")); !e.CooldownUntil.IsZero() {
		t.Fatalf("remaining 3 gave %+v", e)
	}
}

func FuzzParseRateLimitHeaders(f *testing.F) {
	f.Add("10", "7", "3", `"burst";q=100;w=60`, `"default";r=50;t=30`, "1s")
	f.Add("10, 10;w=1, 1000;w=3600", "0", "1700000000", `a;q=1;qu="x"`, "limit=1, remaining=0, reset=9", "60s")
	f.Add(`"\",;`, "", "Wed, 21 Oct 2015 07:28:00 GMT", `;;;,,,"`, `=;=,`, "-1s")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, policy, current, interval string) {
		h := http.Header{}
		for k, v := range map[string]string{
			"X-Ratelimit-Limit": limit, "X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset,
			"X-Rate-Limit-Limit": limit, "X-Rate-Limit-Interval": interval,
			"Ratelimit-Limit": limit, "Ratelimit-Remaining": remaining, "Ratelimit-Reset": reset,
			"Ratelimit-Policy": policy, "Ratelimit": current,
		} {
			h[k] = []string{v}
		}
		ri := ParseRateLimitHeaders(h, t0)
		if ri.HasLimit && (!(ri.LimitRPS > 0) || math.IsInf(ri.LimitRPS, 0)) {
			t.Fatalf("limit %v", ri.LimitRPS)
		}
		if ri.HasRemaining && ri.Remaining < 0 {
			t.Fatalf("remaining %d", ri.Remaining)
		}
		if ri.HasReset && (ri.Reset.Before(t0) || ri.Reset.Sub(t0) > maxDelta) {
			t.Fatalf("reset %v", ri.Reset)
		}
		// The tracker must digest whatever the parser accepted.
		fx := newFixture(t, DefaultConfig(), 10, 1)
		for _, st := range []int{200, 429, 429, 429} {
			e := fx.observe(st, h)
			if !e.CooldownUntil.IsZero() && e.CooldownUntil.Before(t0) {
				t.Fatalf("cooldown in the past: %v", e.CooldownUntil)
			}
		}
		b := fx.behavior()
		if !(b.EffectiveRPS > 0) || math.IsInf(b.EffectiveRPS, 0) || b.AppliedReductionPct < 0 || b.AppliedReductionPct > 80 {
			t.Fatalf("state %+v", b)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "-1", "9999999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, t0)
		if ok && (d < 0 || d > maxDelta) {
			t.Fatalf("parseRetryAfter(%q) = %v", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v but not ok", s, d)
		}
	})
}
