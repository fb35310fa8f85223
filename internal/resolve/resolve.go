// Package resolve turns a discovered work into candidate full-text URLs. Each resolver
// asks one source (the OpenAlex record itself, Unpaywall, Crossref, arXiv, Europe PMC,
// Semantic Scholar, or the work's landing pages) and yields candidates in its own
// preference order; the downloader walks the chain, de-duplicates with Seen, and stops
// at the first valid PDF.
//
// Every request goes through a fetch.Doer with op policy.Resolve, so host politeness
// and retries are handled underneath. A resolver returns (nil, nil) when it has nothing
// to say about a work (no DOI, unknown DOI, no open copy); it returns an error wrapping
// a *fetch.Error (fetch.NewStatusError) for any other non-2xx answer, so the caller can
// see a 429 and defer.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/providers"
)

// Kind hints at what a candidate URL serves. It is a hint only: the downloader sniffs
// the bytes.
type Kind uint8

// The kinds of candidate.
const (
	KindUnknown Kind = iota
	KindPDF
	KindXML
	KindHTML
)

// String returns "unknown", "pdf", "xml" or "html".
func (k Kind) String() string {
	switch k {
	case KindPDF:
		return "pdf"
	case KindXML:
		return "xml"
	case KindHTML:
		return "html"
	}
	return "unknown"
}

// Candidate is a URL that may serve the work's full text.
type Candidate struct {
	URL      string
	Resolver string // the Name() of the resolver that found it
	Hint     Kind
	// FullText says the source itself labels the URL as the work's full text (a
	// Crossref text/html link for text mining, a Europe PMC full-text endpoint), so
	// an HTML answer from it is kept unless it is a bot check or a paywall.
	FullText bool
	// Paid says fetching the URL costs OpenAlex credits (openalex_content).
	Paid bool
}

// Resolver finds candidates for a work.
type Resolver interface {
	Name() string
	Resolve(ctx context.Context, w *openalex.Work) ([]Candidate, error)
}

// Options configures the resolvers. Empty base URLs take the providers table's
// defaults (providers.UnpaywallBase, …).
//
// Europe PMC serves rendered PDFs from europepmc.org and full-text XML from the REST
// API on www.ebi.ac.uk. With EuropePMCBase empty or equal to providers.EuropePMCBase both
// real hosts are used. Any other EuropePMCBase (a mirror, a test server, the
// simulator) serves both from one root: {base}/backend/ptpmcrender.fcgi?accid=PMC<n>&blobtype=pdf
// and {base}/rest/PMC<n>/fullTextXML.
type Options struct {
	Mailto                string // contact e-mail: Unpaywall's email= (required by it) and Crossref's mailto=
	UnpaywallBase         string
	CrossrefBase          string
	ArxivBase             string
	EuropePMCBase         string
	SemanticScholarBase   string
	SemanticScholarAPIKey string // sent as x-api-key when set
	OpenAlexContentBase   string // openalex_content's root (providers.OpenAlexContentBase when empty)
	OpenAlexAPIKey        string // openalex_content sends it as api_key; required by it
	UserAgent             string
	Doer                  fetch.Doer
	Logger                *slog.Logger
}

