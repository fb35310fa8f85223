package policy

import "time"

// Backoff returns the full-jitter exponential delay before the next attempt:
//
//	jitter * min(max, base * 2^(attempt-1))
//
// never less than a floor of min(base/10, max), so that a jitter near 0 cannot turn the
// retry loop into a busy loop. attempt counts the attempts made so far (1-based); values
// below 1 count as 1. jitter is clamped to [0, 1] (NaN counts as 0). The result never
// overflows, however large attempt is. A non-positive base or max yields 0.
func Backoff(attempt int, base, max time.Duration, jitter float64) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	ceiling := max
	if shift := attempt - 1; shift <= 0 {
		ceiling = min(base, max)
	} else if shift < 63 && base <= max>>uint(shift) {
		ceiling = base << uint(shift)
	}
	if !(jitter > 0) { // also catches NaN
		jitter = 0
	} else if jitter > 1 {
		jitter = 1
	}
	d := time.Duration(jitter * float64(ceiling))
	if d < 0 || d > ceiling { // float rounding at the top of the int64 range
		d = ceiling
	}
	floor := min(base/10, max)
	if d < floor {
		d = floor
	}
	return d
}
