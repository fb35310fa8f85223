package resolve

import (
	"context"
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/providers"
)

// openalexContent yields the work's content_urls.pdf, or
// {base}/works/{W-id}.pdf when the record does not name one, with the API key. Each
// download costs about openalex.PriceContentUSD; the candidate is marked Paid, so the
// downloader books it in the run's ledger and stops at the budget.
type openalexContent struct {
	base   string
	apiKey string
}

func (openalexContent) Name() string { return providers.OpenAlexContent }

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
	return []Candidate{{URL: u.String(), Resolver: providers.OpenAlexContent, Hint: KindPDF, Paid: true}}, nil
}
