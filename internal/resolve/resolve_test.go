package resolve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/testkit"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// server is a recording server (testkit.Server) that also notes the op each call
// came with.
type server struct {
	srv *testkit.Server
	mu  sync.Mutex
	ops []policy.OperationType
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	return &server{srv: testkit.NewServer(t, h)}
}

func (s *server) requests() []*http.Request { return s.srv.Requests() }

// doer adapts the server's client to fetch.Doer and records the operation of each call.
func (s *server) doer() fetch.Doer {
	cd := fetch.ClientDoer{Client: s.srv.Client()}
	return fetch.DoerFunc(func(ctx context.Context, op policy.OperationType, u string, hdr http.Header) (*http.Response, error) {
		s.mu.Lock()
		s.ops = append(s.ops, op)
		s.mu.Unlock()
		return cd.Get(ctx, op, u, hdr)
	})
}

func (s *server) options() Options {
	return Options{
		Mailto: "me@example.org", UnpaywallBase: s.srv.URL, CrossrefBase: s.srv.URL, ArxivBase: s.srv.URL,
		EuropePMCBase: s.srv.URL, SemanticScholarBase: s.srv.URL, SemanticScholarAPIKey: "s2-key",
		UserAgent: "contentdl/test (mailto:me@example.org)", Doer: s.doer(),
	}
}

func newResolver(t *testing.T, name string, o Options) Resolver {
	t.Helper()
	r, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != name {
		t.Fatalf("Name() = %q, want %q", r.Name(), name)
	}
	return r
}

func urls(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.URL)
	}
	return out
}

func checkCandidates(t *testing.T, got []Candidate, resolver string, want []string, hints []Kind) {
	t.Helper()
	if !reflect.DeepEqual(urls(got), want) {
		t.Fatalf("candidates = %q\nwant %q", urls(got), want)
	}
	for i, c := range got {
		if c.Resolver != resolver || c.Hint != hints[i] {
			t.Fatalf("candidate %d = %+v, want resolver %s hint %v", i, c, resolver, hints[i])
		}
	}
}

var peerj = &openalex.Work{ID: "W2741809807", DOI: "10.7717/peerj.4375", PMCID: "PMC5815332"}

func TestNamesNewChain(t *testing.T) {
	want := []string{"openalex", "unpaywall", "crossref", "arxiv", "europe_pmc", "semantic_scholar", "landing_page"}
	if !reflect.DeepEqual(providers.DefaultOrder(), want) {
		t.Fatalf("providers.DefaultOrder() = %v", providers.DefaultOrder())
	}
	o := Options{Doer: fetch.ClientDoer{}}
	// Every resolver of the providers table can be built, and names itself as listed.
	for _, name := range providers.ResolverNames() {
		r, err := New(name, Options{Doer: o.Doer, OpenAlexAPIKey: "k"})
		if err != nil || r.Name() != name {
			t.Errorf("New(%s) = %v, %v; every name in providers.Resolvers must build", name, r, err)
		}
	}
	chain, err := Chain(nil, o)
	if err != nil || len(chain) != len(want) {
		t.Fatalf("default chain: %v, %v", chain, err)
	}
	for i, r := range chain {
		if r.Name() != want[i] {
			t.Fatalf("chain[%d] = %s", i, r.Name())
		}
	}
	chain, err = Chain([]string{" Landing_Page", "openalex"}, o)
	if err != nil || chain[0].Name() != "landing_page" || chain[1].Name() != "openalex" {
		t.Fatalf("custom chain: %v, %v", chain, err)
	}

	_, err = New("pubmed", o)
	if err == nil || !strings.Contains(err.Error(), `"pubmed"`) || !strings.Contains(err.Error(), strings.Join(want, ", ")) {
		t.Fatalf("unknown name error = %v", err)
	}
	if _, err := Chain([]string{"arxiv", "ARXIV"}, o); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate error = %v", err)
	}
	if _, err := New("unpaywall", Options{UnpaywallBase: "ftp://x"}); err == nil {
		t.Fatal("missing Doer / bad base accepted")
	}
	for _, bad := range []string{"not a url", "/relative", "ftp://x.org", "https://x.org/?q=1"} {
		if _, err := New("crossref", Options{Doer: o.Doer, CrossrefBase: bad}); err == nil || !strings.Contains(err.Error(), "crossref") {
			t.Errorf("base %q: err = %v", bad, err)
		}
	}
	for _, name := range []string{"unpaywall", "crossref", "semantic_scholar", "landing_page"} {
		if _, err := New(name, Options{}); err == nil || !strings.Contains(err.Error(), "Doer") {
			t.Errorf("%s without Doer: err = %v", name, err)
		}
	}
	for _, name := range []string{"openalex", "arxiv", "europe_pmc"} {
		if _, err := New(name, Options{}); err != nil {
			t.Errorf("%s needs no Doer: %v", name, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindUnknown: "unknown", KindPDF: "pdf", KindXML: "xml", KindHTML: "html", Kind(99): "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %q", k, k.String())
		}
	}
}

