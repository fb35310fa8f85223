package policy

import (
	"math"
	"net/http"
	"time"
)

// maxDuration is the largest time.Duration; parsed delays saturate at it.
const maxDuration = time.Duration(math.MaxInt64)

// HTTP-date lengths (RFC 9110 §5.6.7): asctime is 24 bytes, IMF-fixdate 29, and RFC 850
// 30 to 33 depending on the weekday name. Values outside these bounds are not dates, so
// ParseRetryAfter rejects them without asking http.ParseTime (whose failures allocate).
const (
	minHTTPDateLen = 24
	maxHTTPDateLen = 33
)

// ParseRetryAfter parses a Retry-After value (RFC 9110 §10.2.3) relative to now.
//
// The value is either delay-seconds, a non-negative decimal integer, or an HTTP-date in any
// of the three forms http.ParseTime accepts (IMF-fixdate, RFC 850, asctime). Surrounding
// spaces and tabs are ignored. A delay too large for time.Duration saturates at the
// largest Duration instead of overflowing; a date in the past yields 0, true. An empty,
// negative, fractional or otherwise malformed value yields 0, false.
//
// Delay-seconds and IMF-fixdate, the form servers must send, parse without allocating.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = trimOWS(v)
	if v == "" {
		return 0, false
	}
	if d, ok := parseDelaySeconds(v); ok {
		return d, true
	}
	if len(v) < minHTTPDateLen || len(v) > maxHTTPDateLen {
		return 0, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now) // Sub saturates instead of overflowing.
	if d < 0 {
		return 0, true
	}
	return d, true
}

// RetryAfter reads and parses the Retry-After header of h relative to now. A nil header or
// a missing or malformed value yields 0, false.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	v := h.Get("Retry-After") // already canonical, so Get does not allocate
	if v == "" {
		return 0, false
	}
	return ParseRetryAfter(v, now)
}

// parseDelaySeconds parses 1*DIGIT as whole seconds, saturating at maxDuration.
func parseDelaySeconds(v string) (time.Duration, bool) {
	const maxSeconds = int64(maxDuration / time.Second)
	var secs int64
	saturated := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if saturated {
			continue
		}
		secs = secs*10 + int64(c-'0')
		if secs > maxSeconds {
			saturated = true
		}
	}
	if saturated {
		return maxDuration, true
	}
	return time.Duration(secs) * time.Second, true
}

// trimOWS strips the optional whitespace (SP / HTAB) that may surround a field value.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
