package resolve

import (
	"context"
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/openalex"
)

// NameOpenAlexContent is the optional, paid resolver: OpenAlex's own copies of PDFs
// on content.openalex.org. It is not in the default order; it runs only when listed.
const NameOpenAlexContent = "openalex_content"

// DefaultOpenAlexContentBase is the root of OpenAlex's PDF service.
const DefaultOpenAlexContentBase = "https://content.openalex.org"

// openalexContent yields the work's content_urls.pdf, or
// {base}/works/{W-id}.pdf when the record does not name one, with the API key. Each
// download costs about openalex.PriceContentUSD; the candidate is marked Paid, so the
// downloader books it in the run's ledger and stops at the budget.
type openalexContent struct {
	base   string
	apiKey string
}

func (openalexContent) Name() string { return NameOpenAlexContent }

func (o openalexContent) Resolve(_ context.Context, w *openalex.Work) ([]Candidate, error) {
	raw := strings.TrimSpace(w.ContentPDFURL)
	if raw == "" {
		if w.ID == "" {
			return nil, nil
		}
		raw = o.base + "/works/" + url.PathEscape(w.ID) + ".pdf"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil
	}
	q := u.Query()
	q.Set("api_key", o.apiKey)
	u.RawQuery = q.Encode()
	return []Candidate{{URL: u.String(), Resolver: NameOpenAlexContent, Hint: KindPDF, Paid: true}}, nil
}