func TestOpenAlexResolver(t *testing.T) {
	w := &openalex.Work{
		ID:      "W1",
		OAURL:   "https://doi.org/10.1/x",
		Best:    &openalex.Location{PDFURL: "https://repo.example/best.pdf", LandingPageURL: "https://repo.example/rec"},
		Primary: &openalex.Location{PDFURL: "https://publisher.example/primary.pdf"},
		Locations: []openalex.Location{
			{PDFURL: "https://publisher.example/primary.pdf"},
			{PDFURL: ""},
			{PDFURL: "HTTPS://REPO.EXAMPLE/best.pdf#page=1"}, // same as best after normalisation
			{PDFURL: " https://mirror.example/m.pdf "},
			{PDFURL: "ftp://old.example/x.pdf"},
		},
	}
	got, err := newResolver(t, "openalex", Options{}).Resolve(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "openalex",
		[]string{"https://repo.example/best.pdf", "https://publisher.example/primary.pdf", "https://mirror.example/m.pdf", "https://doi.org/10.1/x"},
		[]Kind{KindPDF, KindPDF, KindPDF, KindUnknown})

	if got, err := newResolver(t, "openalex", Options{}).Resolve(context.Background(), &openalex.Work{ID: "W2"}); got != nil || err != nil {
		t.Fatalf("empty work: %v, %v", got, err)
	}
}

