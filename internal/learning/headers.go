package learning

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/policy"
)

// RateInfo is what a response's rate-limit headers say. Each Has* flag tells whether
// the value beside it was present and well formed.
type RateInfo struct {
	LimitRPS     float64   // the most restrictive advertised rate, requests per second
	HasLimit     bool      // LimitRPS is set
	Remaining    int       // requests left in the current window (the smallest advertised)
	HasRemaining bool      // Remaining is set
	Reset        time.Time // when the window of Remaining resets
	HasReset     bool      // Reset is set
}

// maxRateWindow is the longest window read as a rate. A policy over a longer window (an
// hourly or daily budget) is a quota: spreading it evenly over its window would crawl,
// so it is enforced through Remaining: 0 and its reset instead of as a ceiling.
const maxRateWindow = time.Minute

// maxDelta bounds every parsed delay so that time arithmetic cannot overflow.
const maxDelta = 10 * 365 * 24 * time.Hour

// The header families, in the order a tie between them is broken (the first wins).
var (
	limitHeaders     = [...]string{"Ratelimit-Limit", "X-Ratelimit-Limit", "X-Rate-Limit-Limit"}
	intervalHeaders  = [...]string{"", "X-Ratelimit-Interval", "X-Rate-Limit-Interval"}
	remainingHeaders = [...]string{"Ratelimit-Remaining", "X-Ratelimit-Remaining", "X-Rate-Limit-Remaining"}
	resetHeaders     = [...]string{"Ratelimit-Reset", "X-Ratelimit-Reset", "X-Rate-Limit-Reset"}
)

// ParseRateLimitHeaders reads every supported form of rate-limit header:
//
//   - OpenAlex style X-RateLimit-Limit, -Remaining, -Reset (seconds until the reset, or a
//     Unix time when the number is that large), and the X-Rate-Limit-* spelling;
//   - Crossref's x-rate-limit-limit with x-rate-limit-interval ("50" and "1s" → 50 rps);
//   - IETF draft-11 structured fields RateLimit-Policy ("burst";q=100;w=60 → 100/60 rps)
//     and RateLimit ("default";r=50;t=30 → 50 left, reset in 30 s);
//   - the older drafts' RateLimit-Limit (with optional ";w=" policies), -Remaining and
//     -Reset.
//
// A limit with no stated window is read per second, which can only over-state the rate.
// Windows longer than a minute are quotas and do not produce LimitRPS. When several
// forms are present, the most restrictive limit and the smallest remaining count win.
// Malformed values are ignored.
func ParseRateLimitHeaders(h http.Header, now time.Time) RateInfo {
	var ri RateInfo
	if len(h) == 0 {
		return ri
	}
	offer := func(rps float64) {
		if rps > 0 && !math.IsInf(rps, 0) && (!ri.HasLimit || rps < ri.LimitRPS) {
			ri.LimitRPS, ri.HasLimit = rps, true
		}
	}
	// remaining/reset pairs compete: the smallest remaining wins, a tie goes to the
	// later reset; a lone reset competes as "unknown remaining".
	offerState := func(rem int, hasRem bool, reset time.Time, hasReset bool) {
		if !hasRem && !hasReset {
			return
		}
		better := false
		switch {
		case hasRem && !ri.HasRemaining:
			better = true
		case hasRem && rem < ri.Remaining:
			better = true
		case hasRem == ri.HasRemaining && (!hasRem || rem == ri.Remaining):
			better = hasReset && (!ri.HasReset || reset.After(ri.Reset))
		}
		if better {
			ri.Remaining, ri.HasRemaining = rem, hasRem
			ri.Reset, ri.HasReset = reset, hasReset
		}
	}

	// IETF draft-11: RateLimit-Policy and RateLimit.
	if v := headerValue(h, "Ratelimit-Policy"); v != "" {
		forEachMember(v, func(_ string, params string) {
			q, okQ := paramNumber(params, "q")
			if !okQ || q <= 0 {
				return
			}
			if qu, ok := paramString(params, "qu"); ok && qu != "requests" {
				return
			}
			w := 1.0
			if x, ok := paramNumber(params, "w"); ok {
				w = x
			}
			if w > 0 && w <= maxRateWindow.Seconds() {
				offer(q / w)
			}
		})
	}
	if v := headerValue(h, "Ratelimit"); v != "" {
		// draft-07 used one dictionary: limit=100, remaining=50, reset=30.
		var dRem, dReset float64
		var dHasRem, dHasReset bool
		forEachMember(v, func(item string, params string) {
			if k, val, ok := strings.Cut(item, "="); ok {
				n, okN := parseNumber(val)
				switch strings.TrimSpace(k) {
				case "remaining":
					dRem, dHasRem = n, okN
				case "reset":
					dReset, dHasReset = n, okN
				case "limit":
					if okN {
						offer(n)
					}
				}
				return
			}
			rem, hasR := paramNumber(params, "r")
			t, hasT := paramNumber(params, "t")
			var reset time.Time
			if hasT {
				reset = now.Add(secondsToDuration(t))
			}
			offerState(toInt(rem), hasR, reset, hasT)
		})
		var reset time.Time
		if dHasReset {
			reset = now.Add(secondsToDuration(dReset))
		}
		offerState(toInt(dRem), dHasRem, reset, dHasReset)
	}

	// Older drafts and the X- spellings: one family per index.
	for i := range limitHeaders {
		if v := headerValue(h, limitHeaders[i]); v != "" {
			interval := 1.0
			if intervalHeaders[i] != "" {
				if iv := headerValue(h, intervalHeaders[i]); iv != "" {
					if d, ok := parseInterval(iv); ok {
						interval = d
					}
				}
			}
			forEachMember(v, func(item string, params string) {
				n, ok := parseNumber(item)
				if !ok || n <= 0 {
					return
				}
				w := interval
				if x, okW := paramNumber(params, "w"); okW {
					w = x
				}
				if w > 0 && w <= maxRateWindow.Seconds() {
					offer(n / w)
				}
			})
		}
		var (
			rem             float64
			hasRem          bool
			reset           time.Time
			hasReset        bool
			remStr, rsetStr = headerValue(h, remainingHeaders[i]), headerValue(h, resetHeaders[i])
		)
		if remStr != "" {
			rem, hasRem = parseNumber(firstMember(remStr))
		}
		if rsetStr != "" {
			// An HTTP-date holds a comma, so try the whole value before its first member.
			if reset, hasReset = parseReset(rsetStr, now); !hasReset {
				reset, hasReset = parseReset(firstMember(rsetStr), now)
			}
		}
		offerState(toInt(rem), hasRem, reset, hasReset)
	}
	return ri
}

// headerValue returns the first value of a canonical header name, trimmed.
func headerValue(h http.Header, name string) string {
	v := h[name]
	if len(v) == 0 {
		return ""
	}
	if len(v) == 1 {
		return strings.TrimSpace(v[0])
	}
	// Repeated fields are one comma-separated list (RFC 9110 §5.3).
	return strings.TrimSpace(strings.Join(v, ","))
}

// parseRetryAfter reads a Retry-After value with the one parser the project has
// (policy.ParseRetryAfter, which the fetch path and the retry policy use too), and
// clamps it to maxDelta so that now plus it stays a sane time to keep in the file.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	d, ok := policy.ParseRetryAfter(v, now)
	return min(d, maxDelta), ok
}

// parseReset reads a reset value: delta seconds, a Unix time in seconds (> 1e9) or
// milliseconds (> 1e12), or an HTTP-date.
func parseReset(v string, now time.Time) (time.Time, bool) {
	if n, ok := parseNumber(v); ok {
		switch {
		case n > 1e12:
			return clampTime(time.UnixMilli(int64(math.Min(n, 1e15))), now), true
		case n > 1e9:
			return clampTime(time.Unix(int64(n), 0), now), true
		default:
			return now.Add(secondsToDuration(n)), true
		}
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return clampTime(t, now), true
}

// clampTime keeps t within [now, now+maxDelta].
func clampTime(t, now time.Time) time.Time {
	if t.Before(now) {
		return now
	}
	if t.Sub(now) > maxDelta {
		return now.Add(maxDelta)
	}
	return t
}

// parseInterval reads a window length: a Go duration ("1s", "1m") or bare seconds.
func parseInterval(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if n, ok := parseNumber(v); ok {
		return n, n > 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d.Seconds(), true
}

// parseNumber reads a finite, non-negative decimal number.
func parseNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 32 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && c != '.' {
			return 0, false
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
		return 0, false
	}
	return n, true
}

func secondsToDuration(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	if s >= maxDelta.Seconds() {
		return maxDelta
	}
	return time.Duration(s * float64(time.Second))
}

func toInt(f float64) int {
	if f >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int(f)
}

// forEachMember walks a comma-separated structured-field list, calling fn with each
// member's bare item (unquoted) and its raw ";"-separated parameters. Commas and
// semicolons inside quoted strings do not split.
func forEachMember(v string, fn func(item, params string)) {
	for len(v) > 0 {
		end := indexUnquoted(v, ',')
		member := v
		if end >= 0 {
			member, v = v[:end], v[end+1:]
		} else {
			v = ""
		}
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		item, params := member, ""
		if semi := indexUnquoted(member, ';'); semi >= 0 {
			item, params = member[:semi], member[semi+1:]
		}
		fn(unquote(strings.TrimSpace(item)), params)
	}
}

// firstMember returns the bare item of a list's first member.
func firstMember(v string) string {
	var first string
	found := false
	forEachMember(v, func(item, _ string) {
		if !found {
			first, found = item, true
		}
	})
	return first
}

// indexUnquoted is strings.IndexByte that skips quoted strings (with \-escapes).
func indexUnquoted(s string, sep byte) int {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			return i
		}
	}
	return -1
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		if strings.IndexByte(s, '\\') >= 0 {
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			s = b.String()
		}
	}
	return s
}

// paramString finds parameter key in a raw ";"-separated parameter list.
func paramString(params, key string) (string, bool) {
	for len(params) > 0 {
		end := indexUnquoted(params, ';')
		p := params
		if end >= 0 {
			p, params = params[:end], params[end+1:]
		} else {
			params = ""
		}
		k, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		if strings.TrimSpace(k) != key {
			continue
		}
		if !hasVal {
			return "", true
		}
		return unquote(strings.TrimSpace(val)), true
	}
	return "", false
}

// paramNumber finds a numeric parameter.
func paramNumber(params, key string) (float64, bool) {
	s, ok := paramString(params, key)
	if !ok {
		return 0, false
	}
	return parseNumber(s)
}
