package policy

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{
		"", "0", "120", " 30 ", "-5", "+5", "1.5", "10s", "soon",
		"9223372036", "9223372037", "99999999999999999999",
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Sun, 06 Nov 1994 08:49:37.123 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
	} {
		f.Add(s, int64(784111777)) // now = 1994-11-06 08:49:37 UTC
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		now := time.Unix(nowUnix%(1<<40), 0).UTC()
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v < 0", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: a failure must return 0", v, d)
		}
		trimmed := trimOWS(v)
		if isDigits(trimmed) {
			want := maxDuration // also for numbers beyond uint64
			if n, err := strconv.ParseUint(trimmed, 10, 64); err == nil && n <= uint64(maxDuration/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if !ok || d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
			}
			return
		}
		// Anything else must agree with http.ParseTime, restricted to the lengths an
		// HTTP-date can have.
		date, err := http.ParseTime(trimmed)
		if err != nil || len(trimmed) < minHTTPDateLen || len(trimmed) > maxHTTPDateLen {
			if ok {
				t.Fatalf("ParseRetryAfter(%q) = %v, true; want a failure (http.ParseTime: %v)", v, d, err)
			}
			return
		}
		want := max(date.Sub(now), 0)
		if !ok || d != want {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
		}
	})
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func FuzzDecide(f *testing.F) {
	type seed struct {
		contextual bool
		op         uint8
		status     int
		errKind    uint8
		retryAfter string
		attempt    int
		elapsed    int64
		jitter     float64
	}
	for _, s := range []seed{
		{true, uint8(Download), 200, 0, "", 1, 0, 0.5},
		{true, uint8(Download), 429, 0, "", 2, 0, 0.5},
		{true, uint8(Download), 503, 0, "30", 1, int64(45 * time.Second), 0.1},
		{true, uint8(Validate), 429, 0, "", 1, 0, 0.9},
		{true, uint8(Validate), 0, uint8(ErrTimeout), "", 1, 0, 0.3},
		{true, uint8(Resolve), 429, 0, "5", 1, 0, 0},
		{true, uint8(Resolve), 500, 0, "", 3, 0, 0.7},
		{true, uint8(Extract), 0, uint8(ErrReset), "", 4, 0, 0.2},
		{true, uint8(ManifestFetch), 503, 0, "Sun, 06 Nov 1994 08:49:37 GMT", 9, 0, 0.5},
		{true, 200, 502, 0, "", 0, -1, -1},
		{false, uint8(Download), 504, 0, "99999999999999999999", 1, 0, 0.5},
		{false, uint8(Resolve), 0, uint8(ErrCanceled), "", 1, 0, 0.5},
		{false, uint8(Extract), 501, 0, "1", -5, 1 << 62, 2},
		{false, 0, 0, 0, "", 0, 0, 0},
		{false, uint8(Download), 0, 250, "", 1, 0, 0.5},
	} {
		f.Add(s.contextual, s.op, s.status, s.errKind, s.retryAfter, s.attempt, s.elapsed, s.jitter)
	}
	cfg := DefaultConfig()
	policies := map[bool]Policy{false: NewLegacy(cfg), true: NewContextual(cfg)}
	f.Fuzz(func(t *testing.T, contextual bool, op uint8, status int, errKind uint8, retryAfter string,
		attempt int, elapsed int64, jitter float64) {
		p := policies[contextual]
		o := Outcome{Status: status, Err: ErrKind(errKind)}
		if retryAfter != "" {
			o.Header = http.Header{"Retry-After": {retryAfter}}
		}
		in := Input{
			Op: OperationType(op), Outcome: o, Attempt: attempt, Elapsed: time.Duration(elapsed),
			Now: t0, Jitter: jitter,
		}
		d := p.Decide(in)
		if again := p.Decide(in); again != d {
			t.Fatalf("Decide is not deterministic: %+v then %+v", d, again)
		}
		if d.Action >= numActions {
			t.Fatalf("unknown action %d", d.Action)
		}
		if !isReason(d.Reason) {
			t.Fatalf("reason %q is not a snake_case code", d.Reason)
		}
		success := o.Err == ErrNone && status >= 200 && status < 400
		if success != (d.Action == ActionNone) {
			t.Fatalf("%+v: success=%v but %+v", o, success, d)
		}
		if o.Err == ErrCanceled && d != (Decision{Action: Fail, Reason: "canceled"}) {
			t.Fatalf("canceled but %+v", d)
		}
		limit := cfg.MaxAttempts
		if contextual && OperationType(op) < numOperations {
			limit = cfg.Ops[op].MaxAttempts
		}
		switch d.Action {
		case Retry:
			if d.Wait < cfg.BaseDelay/10 || d.Wait > cfg.MaxWait {
				t.Fatalf("Retry with Wait %v outside [%v, %v]", d.Wait, cfg.BaseDelay/10, cfg.MaxWait)
			}
			if max(attempt, 1) >= limit {
				t.Fatalf("Retry at attempt %d with a limit of %d", attempt, limit)
			}
		case Defer:
			if d.Wait < 0 {
				t.Fatalf("Defer with negative Wait %v", d.Wait)
			}
			if (d.Reason == reasonOverCap) != (d.Wait > cfg.MaxWait) {
				t.Fatalf("Defer %v with reason %q (cap %v)", d.Wait, d.Reason, cfg.MaxWait)
			}
			if !contextual && d.Reason != reasonOverCap {
				t.Fatalf("legacy deferred without an over-cap Retry-After: %+v", d)
			}
		case Failover:
			if !contextual {
				t.Fatalf("legacy never fails over: %+v", d)
			}
			if d.Wait != 0 {
				t.Fatalf("Failover with Wait %v", d.Wait)
			}
		case ActionNone, Fail:
			if d.Wait != 0 {
				t.Fatalf("%s with Wait %v", d.Action, d.Wait)
			}
		}
	})
}

// isReason reports whether s is a non-empty snake_case code.
func isReason(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
