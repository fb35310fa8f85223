package resolve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/redact"
)

// MaxLandingBytes is how much of a landing page ExtractPDFLink reads. The
// citation_pdf_url meta tag lives in <head>, so a prefix is enough, and a hostile
// page cannot make the tokenizer buffer without bound.
const MaxLandingBytes = 2 << 20

// MaxLandingPages caps the landing pages fetched per work: works in many repositories
// list dozens of locations, and each page is one request to a publisher host.
const MaxLandingPages = 6

// maxAttrs bounds the attributes examined per tag.
const maxAttrs = 64

// ExtractPDFLink scans an HTML landing page for its full-text PDF link. In order of
// preference: <meta name="citation_pdf_url" content=…>, then
// <link rel="alternate" type="application/pdf" href=…>, then the first <a href> whose
// path ends in .pdf (query and fragment ignored). Links are resolved against base (or
// against the page's <base href> when it has one) and must end up absolute http(s)
// URLs. It reads at most MaxLandingBytes of r, tolerates malformed HTML, and never
// panics. base may be nil, in which case only absolute links count.
func ExtractPDFLink(r io.Reader, base *url.URL) (string, bool) {
	z := html.NewTokenizer(io.LimitReader(r, MaxLandingBytes))
	docBase, baseSeen := base, false
	var alternate, anchor string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr {
			continue
		}
		switch string(name) {
		case "meta":
			a := TagAttrs(z)
			if isCitationPDF(a["name"]) || isCitationPDF(a["property"]) {
				if u := resolveRef(docBase, a["content"]); u != "" {
					return u, true
				}
			}
		case "link":
			if alternate != "" {
				continue
			}
			a := TagAttrs(z)
			if hasToken(a["rel"], "alternate") && mediaType(a["type"]) == "application/pdf" {
				alternate = resolveRef(docBase, a["href"])
			}
		case "a":
			if anchor != "" {
				continue
			}
			if u := resolveRef(docBase, TagAttrs(z)["href"]); u != "" && hasPDFPath(u) {
				anchor = u
			}
		case "base":
			// Only the first <base href> counts (HTML spec), resolved against the page URL.
			if baseSeen {
				continue
			}
			if href, ok := TagAttrs(z)["href"]; ok {
				baseSeen = true
				if u := resolveRef(base, href); u != "" {
					docBase, _ = url.Parse(u)
				}
			}
		}
	}
	if alternate != "" {
		return alternate, true
	}
	if anchor != "" {
		return anchor, true
	}
	return "", false
}

// TagAttrs returns the first value of each attribute of the tokenizer's current tag
// (names are lower-cased by the tokenizer), looking at no more than maxAttrs
// attributes. The downloader's page classifier reads tags the same way.
func TagAttrs(z *html.Tokenizer) map[string]string {
	m := make(map[string]string, 4)
	for i := 0; i < maxAttrs; i++ {
		k, v, more := z.TagAttr()
		if _, dup := m[string(k)]; !dup {
			m[string(k)] = string(v)
		}
		if !more {
			break
		}
	}
	return m
}

func isCitationPDF(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "citation_pdf_url") }

// hasToken reports whether the space-separated list s contains tok (case-insensitive).
func hasToken(s, tok string) bool {
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// resolveRef resolves href against base and returns it if it is an absolute http(s)
// URL with a host, else "". Like browsers, it strips ASCII whitespace around the
// value and drops tabs and newlines inside it.
func resolveRef(base *url.URL, href string) string {
	href = strings.TrimSpace(href)
	if href == "" {
		return ""
	}
	href = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, href)
	ref, err := url.Parse(href)
	if err != nil {
		return ""
	}
	if base != nil {
		ref = base.ResolveReference(ref)
	}
	scheme := strings.ToLower(ref.Scheme)
	if (scheme != "http" && scheme != "https") || ref.Host == "" {
		return ""
	}
	return ref.String()
}

// landingPage fetches each landing page of the work and extracts its PDF link.
type landingPage struct {
	*httpBase
}

func (*landingPage) Name() string { return providers.LandingPage }

// Resolve fetches the distinct landing_page_url of the best, primary and other
// locations (at most MaxLandingPages), and yields the PDF link found on each. A landing
// URL that itself serves a PDF is yielded as it is; an HTML page is never yielded
// itself (the downloader keeps HTML full text from candidates it fetched anyway). A
// page that fails does not stop the others; errors are returned only when no page
// gave a candidate.
func (l *landingPage) Resolve(ctx context.Context, w *openalex.Work) ([]Candidate, error) {
	var pages []string
	var seen Seen
	for _, loc := range w.AllLocations() {
		p := strings.TrimSpace(loc.LandingPageURL)
		if p != "" && seen.Add(Candidate{URL: p}) {
			pages = append(pages, p)
		}
	}
	if len(pages) > MaxLandingPages {
		l.log.Debug("landing_page: too many landing pages, fetching the first ones", "work", w.ID, "pages", len(pages), "max", MaxLandingPages)
		pages = pages[:MaxLandingPages]
	}
	c := collector{name: providers.LandingPage}
	var errs []error
	for _, p := range pages {
		if err := ctx.Err(); err != nil {
			return c.out, err
		}
		link, hint, err := l.fetch(ctx, p)
		if err != nil {
			l.log.Debug("landing page failed", "work", w.ID, "url", redact.Redact(p), "err", err)
			errs = append(errs, err)
			continue
		}
		if link != "" {
			c.add(link, hint)
		}
	}
	if len(c.out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("landing_page: %w", errors.Join(errs...))
	}
	return c.out, nil
}

// fetch GETs one landing page and returns the PDF link it points to, if any.
func (l *landingPage) fetch(ctx context.Context, page string) (string, Kind, error) {
	hdr := http.Header{}
	hdr.Set("User-Agent", l.ua)
	hdr.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
	resp, err := l.doer.Get(ctx, policy.Resolve, page, hdr)
	if err != nil {
		return "", KindUnknown, redact.Error(err) // the Doer's error names the request and its URL
	}
	defer fetch.CloseBody(resp)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return "", KindUnknown, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return "", KindUnknown, fetch.NewStatusError(resp, page)
	}
	// Relative links resolve against the URL that answered, after redirects.
	base, err := url.Parse(page)
	if err != nil {
		return "", KindUnknown, nil
	}
	if resp.Request != nil && resp.Request.URL != nil {
		base = resp.Request.URL
	}
	br := bufio.NewReaderSize(resp.Body, 4096)
	head, _ := br.Peek(1024)
	if bytes.Contains(head, []byte("%PDF-")) {
		return page, KindPDF, nil // the "landing page" is the PDF itself
	}
	switch mt := mediaType(resp.Header.Get("Content-Type")); mt {
	case "", "text/html", "application/xhtml+xml", "text/plain", "application/octet-stream":
	default:
		l.log.Debug("landing page is not HTML", "url", redact.Redact(page), "content_type", mt)
		return "", KindUnknown, nil
	}
	link, ok := ExtractPDFLink(br, base)
	if !ok {
		return "", KindUnknown, nil
	}
	if link == page || link == base.String() {
		return "", KindUnknown, nil
	}
	return link, KindPDF, nil
}
