package resolve

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/redact"
)

// MaxAPIResponseBytes bounds a resolver API's JSON answer (real ones are a few KiB;
// Crossref records with long reference lists reach a few hundred).
const MaxAPIResponseBytes = 8 << 20

// httpBase holds what the resolvers that make requests share.
type httpBase struct {
	ua   string
	doer fetch.Doer
	log  *slog.Logger
}

// getJSON GETs u (op Resolve) and decodes a 2xx JSON answer into v. found is false,
// with a nil error, for 404 and 410. Other non-2xx answers give an error wrapping
// *fetch.Error; errors never contain unredacted URLs.
func (h *httpBase) getJSON(ctx context.Context, u string, hdr http.Header, v any) (found bool, err error) {
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("User-Agent", h.ua)
	hdr.Set("Accept", "application/json")
	resp, err := h.doer.Get(ctx, policy.Resolve, u, hdr)
	if err != nil {
		return false, redact.Error(err) // the Doer's error names the request and its URL
	}
	defer fetch.CloseBody(resp)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return false, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return false, fetch.NewStatusError(resp, u)
	}
	if err := fetch.DecodeJSON(resp.Body, MaxAPIResponseBytes, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", redact.Redact(u), err)
	}
	return true, nil
}

// openalexResolver reads the candidates straight off the OpenAlex record.
type openalexResolver struct{}

func (openalexResolver) Name() string { return providers.OpenAlex }

// Resolve yields best_oa_location's pdf_url, then the pdf_url of the primary location
// and of every other location, then open_access.oa_url (which may be a landing page,
// hence KindUnknown). It makes no request.
func (openalexResolver) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	c := collector{name: providers.OpenAlex}
	for _, l := range w.AllLocations() {
		c.add(l.PDFURL, KindPDF)
	}
	c.add(w.OAURL, KindUnknown)
	return c.out, nil
}

// unpaywall asks api.unpaywall.org/v2/{doi}.
type unpaywall struct {
	*httpBase
	base   string
	mailto string
}

func (*unpaywall) Name() string { return providers.Unpaywall }

type unpaywallLocation struct {
	URLForPDF string `json:"url_for_pdf"`
}

type unpaywallRecord struct {
	BestOALocation *unpaywallLocation  `json:"best_oa_location"`
	OALocations    []unpaywallLocation `json:"oa_locations"`
}

// Resolve yields best_oa_location.url_for_pdf, then every oa_locations[].url_for_pdf.
// It is skipped (nil, nil) for a work without DOI or when no mailto is configured,
// because Unpaywall rejects requests without an email.
func (u *unpaywall) Resolve(ctx context.Context, w *openalex.Work) ([]Candidate, error) {
	if w.DOI == "" {
		u.log.Debug("unpaywall skipped: work has no DOI", "work", w.ID)
		return nil, nil
	}
	if u.mailto == "" {
		u.log.Debug("unpaywall skipped: no mailto configured", "work", w.ID)
		return nil, nil
	}
	reqURL := u.base + "/v2/" + openalex.EscapeDOIPath(w.DOI) + "?email=" + url.QueryEscape(u.mailto)
	var rec unpaywallRecord
	found, err := u.getJSON(ctx, reqURL, nil, &rec)
	if err != nil {
		return nil, fmt.Errorf("unpaywall %s: %w", w.DOI, err)
	}
	if !found {
		return nil, nil
	}
	c := collector{name: providers.Unpaywall}
	if rec.BestOALocation != nil {
		c.add(rec.BestOALocation.URLForPDF, KindPDF)
	}
	for _, l := range rec.OALocations {
		c.add(l.URLForPDF, KindPDF)
	}
	return c.out, nil
}

// crossref asks api.crossref.org/works/{doi} for publisher full-text links.
type crossref struct {
	*httpBase
	base   string
	mailto string
}

func (*crossref) Name() string { return providers.Crossref }

type crossrefLink struct {
	URL                 string `json:"URL"`
	ContentType         string `json:"content-type"`
	ContentVersion      string `json:"content-version"`
	IntendedApplication string `json:"intended-application"`
}

type crossrefRecord struct {
	Message struct {
		Link []crossrefLink `json:"link"`
	} `json:"message"`
}

// rank orders a link within its kind: text-mining and version-of-record links first.
func (l crossrefLink) rank() int {
	r := 0
	if strings.EqualFold(strings.TrimSpace(l.IntendedApplication), "text-mining") {
		r += 2
	}
	if strings.EqualFold(strings.TrimSpace(l.ContentVersion), "vor") {
		r++
	}
	return r
}