func TestUnpaywall(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/10.7717/peerj.4375":
			_, _ = w.Write(fixture(t, "unpaywall_peerj.json"))
		case "/v2/10.1016/j.closed.2020.01.001":
			_, _ = w.Write(fixture(t, "unpaywall_closed.json"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"HTTP_status_code": 404, "error": true, "message": "'10.1/missing' is an invalid doi."}`)
		}
	})
	r := newResolver(t, "unpaywall", s.options())
	got, err := r.Resolve(context.Background(), peerj)
	if err != nil {
		t.Fatal(err)
	}
	// best first; the duplicate of best, the null url_for_pdf and the ftp URL are dropped.
	checkCandidates(t, got, "unpaywall",
		[]string{"https://peerj.com/articles/4375.pdf", "https://eprints.example.ac.uk/4375/1/peerj-4375.pdf"},
		[]Kind{KindPDF, KindPDF})
	req := s.requests()[0]
	if req.URL.Query().Get("email") != "me@example.org" || len(req.URL.Query()) != 1 {
		t.Fatalf("query = %v", req.URL.Query())
	}
	if req.Header.Get("User-Agent") != "contentdl/test (mailto:me@example.org)" || req.Header.Get("Accept") != "application/json" {
		t.Fatalf("headers = %v", req.Header)
	}
	if s.ops[0] != policy.Resolve {
		t.Fatalf("op = %v", s.ops[0])
	}

	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W3", DOI: "10.1016/j.closed.2020.01.001"}); got != nil || err != nil {
		t.Fatalf("closed: %v, %v", got, err)
	}
	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W4", DOI: "10.1/missing"}); got != nil || err != nil {
		t.Fatalf("404: %v, %v", got, err)
	}

	// Skipped without a request: no DOI, or no mailto.
	n := len(s.requests())
	var logs bytes.Buffer
	o := s.options()
	o.Mailto = ""
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if got, err := newResolver(t, "unpaywall", o).Resolve(context.Background(), peerj); got != nil || err != nil {
		t.Fatalf("no mailto: %v, %v", got, err)
	}
	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W5"}); got != nil || err != nil {
		t.Fatalf("no DOI: %v, %v", got, err)
	}
	if len(s.requests()) != n {
		t.Fatal("a skipped lookup sent a request")
	}
	if !strings.Contains(logs.String(), "no mailto") {
		t.Fatalf("skip not logged: %s", logs.String())
	}
}

// TestAPIErrors runs every API resolver against the same failure modes.
func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		check  func(t *testing.T, err error)
	}{
		{"rate limited", 429, map[string]string{"Retry-After": "120"}, `{"message":"Too Many Requests"}`, func(t *testing.T, err error) {
			var se *fetch.Error
			if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != "120" {
				t.Fatalf("err = %v", err)
			}
		}},
		{"unprocessable", 422, nil, `{"error":true,"message":"Please specify your email"}`, func(t *testing.T, err error) {
			var se *fetch.Error
			if !errors.As(err, &se) || se.Status != 422 {
				t.Fatalf("err = %v", err)
			}
		}},
		{"server error", 500, nil, `oops`, func(t *testing.T, err error) {
			var se *fetch.Error
			if !errors.As(err, &se) || se.Status != 500 {
				t.Fatalf("err = %v", err)
			}
		}},
		{"malformed", 200, nil, `{"best_oa_location": {"url_for_pdf": `, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "decode") {
				t.Fatalf("err = %v", err)
			}
		}},
		{"html instead of json", 200, nil, `<html><body>Service Unavailable</body></html>`, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "decode") {
				t.Fatalf("err = %v", err)
			}
		}},
		{"too large", 200, nil, `{"x":"` + strings.Repeat("a", MaxAPIResponseBytes) + `"}`, func(t *testing.T, err error) {
			if !errors.Is(err, fetch.ErrBodyTooLarge) {
				t.Fatalf("err = %v", err)
			}
		}},
	}
	for _, name := range []string{"unpaywall", "crossref", "semantic_scholar"} {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				})
				got, err := newResolver(t, name, s.options()).Resolve(context.Background(), peerj)
				if err == nil || got != nil {
					t.Fatalf("got %v, %v; want an error", got, err)
				}
				tt.check(t, err)
				msg := err.Error()
				if !strings.Contains(msg, name) || !strings.Contains(msg, peerj.DOI) {
					t.Fatalf("error lacks resolver and DOI: %v", err)
				}
				if strings.Contains(msg, "me@example.org") || strings.Contains(msg, "s2-key") {
					t.Fatalf("secret in error: %v", err)
				}
			})
		}
	}
}

func TestTransportErrorIsRedacted(t *testing.T) {
	o := Options{Mailto: "me@example.org", UnpaywallBase: "http://127.0.0.1:1", Doer: fetch.ClientDoer{}}
	_, err := newResolver(t, "unpaywall", o).Resolve(context.Background(), peerj)
	if err == nil || strings.Contains(err.Error(), "me@example.org") || !strings.Contains(err.Error(), "email=REDACTED") {
		t.Fatalf("err = %v", err)
	}
}

func TestCrossref(t *testing.T) {
	const doi = "10.5555/kg.2021.001"
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/works/"+doi {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(fixture(t, "crossref_work.json"))
	})
	r := newResolver(t, "crossref", s.options())
	got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W1", DOI: doi})
	if err != nil {
		t.Fatal(err)
	}
	// similarity-checking links (the .PDF?download=1 one and the staging host) are
	// skipped; text-mining and vor come first in each group; the unspecified Wiley-style
	// /doi/pdf/ link is a PDF, offered over http and https, fetched as https; the
	// text-mining text/html link comes last, labelled full text.
	checkCandidates(t, got, "crossref", []string{
		"https://publisher.example.com/content/pdf/10.5555/kg.2021.001.pdf",
		"https://onlinelibrary.example.com/doi/pdf/10.5555/kg.2021.001",
		"https://publisher.example.com/content/pdf/am/kg.2021.001.pdf",
		"https://publisher.example.com/content/xml/10.5555/kg.2021.001.xml",
		"https://tdm.example.com/api/kg.2021.001",
		"https://publisher.example.com/content/html/10.5555/kg.2021.001",
	}, []Kind{KindPDF, KindPDF, KindPDF, KindXML, KindXML, KindHTML})
	for i, c := range got {
		if c.FullText != (c.Hint == KindHTML) {
			t.Errorf("candidate %d %s: FullText %t", i, c.URL, c.FullText)
		}
		if strings.Contains(c.URL, "similarity") || strings.Contains(c.URL, "download=1") {
			t.Errorf("similarity-checking link offered: %s", c.URL)
		}
	}
	if q := s.requests()[0].URL.Query(); q.Get("mailto") != "me@example.org" || len(q) != 1 {
		t.Fatalf("query = %v", q)
	}
	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W2", DOI: "10.5555/unknown"}); got != nil || err != nil {
		t.Fatalf("404: %v, %v", got, err)
	}
	n := len(s.requests())
	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W3"}); got != nil || err != nil || len(s.requests()) != n {
		t.Fatalf("no DOI: %v, %v", got, err)
	}
	// Without a mailto the parameter is left out.
	o := s.options()
	o.Mailto = ""
	if _, err := newResolver(t, "crossref", o).Resolve(context.Background(), &openalex.Work{ID: "W1", DOI: doi}); err != nil {
		t.Fatal(err)
	}
	if last := s.requests()[len(s.requests())-1]; last.URL.RawQuery != "" {
		t.Fatalf("query without mailto = %q", last.URL.RawQuery)
	}
}

func TestDOIPathEscaping(t *testing.T) {
	const doi = "10.1002/(sici)1097-4636(199706)35:4<413::aid-jbm1>3.0.co;2-#"
	tests := map[string]string{
		"unpaywall":        "/v2/" + doi,
		"crossref":         "/works/" + doi,
		"semantic_scholar": "/graph/v1/paper/DOI:" + doi,
	}
	for name, wantPath := range tests {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{}`)
		})
		if _, err := newResolver(t, name, s.options()).Resolve(context.Background(), &openalex.Work{ID: "W1", DOI: doi}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		req := s.requests()[0]
		if req.URL.Path != wantPath {
			t.Errorf("%s: path = %q, want %q", name, req.URL.Path, wantPath)
		}
		if esc := req.URL.EscapedPath(); strings.ContainsAny(esc, "<>#;") || strings.Count(esc, "/") != strings.Count(wantPath, "/") {
			t.Errorf("%s: escaped path = %q", name, esc)
		}
	}
}