// New builds the named resolver. An unknown name, an invalid base URL, or a missing
// Doer for a resolver that makes requests is an error.
func New(name string, o Options) (Resolver, error) {
	h := &httpBase{ua: o.UserAgent, doer: o.Doer, log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.ua == "" {
		h.ua = "contentdl"
	}
	switch name {
	case providers.Unpaywall, providers.Crossref, providers.SemanticScholar, providers.LandingPage:
		if o.Doer == nil {
			return nil, fmt.Errorf("resolver %s needs a Doer", name)
		}
	}
	switch name {
	case providers.OpenAlex:
		return openalexResolver{}, nil
	case providers.Unpaywall:
		base, err := baseURL(name, o.UnpaywallBase, providers.UnpaywallBase)
		if err != nil {
			return nil, err
		}
		return &unpaywall{httpBase: h, base: base, mailto: o.Mailto}, nil
	case providers.Crossref:
		base, err := baseURL(name, o.CrossrefBase, providers.CrossrefBase)
		if err != nil {
			return nil, err
		}
		return &crossref{httpBase: h, base: base, mailto: o.Mailto}, nil
	case providers.Arxiv:
		base, err := baseURL(name, o.ArxivBase, providers.ArxivBase)
		if err != nil {
			return nil, err
		}
		return arxiv{base: base}, nil
	case providers.EuropePMC:
		return newEuropePMC(o.EuropePMCBase)
	case providers.SemanticScholar:
		base, err := baseURL(name, o.SemanticScholarBase, providers.SemanticScholarBase)
		if err != nil {
			return nil, err
		}
		ab, err := baseURL(providers.Arxiv, o.ArxivBase, providers.ArxivBase)
		if err != nil {
			return nil, err
		}
		ep, err := newEuropePMC(o.EuropePMCBase)
		if err != nil {
			return nil, err
		}
		return &semanticScholar{httpBase: h, base: base, apiKey: o.SemanticScholarAPIKey, arxiv: arxiv{base: ab}, epmc: ep}, nil
	case providers.LandingPage:
		return &landingPage{httpBase: h}, nil
	case providers.OpenAlexContent:
		base, err := baseURL(name, o.OpenAlexContentBase, providers.OpenAlexContentBase)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(o.OpenAlexAPIKey) == "" {
			return nil, fmt.Errorf("resolver %s needs an OpenAlex API key (set DOCSTOKG_OPENALEX_API_KEY)", name)
		}
		return openalexContent{base: base, apiKey: strings.TrimSpace(o.OpenAlexAPIKey)}, nil
	}
	return nil, fmt.Errorf("unknown resolver %q (valid: %s)", name, strings.Join(providers.ResolverNames(), ", "))
}

func newEuropePMC(configured string) (europePMC, error) {
	base, err := baseURL(providers.EuropePMC, configured, providers.EuropePMCBase)
	if err != nil {
		return europePMC{}, err
	}
	r := europePMC{renderBase: base, restBase: base + "/rest"}
	if sameBase(base, providers.EuropePMCBase) {
		r.restBase = providers.EuropePMCRestBase
	}
	return r, nil
}

// Chain builds the resolvers named in order (the default order when order is empty).
// Names are trimmed and compared case-insensitively; a name listed twice is an error.
func Chain(order []string, o Options) ([]Resolver, error) {
	if len(order) == 0 {
		order = providers.DefaultOrder()
	}
	seen := make(map[string]bool, len(order))
	out := make([]Resolver, 0, len(order))
	var errs []error
	for _, raw := range order {
		name := strings.ToLower(strings.TrimSpace(raw))
		if seen[name] {
			errs = append(errs, fmt.Errorf("resolver %q listed twice", name))
			continue
		}
		seen[name] = true
		r, err := New(name, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// baseURL validates a configured base URL (or takes the default) and drops any
// trailing slash.
func baseURL(resolver, configured, def string) (string, error) {
	b := strings.TrimSpace(configured)
	if b == "" {
		b = def
	}
	u, err := url.Parse(b)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("resolver %s: base URL %q must be an absolute http(s) URL without query", resolver, b)
	}
	return strings.TrimRight(b, "/"), nil
}

func sameBase(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimRight(ua.Path, "/") == strings.TrimRight(ub.Path, "/")
}

// collector gathers a resolver's candidates in order, dropping duplicates and URLs
// that are not http(s).
type collector struct {
	name string
	seen Seen
	out  []Candidate
}

func (c *collector) add(rawURL string, hint Kind) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		return
	}
	c.addCandidate(Candidate{URL: rawURL, Resolver: c.name, Hint: hint})
}

// addCandidate adds cand unless its canonical URL was added before; when the earlier
// one was the http form and cand is the https form, the earlier one becomes https.
func (c *collector) addCandidate(cand Candidate) {
	cand.URL = strings.TrimSpace(cand.URL)
	if cand.Resolver == "" {
		cand.Resolver = c.name
	}
	if c.seen.Add(cand) {
		c.out = append(c.out, cand)
		return
	}
	for i := range c.out {
		if preferHTTPS(c.out[i].URL, cand.URL) {
			c.out[i].URL = cand.URL
			c.out[i].FullText = c.out[i].FullText || cand.FullText
			return
		}
	}
}