// Resolve reads message.link[]. Links whose intended-application is
// similarity-checking are skipped: they point at staging copies for plagiarism
// checks. The rest yield, each group ordered text-mining first, then vor, then the
// record's order: the PDFs (content-type application/pdf, or unspecified with a path
// ending in .pdf or containing /pdf, as Wiley's /doi/pdf/… does), then the XML
// (text/xml, application/xml), then text/html links meant for text mining, which are
// labelled full text.
func (c *crossref) Resolve(ctx context.Context, w *openalex.Work) ([]Candidate, error) {
	if w.DOI == "" {
		c.log.Debug("crossref skipped: work has no DOI", "work", w.ID)
		return nil, nil
	}
	reqURL := c.base + "/works/" + openalex.EscapeDOIPath(w.DOI)
	if c.mailto != "" {
		reqURL += "?mailto=" + url.QueryEscape(c.mailto)
	}
	var rec crossrefRecord
	found, err := c.getJSON(ctx, reqURL, nil, &rec)
	if err != nil {
		return nil, fmt.Errorf("crossref %s: %w", w.DOI, err)
	}
	if !found {
		return nil, nil
	}
	return crossrefCandidates(rec.Message.Link), nil
}

func crossrefCandidates(links []crossrefLink) []Candidate {
	var pdfs, xmls, htmls []crossrefLink
	for _, l := range links {
		if strings.EqualFold(strings.TrimSpace(l.IntendedApplication), "similarity-checking") {
			continue
		}
		switch mediaType(l.ContentType) {
		case "application/pdf":
			pdfs = append(pdfs, l)
		case "unspecified", "":
			if hasPDFPath(l.URL) || hasPDFSegment(l.URL) {
				pdfs = append(pdfs, l)
			}
		case "text/xml", "application/xml":
			xmls = append(xmls, l)
		case "text/html":
			if l.rank() >= 2 {
				htmls = append(htmls, l)
			}
		}
	}
	c := collector{name: providers.Crossref}
	for _, g := range []struct {
		links    []crossrefLink
		kind     Kind
		fullText bool
	}{{pdfs, KindPDF, false}, {xmls, KindXML, false}, {htmls, KindHTML, true}} {
		sort.SliceStable(g.links, func(i, j int) bool { return g.links[i].rank() > g.links[j].rank() })
		for _, l := range g.links {
			c.addCandidate(Candidate{URL: l.URL, Hint: g.kind, FullText: g.fullText})
		}
	}
	return c.out
}

// hasPDFSegment reports whether the URL's path contains "/pdf" as the start of a
// segment (/pdf/, /doi/pdf/…, /pdfdirect/…).
func hasPDFSegment(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && strings.Contains(strings.ToLower(u.Path), "/pdf")
}

// mediaType returns the lower-case media type without parameters.
func mediaType(ct string) string {
	ct = strings.TrimSpace(ct)
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return strings.ToLower(ct)
}

// hasPDFPath reports whether the URL's path (not its query or fragment) ends in .pdf.
func hasPDFPath(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && strings.HasSuffix(strings.ToLower(u.Path), ".pdf")
}

// unpaywallHost is the public Unpaywall API's host: a link to it needs our e-mail.
var unpaywallHost = func() string {
	u, _ := url.Parse(providers.UnpaywallBase)
	return u.Hostname()
}()

// arxiv builds the export.arxiv.org PDF URL from the work's arXiv id.
type arxiv struct{ base string }

func (arxiv) Name() string { return providers.Arxiv }

// Resolve yields {base}/pdf/{id} when the work has an arXiv id. It makes no request.
func (a arxiv) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	id := w.ArxivID()
	if id == "" {
		return nil, nil
	}
	return []Candidate{a.candidate(id, providers.Arxiv)}, nil
}

func (a arxiv) candidate(id, resolver string) Candidate {
	return Candidate{URL: a.base + "/pdf/" + id, Resolver: resolver, Hint: KindPDF}
}

// europePMC builds Europe PMC render and full-text XML URLs from the PMCID.
type europePMC struct{ renderBase, restBase string }

func (europePMC) Name() string { return providers.EuropePMC }

// Resolve yields the rendered PDF, then the JATS full-text XML, for a work with a
// PMCID: ids.pmcid, or one named by a location URL (PMCIDOf). It makes no request;
// the downloader finds out whether they exist.
func (e europePMC) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	pmcid := PMCIDOf(w)
	if pmcid == "" {
		return nil, nil
	}
	return e.candidates(pmcid, providers.EuropePMC), nil
}