func TestSemanticScholar(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/graph/v1/paper/DOI:10.7717/peerj.4375":
			_, _ = w.Write(fixture(t, "semantic_scholar_paper.json"))
		case "/graph/v1/paper/DOI:10.1016/j.closed.2020.01.001":
			_, _ = w.Write(fixture(t, "semantic_scholar_no_pdf.json"))
		case "/graph/v1/paper/DOI:10.65215/2q58a426":
			_, _ = w.Write(fixture(t, "semantic_scholar_disclaimer_arxiv.json"))
		case "/graph/v1/paper/DOI:10.1371/journal.pone.0000001":
			_, _ = w.Write(fixture(t, "semantic_scholar_disclaimer_pmc.json"))
		case "/graph/v1/paper/DOI:10.1/null-pdf":
			_, _ = io.WriteString(w, `{"paperId":"x","externalIds":{},"openAccessPdf":null}`)
		case "/graph/v1/paper/DOI:10.1/disclaimer-api":
			_, _ = io.WriteString(w, `{"paperId":"x","externalIds":{},"openAccessPdf":{"url":"","disclaimer":`+
				`"Notice: see https://api.unpaywall.org/v2/10.1/disclaimer-api?email=x@example.org and https://doi.org/10.1/disclaimer-api, also at https://repo.example/p.pdf."}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"Paper with id DOI:10.1/nope not found"}`)
		}
	})
	r := newResolver(t, "semantic_scholar", s.options())
	got, err := r.Resolve(context.Background(), peerj)
	if err != nil {
		t.Fatal(err)
	}
	// openAccessPdf.url first, then Europe PMC for externalIds.PubMedCentral.
	checkCandidates(t, got, "semantic_scholar", []string{"https://peerj.com/articles/4375.pdf",
		s.srv.URL + "/backend/ptpmcrender.fcgi?accid=PMC5815332&blobtype=pdf", s.srv.URL + "/rest/PMC5815332/fullTextXML"},
		[]Kind{KindPDF, KindPDF, KindXML})
	req := s.requests()[0]
	if req.URL.RawQuery != "fields=openAccessPdf,externalIds" {
		t.Fatalf("query = %q", req.URL.RawQuery)
	}
	if req.Header.Get("X-Api-Key") != "s2-key" {
		t.Fatalf("x-api-key = %q", req.Header.Get("X-Api-Key"))
	}
	// An empty url with a disclaimer naming arXiv: the arXiv PDF, once (externalIds.ArXiv
	// names the same one).
	got, err = r.Resolve(context.Background(), &openalex.Work{ID: "W2", DOI: "10.65215/2q58a426"})
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "semantic_scholar", []string{s.srv.URL + "/pdf/1706.03762"}, []Kind{KindPDF})
	// A disclaimer naming PMC and a repository PDF: Europe PMC, then the repository.
	got, err = r.Resolve(context.Background(), &openalex.Work{ID: "W3", DOI: "10.1371/journal.pone.0000001"})
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "semantic_scholar", []string{
		s.srv.URL + "/backend/ptpmcrender.fcgi?accid=PMC1762313&blobtype=pdf", s.srv.URL + "/rest/PMC1762313/fullTextXML",
		"https://repository.example.edu/bitstream/1234/paper.pdf"}, []Kind{KindPDF, KindXML, KindUnknown})
	// A disclaimer naming the Unpaywall API (it needs our e-mail) and the DOI (the
	// landing page itself): only the repository.
	got, err = r.Resolve(context.Background(), &openalex.Work{ID: "W4", DOI: "10.1/disclaimer-api"})
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "semantic_scholar", []string{"https://repo.example/p.pdf"}, []Kind{KindUnknown})
	for _, doi := range []string{"10.1016/j.closed.2020.01.001", "10.1/null-pdf", "10.1/nope"} {
		if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W", DOI: doi}); got != nil || err != nil {
			t.Errorf("%s: %v, %v", doi, got, err)
		}
	}
	o := s.options()
	o.SemanticScholarAPIKey = ""
	if _, err := newResolver(t, "semantic_scholar", o).Resolve(context.Background(), peerj); err != nil {
		t.Fatal(err)
	}
	if _, has := s.requests()[len(s.requests())-1].Header["X-Api-Key"]; has {
		t.Fatal("x-api-key sent although unset")
	}
}

