package policy

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	// now is 1994-11-06 08:49:00 UTC, 37 s before the RFC 9110 example date.
	now := time.Date(1994, time.November, 6, 8, 49, 0, 0, time.UTC)
	cases := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"surrounding whitespace", " \t30 ", 30 * time.Second, true},
		{"largest exact seconds", "9223372036", 9223372036 * time.Second, true},
		{"just over the Duration range", "9223372037", maxDuration, true},
		{"huge value saturates", "99999999999999999999", maxDuration, true},
		{"very long number saturates", "1234567890123456789012345678901234567890", maxDuration, true},
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", 37 * time.Second, true},
		{"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 37 * time.Second, true},
		{"asctime", "Sun Nov  6 08:49:37 1994", 37 * time.Second, true},
		{"IMF-fixdate with whitespace", "  Sun, 06 Nov 1994 08:50:00 GMT\t", time.Minute, true},
		{"date equal to now", "Sun, 06 Nov 1994 08:49:00 GMT", 0, true},
		{"past date", "Sat, 05 Nov 1994 08:49:37 GMT", 0, true},
		{"far past date", "Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"far future date", "Fri, 31 Dec 9999 23:59:59 GMT", maxDuration, true},
		{"empty", "", 0, false},
		{"blank", "   ", 0, false},
		{"negative", "-5", 0, false},
		{"plus sign", "+5", 0, false},
		{"fraction", "1.5", 0, false},
		{"unit suffix", "10s", 0, false},
		{"inner space", "1 0", 0, false},
		{"garbage", "soon", 0, false},
		{"garbage of date length", "this is not a date at all!!", 0, false},
		{"bad day", "Sun, 32 Nov 1994 08:49:37 GMT", 0, false},
		{"bad month", "Sun, 06 Nox 1994 08:49:37 GMT", 0, false},
		{"numeric zone", "Sun, 06 Nov 1994 08:49:37 +0000", 0, false},
		{"ISO 8601", "1994-11-06T08:49:37Z", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseRetryAfter(tc.in, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	if d, ok := RetryAfter(nil, t0); d != 0 || ok {
		t.Errorf("nil header: %v, %v", d, ok)
	}
	if d, ok := RetryAfter(http.Header{}, t0); d != 0 || ok {
		t.Errorf("no Retry-After: %v, %v", d, ok)
	}
	h := http.Header{}
	h.Set("retry-after", "42") // Set canonicalises the key
	if d, ok := RetryAfter(h, t0); d != 42*time.Second || !ok {
		t.Errorf("Retry-After 42: %v, %v", d, ok)
	}
	h.Set("Retry-After", t0.Add(90*time.Second).Format(http.TimeFormat))
	if d, ok := RetryAfter(h, t0); d != 90*time.Second || !ok {
		t.Errorf("Retry-After date: %v, %v", d, ok)
	}
	h.Set("Retry-After", "later")
	if d, ok := RetryAfter(h, t0); d != 0 || ok {
		t.Errorf("Retry-After garbage: %v, %v", d, ok)
	}
}

// TestHugeRetryAfterDefers ties the saturating parser to the cap: an absurd Retry-After
// becomes a Defer carrying the saturated wait, never a negative or wrapped one.
func TestHugeRetryAfterDefers(t *testing.T) {
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		d := p.Decide(Input{Op: Download, Outcome: withRA(429, "99999999999999999999"), Attempt: 1, Now: t0})
		if d != (Decision{Action: Defer, Wait: maxDuration, Reason: "retry_after_over_cap"}) {
			t.Errorf("%s: %+v", p.Name(), d)
		}
	}
}

func TestParseRetryAfterAllocations(t *testing.T) {
	for _, v := range []string{"120", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT", "soon", ""} {
		if n := testing.AllocsPerRun(50, func() { ParseRetryAfter(v, t0) }); n != 0 {
			t.Errorf("ParseRetryAfter(%q): %v allocations, want 0", v, n)
		}
	}
}