// candidates are the full-text endpoints of one PMCID. Both are labelled full text:
// Europe PMC serves only the article itself there.
func (e europePMC) candidates(pmcid, resolver string) []Candidate {
	return []Candidate{
		{URL: e.renderBase + "/backend/ptpmcrender.fcgi?accid=" + pmcid + "&blobtype=pdf", Resolver: resolver, Hint: KindPDF, FullText: true},
		{URL: e.restBase + "/" + pmcid + "/fullTextXML", Resolver: resolver, Hint: KindXML, FullText: true},
	}
}

// semanticScholar asks the Graph API for the paper's open-access PDF and the ids
// that lead to arXiv and Europe PMC.
type semanticScholar struct {
	*httpBase
	base   string
	apiKey string
	arxiv  arxiv
	epmc   europePMC
}

func (*semanticScholar) Name() string { return providers.SemanticScholar }

type s2Paper struct {
	OpenAccessPDF *struct {
		URL        string `json:"url"`
		Disclaimer string `json:"disclaimer"`
	} `json:"openAccessPdf"`
	ExternalIDs struct {
		ArXiv         string `json:"ArXiv"`
		PubMedCentral any    `json:"PubMedCentral"` // a string, though a number would not surprise
	} `json:"externalIds"`
}

// Resolve asks for the work's DOI (sending x-api-key when set) and yields, in order:
// openAccessPdf.url; when that is empty, the URLs its disclaimer names (an arXiv
// abs/pdf URL becomes the arXiv PDF, a PMC URL the Europe PMC endpoints, the DOI
// resolver and the Unpaywall API are skipped, any other URL is a candidate whose
// bytes decide); then the arXiv PDF of externalIds.ArXiv and the Europe PMC PDF and
// XML of externalIds.PubMedCentral.
func (s *semanticScholar) Resolve(ctx context.Context, w *openalex.Work) ([]Candidate, error) {
	if w.DOI == "" {
		s.log.Debug("semantic_scholar skipped: work has no DOI", "work", w.ID)
		return nil, nil
	}
	reqURL := s.base + "/graph/v1/paper/DOI:" + openalex.EscapeDOIPath(w.DOI) + "?fields=openAccessPdf,externalIds"
	hdr := http.Header{}
	if s.apiKey != "" {
		hdr.Set("x-api-key", s.apiKey)
	}
	var p s2Paper
	found, err := s.getJSON(ctx, reqURL, hdr, &p)
	if err != nil {
		return nil, fmt.Errorf("semantic_scholar %s: %w", w.DOI, err)
	}
	if !found {
		return nil, nil
	}
	return s.candidates(&p), nil
}

func (s *semanticScholar) candidates(p *s2Paper) []Candidate {
	c := collector{name: providers.SemanticScholar}
	if oa := p.OpenAccessPDF; oa != nil {
		if strings.TrimSpace(oa.URL) != "" {
			c.add(oa.URL, KindPDF)
		} else {
			for _, u := range URLsInText(oa.Disclaimer) {
				s.addNamed(&c, u)
			}
		}
	}
	if id := strings.TrimSpace(p.ExternalIDs.ArXiv); id != "" {
		c.addCandidate(s.arxiv.candidate(id, providers.SemanticScholar))
	}
	if pmcid := openalex.NormalizePMCID(jsonID(p.ExternalIDs.PubMedCentral)); pmcid != "" {
		for _, cand := range s.epmc.candidates(pmcid, providers.SemanticScholar) {
			c.addCandidate(cand)
		}
	}
	return c.out
}

// jsonID renders an id that JSON gave as a string or a number ("5815332" either way).
func jsonID(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x >= 0 && x == math.Trunc(x) && x < 1e15 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	return ""
}

// addNamed adds a URL named in a disclaimer.
func (s *semanticScholar) addNamed(c *collector, u string) {
	if id := ArxivIDFromURL(u); id != "" {
		c.addCandidate(s.arxiv.candidate(id, providers.SemanticScholar))
		return
	}
	if pmcid := PMCIDFromURL(u); pmcid != "" {
		for _, cand := range s.epmc.candidates(pmcid, providers.SemanticScholar) {
			c.addCandidate(cand)
		}
		return
	}
	pu, err := url.Parse(u)
	if err != nil {
		return
	}
	switch host := strings.ToLower(pu.Hostname()); {
	case host == "doi.org" || host == "dx.doi.org" || host == unpaywallHost || strings.Contains(u, "<"):
		return // the DOI itself (a landing page) or an API that needs our e-mail
	}
	c.add(u, KindUnknown)
}
