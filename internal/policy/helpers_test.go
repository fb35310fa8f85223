package policy

import (
	"net/http"
	"time"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testJitter makes Backoff deterministic: 0.5 × min(MaxDelay, BaseDelay·2^(n-1)).
const testJitter = 0.5

// perAttempt is how long each simulated attempt takes before its outcome arrives.
const perAttempt = 100 * time.Millisecond

// resp builds an HTTP outcome; kv are header name/value pairs.
func resp(status int, kv ...string) Outcome {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return Outcome{Status: status, Header: h}
}

// withRA builds an HTTP outcome carrying a Retry-After header.
func withRA(status int, retryAfter string) Outcome {
	return resp(status, "Retry-After", retryAfter)
}

// transport builds a transport-error outcome.
func transport(k ErrKind) Outcome { return Outcome{Err: k} }

// repeat returns n copies of o followed by tail.
func repeat(o Outcome, n int, tail ...Outcome) []Outcome {
	out := make([]Outcome, 0, n+len(tail))
	for range n {
		out = append(out, o)
	}
	return append(out, tail...)
}

// step is one simulated attempt: its input and the policy's verdict.
type step struct {
	in  Input
	got Decision
}

// simulateTrace drives a request loop: each outcome is one attempt, Decide judges it, a
// Retry advances the simulated time by its Wait and the next outcome is tried. It stops at
// the first decision that is not Retry. If the outcomes run out while still retrying, the
// last decision (a Retry) is returned.
func simulateTrace(p Policy, op OperationType, outcomes []Outcome) []step {
	var (
		trace   []step
		elapsed time.Duration
	)
	for i, o := range outcomes {
		elapsed += perAttempt
		in := Input{
			Op:      op,
			Outcome: o,
			Attempt: i + 1,
			Elapsed: elapsed,
			Now:     t0.Add(elapsed),
			Jitter:  testJitter,
		}
		d := p.Decide(in)
		trace = append(trace, step{in: in, got: d})
		if d.Action != Retry {
			break
		}
		elapsed += d.Wait
	}
	return trace
}

// simulate returns how many attempts the loop made and the last decision.
func simulate(p Policy, op OperationType, outcomes []Outcome) (attempts int, final Decision) {
	trace := simulateTrace(p, op, outcomes)
	if len(trace) == 0 {
		return 0, Decision{}
	}
	return len(trace), trace[len(trace)-1].got
}