func TestArxiv(t *testing.T) {
	w := &openalex.Work{ID: "W1", Best: &openalex.Location{LandingPageURL: "https://arxiv.org/abs/1706.03762v5"}}
	got, err := newResolver(t, "arxiv", Options{}).Resolve(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "arxiv", []string{"https://export.arxiv.org/pdf/1706.03762v5"}, []Kind{KindPDF})

	got, _ = newResolver(t, "arxiv", Options{ArxivBase: "http://127.0.0.1:9999/"}).Resolve(context.Background(),
		&openalex.Work{ID: "W2", DOI: "10.48550/arxiv.hep-th/9901001"})
	checkCandidates(t, got, "arxiv", []string{"http://127.0.0.1:9999/pdf/hep-th/9901001"}, []Kind{KindPDF})

	if got, err := newResolver(t, "arxiv", Options{}).Resolve(context.Background(), peerj); got != nil || err != nil {
		t.Fatalf("non-arXiv work: %v, %v", got, err)
	}
}

func TestEuropePMC(t *testing.T) {
	tests := []struct {
		name, base string
		want       []string
	}{
		{"default hosts", "", []string{
			"https://europepmc.org/backend/ptpmcrender.fcgi?accid=PMC5815332&blobtype=pdf",
			"https://www.ebi.ac.uk/europepmc/webservices/rest/PMC5815332/fullTextXML"}},
		{"default base given explicitly", "https://europepmc.org/", []string{
			"https://europepmc.org/backend/ptpmcrender.fcgi?accid=PMC5815332&blobtype=pdf",
			"https://www.ebi.ac.uk/europepmc/webservices/rest/PMC5815332/fullTextXML"}},
		{"custom base serves both", "http://127.0.0.1:8080/epmc", []string{
			"http://127.0.0.1:8080/epmc/backend/ptpmcrender.fcgi?accid=PMC5815332&blobtype=pdf",
			"http://127.0.0.1:8080/epmc/rest/PMC5815332/fullTextXML"}},
	}
	for _, tt := range tests {
		got, err := newResolver(t, "europe_pmc", Options{EuropePMCBase: tt.base}).Resolve(context.Background(), peerj)
		if err != nil {
			t.Fatal(err)
		}
		checkCandidates(t, got, "europe_pmc", tt.want, []Kind{KindPDF, KindXML})
	}
	r := newResolver(t, "europe_pmc", Options{})
	got, _ := r.Resolve(context.Background(), &openalex.Work{ID: "W1", PMCID: "12345"})
	if len(got) != 2 || !strings.Contains(got[0].URL, "accid=PMC12345&") {
		t.Fatalf("unnormalised PMCID: %v", got)
	}
	for _, pmcid := range []string{"", "PMC12x", "PMC1&blobtype=evil"} {
		if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W1", PMCID: pmcid}); got != nil || err != nil {
			t.Errorf("PMCID %q: %v, %v", pmcid, got, err)
		}
	}
}

