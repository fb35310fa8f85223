package resolve

import (
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/openalex"
)

// Host methods name the host a resolver's Resolve asks first for a work, or "" when it
// asks none, so the download frontier can schedule the request by host before a
// worker takes it (a resolver without one is run at once and waits inside).

// Host is Unpaywall's API host, for a work it will ask about.
func (u *unpaywall) Host(w *openalex.Work) string {
	if w.DOI == "" || u.mailto == "" {
		return ""
	}
	return hostOf(u.base)
}

// Host is Crossref's API host, for a work with a DOI.
func (c *crossref) Host(w *openalex.Work) string {
	if w.DOI == "" {
		return ""
	}
	return hostOf(c.base)
}

// Host is the Graph API's host, for a work with a DOI.
func (s *semanticScholar) Host(w *openalex.Work) string {
	if w.DOI == "" {
		return ""
	}
	return hostOf(s.base)
}

// Host is the host of the work's first landing page.
func (*landingPage) Host(w *openalex.Work) string {
	for _, loc := range w.AllLocations() {
		if p := strings.TrimSpace(loc.LandingPageURL); p != "" {
			return hostOf(p)
		}
	}
	return ""
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Host
}
