package policy

import (
	"math"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const (
		s    = time.Second
		base = time.Second
		max  = 30 * time.Second
	)
	cases := []struct {
		name    string
		attempt int
		base    time.Duration
		max     time.Duration
		jitter  float64
		want    time.Duration
	}{
		{"attempt 1, full jitter", 1, base, max, 1, s},
		{"attempt 1, half", 1, base, max, 0.5, s / 2},
		{"attempt 2", 2, base, max, 0.5, s},
		{"attempt 3", 3, base, max, 0.5, 2 * s},
		{"attempt 5", 5, base, max, 1, 16 * s},
		{"attempt 6 reaches the cap", 6, base, max, 1, max},
		{"attempt 6 half of the cap", 6, base, max, 0.5, max / 2},
		{"attempt 0 counts as 1", 0, base, max, 1, s},
		{"negative attempt counts as 1", -7, base, max, 1, s},
		{"attempt 63", 63, base, max, 1, max},
		{"attempt 64", 64, base, max, 1, max},
		{"huge attempt", math.MaxInt, base, max, 0.5, max / 2},
		{"huge delays", math.MaxInt, maxDuration, maxDuration, 1, maxDuration},
		{"huge delays, high jitter", 70, maxDuration / 2, maxDuration, 0.9999999999, maxDuration - 922337203},
		{"zero jitter gives the floor", 3, base, max, 0, s / 10},
		{"tiny jitter gives the floor", 3, base, max, 1e-12, s / 10},
		{"NaN jitter gives the floor", 3, base, max, math.NaN(), s / 10},
		{"negative jitter gives the floor", 3, base, max, -1, s / 10},
		{"jitter above 1 is clamped", 3, base, max, 3, 4 * s},
		{"+Inf jitter is clamped", 3, base, max, math.Inf(1), 4 * s},
		{"max below base", 1, 10 * s, 2 * s, 1, 2 * s},
		{"floor capped at max", 1, 10 * s, 500 * time.Millisecond, 0, 500 * time.Millisecond},
		{"zero base", 3, 0, max, 1, 0},
		{"negative base", 3, -s, max, 1, 0},
		{"zero max", 3, base, 0, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Backoff(tc.attempt, tc.base, tc.max, tc.jitter)
			// Allow float rounding of one part in 1e9 on the huge cases.
			diff := got - tc.want
			if diff < 0 {
				diff = -diff
			}
			if diff > tc.want/1_000_000_000 {
				t.Errorf("Backoff(%d, %v, %v, %g) = %v, want %v", tc.attempt, tc.base, tc.max, tc.jitter, got, tc.want)
			}
		})
	}
}

// TestBackoffBounds sweeps attempts and jitters: the result is always within
// [min(base/10, max), min(max, base·2^(n-1))] and grows with the attempt.
func TestBackoffBounds(t *testing.T) {
	base, max := 250*time.Millisecond, 20*time.Second
	for _, jitter := range []float64{0, 0.1, 0.33, 0.5, 0.9, 0.999999} {
		prev := time.Duration(0)
		for attempt := 1; attempt <= 200; attempt++ {
			got := Backoff(attempt, base, max, jitter)
			ceiling := max
			if attempt < 20 {
				ceiling = min(max, base<<(attempt-1))
			}
			if got < base/10 || got > ceiling {
				t.Fatalf("Backoff(%d, jitter %g) = %v, outside [%v, %v]", attempt, jitter, got, base/10, ceiling)
			}
			if got < prev {
				t.Fatalf("Backoff(%d, jitter %g) = %v shrank from %v", attempt, jitter, got, prev)
			}
			prev = got
		}
	}
}
