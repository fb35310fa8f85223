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
// canonicalisation by CanonicalKey) and for anything that is not an absolute http(s)
// URL with a host.
func (s *Seen) Add(c Candidate) bool {
	key, ok := CanonicalKey(c.URL)
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

// CanonicalKey returns the one canonical form of a candidate URL used for
// de-duplication: surrounding space trimmed, the scheme dropped (http and https name
// the same document), the host lower-cased, a default port (:80, :443) dropped and
// the fragment dropped. Path and query are kept as they are (paths are
// case-sensitive). ok is false for anything but an absolute http(s) URL with a host.
func CanonicalKey(raw string) (key string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if h, port, found := strings.Cut(host, ":"); found && !strings.HasPrefix(host, "[") && (port == "80" || port == "443" || port == "") {
		host = h
	} else if strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, "]:"); i >= 0 {
			if p := host[i+2:]; p == "80" || p == "443" {
				host = host[:i+1]
			}
		}
	}
	u.Scheme, u.Host, u.User = "", host, nil
	u.Fragment, u.RawFragment = "", ""
	return u.String(), true
}

// preferHTTPS reports whether b is the https form of the http URL a (same canonical
// key): when a source offers both, the https one is fetched.
func preferHTTPS(a, b string) bool {
	ka, okA := CanonicalKey(a)
	kb, okB := CanonicalKey(b)
	return okA && okB && ka == kb && isScheme(a, "http") && isScheme(b, "https")
}

// IsHTTPSOf reports whether b is the https form of the http URL a (same canonical
// key). With a empty it reports whether b is an https URL at all.
func IsHTTPSOf(b, a string) bool {
	if a == "" {
		return isScheme(b, "https")
	}
	return preferHTTPS(a, b)
}

func isScheme(raw, scheme string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && strings.EqualFold(u.Scheme, scheme)
}