func TestLandingPage(t *testing.T) {
	var srvURL string
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/article/kg":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(fixture(t, "landing_citation_meta.html"))
		case "/doi/10.5555/repo":
			http.Redirect(w, r, srvURL+"/handle/1/3", http.StatusFound)
		case "/handle/1/3":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(fixture(t, "landing_link_alternate.html"))
		case "/direct":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")
		case "/fulltext":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(fixture(t, "landing_fulltext_no_pdf.html"))
		case "/self":
			_, _ = io.WriteString(w, `<meta name="citation_pdf_url" content="/self">`)
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"a":"<a href='/j.pdf'>"}`)
		case "/gone":
			http.NotFound(w, r)
		case "/limited":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			t.Errorf("unexpected request %s", r.URL)
			http.NotFound(w, r)
		}
	})
	srvURL = s.srv.URL
	u := func(p string) string { return srvURL + p }
	w := &openalex.Work{
		ID:      "W1",
		Best:    &openalex.Location{LandingPageURL: u("/article/kg")},
		Primary: &openalex.Location{LandingPageURL: u("/article/kg#abstract")}, // same page
		Locations: []openalex.Location{
			{LandingPageURL: u("/fulltext")},
			{LandingPageURL: "mailto:x@example.org"},
			{LandingPageURL: u("/doi/10.5555/repo")},
			{LandingPageURL: u("/json")},
			{LandingPageURL: u("/direct")},
			{LandingPageURL: u("/self")},
			{LandingPageURL: u("/never-fetched")}, // beyond MaxLandingPages
		},
	}
	r := newResolver(t, "landing_page", s.options())
	got, err := r.Resolve(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "landing_page", []string{
		"https://publisher.example.com/content/pdf/kg.2021.001.pdf",
		u("/handle/1/bitstreams/3/accepted.pdf"), // resolved against the URL after the redirect
		u("/direct"),
	}, []Kind{KindPDF, KindPDF, KindPDF})
	reqs := s.requests()
	if len(reqs) != 7 { // 6 distinct pages (capped at MaxLandingPages) + 1 redirect hop
		t.Fatalf("requests = %d", len(reqs))
	}
	if reqs[0].Header.Get("Accept") == "" || !strings.Contains(reqs[0].Header.Get("Accept"), "text/html") {
		t.Fatalf("Accept = %q", reqs[0].Header.Get("Accept"))
	}
	for _, op := range s.ops {
		if op != policy.Resolve {
			t.Fatalf("op = %v", op)
		}
	}

	// Errors surface only when no page gave a candidate.
	w2 := &openalex.Work{ID: "W2", Locations: []openalex.Location{{LandingPageURL: u("/limited")}, {LandingPageURL: u("/fulltext")}}}
	got, err = r.Resolve(context.Background(), w2)
	var se *fetch.Error
	if got != nil || !errors.As(err, &se) || se.Status != 429 || !strings.Contains(err.Error(), "landing_page") {
		t.Fatalf("all failed: %v, %v", got, err)
	}
	w3 := &openalex.Work{ID: "W3", Locations: []openalex.Location{{LandingPageURL: u("/limited")}, {LandingPageURL: u("/gone")}, {LandingPageURL: u("/article/kg")}}}
	if got, err := r.Resolve(context.Background(), w3); err != nil || len(got) != 1 {
		t.Fatalf("partial failure: %v, %v", got, err)
	}
	if got, err := r.Resolve(context.Background(), &openalex.Work{ID: "W4"}); got != nil || err != nil {
		t.Fatalf("no landing pages: %v, %v", got, err)
	}
}

func TestLandingPageHonoursCancellation(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html></html>") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := &openalex.Work{ID: "W1", Locations: []openalex.Location{{LandingPageURL: s.srv.URL + "/a"}, {LandingPageURL: s.srv.URL + "/b"}}}
	_, err := newResolver(t, "landing_page", s.options()).Resolve(ctx, w)
	if !errors.Is(err, context.Canceled) || len(s.requests()) != 0 {
		t.Fatalf("err %v, requests %d", err, len(s.requests()))
	}
}

func TestSeen(t *testing.T) {
	s := NewSeen()
	steps := []struct {
		url  string
		want bool
	}{
		{"https://example.org/a.pdf", true},
		{"https://example.org/a.pdf", false},
		{"  https://example.org/a.pdf  ", false},
		{"HTTPS://EXAMPLE.ORG/a.pdf", false},
		{"https://example.org/a.pdf#page=2", false},
		{"https://example.org/A.pdf", true}, // paths are case-sensitive
		{"http://example.org/a.pdf", false}, // http and https name the same document
		{"https://example.org/a.pdf?x=1", true},
		{"https://example.org:443/a.pdf", false}, // default port
		{"http://example.org:80/a.pdf", false},
		{"https://example.org:8443/a.pdf", true},
		{"ftp://example.org/a.pdf", false},
		{"javascript:alert(1)", false},
		{"mailto:me@example.org", false},
		{"/relative.pdf", false},
		{"https:///nohost", false},
		{"http://[::1", false},
		{"", false},
	}
	for i, st := range steps {
		if got := s.Add(Candidate{URL: st.url}); got != st.want {
			t.Errorf("step %d: Add(%q) = %v, want %v", i, st.url, got, st.want)
		}
	}
	var zero Seen
	if !zero.Add(Candidate{URL: "https://x.org/"}) || zero.Add(Candidate{URL: "https://x.org/"}) {
		t.Fatal("zero Seen does not work")
	}
}
