package policy

import "strconv"

// Decision reasons. They are static so that Decide never builds a string.
const (
	reasonOK          = "ok"
	reasonBackoff     = "backoff"
	reasonRetryAfter  = "retry_after"
	reasonOverCap     = "retry_after_over_cap"
	reasonMaxAttempts = "max_attempts"
	reasonDeadline    = "deadline"
	reasonRateLimited = "rate_limited" // 429
	reasonUnavailable = "unavailable"  // 503
	reasonTimeout     = "timeout"
	reasonOther       = "other"
	reasonBadStatus   = "status_invalid" // a status outside 100..599
)

const (
	minStatus = 100
	maxStatus = 599
)

// statusReasons maps every status code in 100..599 to "status_NNN". It is built once at
// package initialisation and only ever read.
var statusReasons = func() (t [maxStatus - minStatus + 1]string) {
	for i := range t {
		t[i] = "status_" + strconv.Itoa(minStatus+i)
	}
	return t
}()

// statusReason returns "status_NNN" for a status in 100..599 and "status_invalid" for
// anything else, without allocating.
func statusReason(status int) string {
	if status < minStatus || status > maxStatus {
		return reasonBadStatus
	}
	return statusReasons[status-minStatus]
}
