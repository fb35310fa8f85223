package resolve

import (
	"net/url"
	"strings"
)

// Seen remembers the candidate URLs already offered for one work. The zero value is
// ready to use. It is not safe for concurrent use; a worker keeps one per work.
type Seen struct {
	keys map[string]struct{}
}

// NewSeen returns an empty Seen.
func NewSeen() *Seen { return &Seen{keys: make(map[string]struct{})} }

// Add reports whether c is new. It returns false for a URL seen before (after
// normalisation: surrounding space trimmed, fragment dropped, scheme and host
// lower-cased) and for anything that is not an absolute http(s) URL with a host.
func (s *Seen) Add(c Candidate) bool {
	key, ok := normalizeURL(c.URL)
	if !ok {
		return false
	}
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	if _, dup := s.keys[key]; dup {
		return false
	}
	s.keys[key] = struct{}{}
	return true
}

// normalizeURL returns the de-duplication key of a candidate URL.
func normalizeURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	return u.String(), true
}
