package resolve

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
)

// MaxAPIResponseBytes bounds a resolver API's JSON answer (real ones are a few KiB;
// Crossref records with long reference lists reach a few hundred).
const MaxAPIResponseBytes = 8 << 20

// httpBase holds what the resolvers that make requests share.
type httpBase struct {
	ua   string
	doer Doer
	log  *slog.Logger
}

// getJSON GETs u (op Resolve) and decodes a 2xx JSON answer into v. found is false,
// with a nil error, for 404 and 410. Other non-2xx answers give an error wrapping
// *StatusError; errors never contain unredacted URLs.
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
	defer openalex.CloseBody(resp)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return false, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return false, openalex.NewStatusError(resp, u)
	}
	if err := openalex.DecodeJSON(resp.Body, MaxAPIResponseBytes, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", redact.Redact(u), err)
	}
	return true, nil
}

// openalexResolver reads the candidates straight off the OpenAlex record.
type openalexResolver struct{}

func (openalexResolver) Name() string { return NameOpenAlex }

// Resolve yields best_oa_location's pdf_url, then the pdf_url of the primary location
// and of every other location, then open_access.oa_url (which may be a landing page,
// hence KindUnknown). It makes no request.
func (openalexResolver) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	c := collector{name: NameOpenAlex}
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

func (*unpaywall) Name() string { return NameUnpaywall }

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
	c := collector{name: NameUnpaywall}
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

func (*crossref) Name() string { return NameCrossref }

type crossrefRecord struct {
	Message struct {
		Link []struct {
			URL         string `json:"URL"`
			ContentType string `json:"content-type"`
		} `json:"link"`
	} `json:"message"`
}

// Resolve yields message.link[] entries that are PDFs (content-type application/pdf,
// or unspecified with a path ending in .pdf), then the XML ones (text/xml or
// application/xml) as KindXML, each group in the record's order.
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
	pdfs := collector{name: NameCrossref}
	var xmls []string
	for _, l := range rec.Message.Link {
		switch mediaType(l.ContentType) {
		case "application/pdf":
			pdfs.add(l.URL, KindPDF)
		case "unspecified", "":
			if hasPDFPath(l.URL) {
				pdfs.add(l.URL, KindPDF)
			}
		case "text/xml", "application/xml":
			xmls = append(xmls, l.URL)
		}
	}
	for _, x := range xmls {
		pdfs.add(x, KindXML)
	}
	return pdfs.out, nil
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

// arxiv builds the export.arxiv.org PDF URL from the work's arXiv id.
type arxiv struct{ base string }

func (arxiv) Name() string { return NameArxiv }

// Resolve yields {base}/pdf/{id} when the work has an arXiv id. It makes no request.
func (a arxiv) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	id := w.ArxivID()
	if id == "" {
		return nil, nil
	}
	return []Candidate{{URL: a.base + "/pdf/" + id, Resolver: NameArxiv, Hint: KindPDF}}, nil
}

// europePMC builds Europe PMC render and full-text XML URLs from the PMCID.
type europePMC struct{ renderBase, restBase string }

func (europePMC) Name() string { return NameEuropePMC }

// Resolve yields the rendered PDF, then the JATS full-text XML, for a work with a
// PMCID. It makes no request; the downloader finds out whether they exist.
func (e europePMC) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	pmcid := openalex.NormalizePMCID(w.PMCID)
	if pmcid == "" {
		return nil, nil
	}
	return []Candidate{
		{URL: e.renderBase + "/backend/ptpmcrender.fcgi?accid=" + pmcid + "&blobtype=pdf", Resolver: NameEuropePMC, Hint: KindPDF},
		{URL: e.restBase + "/" + pmcid + "/fullTextXML", Resolver: NameEuropePMC, Hint: KindXML},
	}, nil
}

// semanticScholar asks the Graph API for the paper's open-access PDF.
type semanticScholar struct {
	*httpBase
	base   string
	apiKey string
}

func (*semanticScholar) Name() string { return NameSemanticScholar }

type s2Paper struct {
	OpenAccessPDF *struct {
		URL string `json:"url"`
	} `json:"openAccessPdf"`
}

// Resolve yields openAccessPdf.url for the work's DOI, sending x-api-key when set.
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
	if !found || p.OpenAccessPDF == nil {
		return nil, nil
	}
	c := collector{name: NameSemanticScholar}
	c.add(p.OpenAccessPDF.URL, KindPDF)
	return c.out, nil
}
