package redact

import (
	"strings"
	"unicode/utf8"
)

// maxShortPath bounds the path part of a Short URL.
const maxShortPath = 60

// Short returns rawURL redacted and shortened for a message a person reads: the
// query and fragment are replaced by "?…" (they hold the secrets and the noise; the
// full redacted URL belongs in debug logs), and a path longer than 60 characters
// keeps its start and end around "…".
func Short(rawURL string) string {
	s := Redact(rawURL)
	rest, _, hasFrag := strings.Cut(s, "#")
	rest, _, hasQuery := strings.Cut(rest, "?")
	head, path := rest, ""
	if i := strings.Index(rest, "://"); i >= 0 {
		if j := strings.IndexByte(rest[i+3:], '/'); j >= 0 {
			head, path = rest[:i+3+j], rest[i+3+j:]
		}
	}
	if n := utf8.RuneCountInString(path); n > maxShortPath {
		r := []rune(path)
		path = string(r[:maxShortPath-21]) + "…" + string(r[n-20:])
	}
	out := head + path
	if hasQuery || hasFrag {
		out += "?…"
	}
	return out
}
