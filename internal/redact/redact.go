// Package redact removes secrets (API keys, contact e-mail addresses, tokens and URL
// user information) from URLs and free text before they reach logs, errors or the
// manifest.
//
// The functions work on the raw text rather than on a parsed and re-serialised
// url.URL, so everything except the secrets is kept byte for byte, the result is
// stable (redacting twice changes nothing), and input that net/url cannot parse is
// still handled.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Placeholder replaces every secret value.
const Placeholder = "REDACTED"

// sensitive lists the query parameter names (lower case) whose values are secrets.
// Beyond the keys the tool itself sends (api_key, mailto, email), it covers the usual
// names for tokens and passwords so that a redirect target cannot leak one either.
func sensitive(name string) bool {
	switch strings.ToLower(name) {
	case "api_key", "apikey", "api-key", "email", "mailto", "key", "token",
		"access_token", "password", "secret":
		return true
	}
	return false
}

// Redact returns rawURL with the values of sensitive query (and fragment) parameters
// replaced by Placeholder and any user information (user:password@) removed. It
// never fails: input that is not a valid URL is scrubbed with the same rules, and when
// its authority cannot be delimited reliably everything up to the last '@' before
// the query is dropped, so a malformed password cannot survive.
func Redact(rawURL string) string {
	rest, frag, hasFrag := strings.Cut(rawURL, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	rest = stripUserinfo(rest)
	if _, err := url.Parse(rawURL); err != nil {
		rest = stripToLastAt(rest)
	}
	var b strings.Builder
	b.Grow(len(rawURL) + 16)
	b.WriteString(rest)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(scrubParams(query))
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(scrubParams(frag))
	}
	return b.String()
}

// authorityStart returns the index in s (a URL without query and fragment) where the
// authority begins, following net/url's rules: "//" right at the start, or after a
// syntactically valid scheme and its colon. ok is false when s has no authority.
func authorityStart(s string) (int, bool) {
	if strings.HasPrefix(s, "//") {
		return 2, true
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !validScheme(s[:colon]) {
		return 0, false
	}
	if strings.HasPrefix(s[colon+1:], "//") {
		return colon + 3, true
	}
	return 0, false
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// stripUserinfo removes "user:password@" from the authority of s.
func stripUserinfo(s string) string {
	start, ok := authorityStart(s)
	if !ok {
		return s
	}
	end := len(s)
	if i := strings.IndexByte(s[start:], '/'); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + s[start+at+1:]
}

// stripToLastAt is the conservative rule for unparsable URLs: it removes everything
// between the start of the authority (or of the string) and the last '@'.
func stripToLastAt(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	start, ok := authorityStart(s)
	if !ok || start > at {
		start = 0
	}
	return s[:start] + s[at+1:]
}

// scrubParams replaces the values of sensitive parameters in a query-like string
// ("a=1&api_key=x;b=2"). Both '&' and ';' separate parameters, because some servers
// accept either. Names are compared after query-unescaping, as servers would decode
// them.
func scrubParams(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	for {
		i := strings.IndexAny(q, "&;")
		part := q
		if i >= 0 {
			part = q[:i]
		}
		b.WriteString(scrubParam(part))
		if i < 0 {
			break
		}
		b.WriteByte(q[i])
		q = q[i+1:]
	}
	return b.String()
}

func scrubParam(part string) string {
	name, _, hasValue := strings.Cut(part, "=")
	if !hasValue {
		return part
	}
	if decoded, err := url.QueryUnescape(name); err == nil {
		name = decoded
	}
	if !sensitive(name) {
		return part
	}
	return part[:strings.IndexByte(part, '=')+1] + Placeholder
}

// The patterns Text uses. They are compiled once and never modified.
var (
	textParamRE    = regexp.MustCompile(`(?i)([?&;#](?:api_key|apikey|api-key|email|mailto|key|token|access_token|password|secret)=)[^&;#\s"'<>]*`)
	textUserinfoRE = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.\-]*://)[^/?#\s@"'<>]*@`)
)

// Text redacts URLs embedded in free text, such as an error message that quotes the
// requested URL: sensitive query parameter values become Placeholder and user
// information after "scheme://" is removed.
func Text(s string) string {
	if !strings.ContainsAny(s, "=@") {
		return s
	}
	s = textParamRE.ReplaceAllString(s, "${1}"+Placeholder)
	return textUserinfoRE.ReplaceAllString(s, "${1}")
}

// Error wraps err so that its message passes through Text. errors.Is and errors.As
// still see the original error. A nil err gives nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if r, ok := err.(*redactedError); ok {
		return r
	}
	return &redactedError{err: err}
}

type redactedError struct{ err error }

func (e *redactedError) Error() string { return Text(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }
