package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/providers"
)

// pageSite serves OpenAlex /works with works whose oa_url is one of the fixture
// pages, the PDFs those pages link to, and a switch that makes one PDF reachable.
type pageSite struct {
	srv      *httptest.Server
	mu       sync.Mutex
	pdfOK    map[string]bool // PDF path → served (else 404)
	works    []map[string]any
	requests map[string]int
}

func newPageSite(t *testing.T) *pageSite {
	t.Helper()
	s := &pageSite{pdfOK: map[string]bool{"/files/record.pdf": true}, requests: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.URL.Path]++
		ok := s.pdfOK[r.URL.Path]
		s.mu.Unlock()
		if name, found := strings.CutPrefix(r.URL.Path, "/page/"); found {
			b, err := os.ReadFile(filepath.Join("testdata", "pages", name))
			if err != nil {
				http.NotFound(rw, r)
				return
			}
			page := strings.ReplaceAll(string(b), "https://repository.example.edu/bitstream/handle/1234/5678/kg-embeddings.pdf?sequence=1", s.srv.URL+"/files/record.pdf")
			page = strings.ReplaceAll(page, "https://journal.example.org/articles/10.1000/orj.2023.118.pdf", s.srv.URL+"/files/article.pdf")
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			rw.Write([]byte(page))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/files/") {
			if !ok {
				http.NotFound(rw, r)
				return
			}
			rw.Header().Set("Content-Type", "application/pdf")
			rw.Write(testPDF(r.URL.Path))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/works") {
			json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(s.works)}, "results": s.works})
			return
		}
		http.NotFound(rw, r)
	}))
	t.Cleanup(s.srv.Close)
	work := func(id, oaURL, pdfURL string) map[string]any {
		m := map[string]any{"id": id, "title": "Work " + id, "publication_year": 2021,
			"open_access": map[string]any{"is_oa": true, "oa_url": oaURL}}
		if pdfURL != "" {
			loc := map[string]any{"is_oa": true, "pdf_url": pdfURL}
			m["best_oa_location"] = loc
		}
		return m
	}
	u := s.srv.URL
	s.works = []map[string]any{
		work("W1", u+"/page/repository_record.html", ""),    // record page → its PDF
		work("W2", u+"/page/abstract.html", ""),             // abstract only
		work("W3", u+"/page/paywall.html", ""),              // paywall
		work("W4", u+"/page/challenge_pmc_pow.html", ""),    // proof-of-work wall
		work("W5", "", u+"/page/challenge_cloudflare.html"), // a "PDF" link answering a challenge
		work("W6", u+"/page/fulltext_article.html", ""),     // real article; its PDF 404s at first
	}
	return s
}

func pageRunner(t *testing.T, s *pageSite, out string, noUpgrade bool) *Runner {
	t.Helper()
	r, _ := newTestRunner(t, &testSite{srv: s.srv}, out)
	r.opts.NoUpgrade = noUpgrade
	return r
}

func outcomes(t *testing.T, out, runID string) map[string]manifest.Record {
	t.Helper()
	m := map[string]manifest.Record{}
	for _, rec := range readRecords(t, out) {
		if rec.RecordType == manifest.TypeManifest && rec.RunID == runID {
			m[rec.WorkID] = rec
		}
	}
	return m
}

func htmlFiles(t *testing.T, out string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(out, dirHTML))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestPagesAreNeverSavedAndUpgradeFollows: only the real article is kept as HTML; the
// other pages end as landing_page_only, paywall or bot_challenge (or lead to their
// PDF); and a second run upgrades the article once its PDF is reachable, keeping the
// HTML and recording both.
func TestPagesAreNeverSavedAndUpgradeFollows(t *testing.T) {
	s := newPageSite(t)
	out := filepath.Join(t.TempDir(), "out")
	r := pageRunner(t, s, out, false)
	r.opts.RunID = "run1"
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := outcomes(t, out, "run1")
	want := map[string][2]string{
		"W1": {"pdf", ""}, "W2": {"miss", "landing_page_only"}, "W3": {"miss", "paywall"},
		"W4": {"miss", "bot_challenge"}, "W5": {"miss", "bot_challenge"}, "W6": {"html", ""},
	}
	for id, w := range want {
		if got[id].Classification != w[0] || got[id].Reason != w[1] {
			t.Errorf("%s ended %s/%q, want %s/%q", id, got[id].Classification, got[id].Reason, w[0], w[1])
		}
	}
	if got["W1"].Resolver != providers.LandingPage || !strings.HasSuffix(got["W1"].URL, "/files/record.pdf") {
		t.Errorf("W1 saved from %s %s, want the record page's citation_pdf_url", got["W1"].Resolver, got["W1"].URL)
	}
	if files := htmlFiles(t, out); len(files) != 1 || !strings.Contains(files[0], "W6") {
		t.Fatalf("HTML/ holds %v, want only the article W6", files)
	}
	// Attempts say what each page was.
	reasons := map[string]bool{}
	for _, rec := range readRecords(t, out) {
		if rec.RecordType == manifest.TypeAttempt {
			reasons[rec.Reason] = true
		}
	}
	for _, rsn := range []string{"landing_page", "paywall", "bot_challenge"} {
		if !reasons[rsn] {
			t.Errorf("no attempt with reason %s", rsn)
		}
	}

	// Second run: the article's PDF is now served. W6 is upgraded, the HTML stays.
	s.mu.Lock()
	s.pdfOK["/files/article.pdf"] = true
	s.mu.Unlock()
	r2 := pageRunner(t, s, out, false)
	r2.opts.RunID = "run2"
	sum, err := r2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got = outcomes(t, out, "run2")
	w6 := got["W6"]
	if w6.Classification != "pdf" || w6.Reason != ReasonUpgraded || w6.PreviousClassification != "html" ||
		!strings.HasPrefix(w6.PreviousPath, "HTML/") || w6.PreviousSHA256 == "" {
		t.Fatalf("W6 in run 2: %+v, want pdf upgraded from html", w6)
	}
	for _, p := range []string{w6.Path, w6.PreviousPath} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if got["W1"].Classification != manifest.ClassSkipped {
		t.Errorf("W1 (a PDF) in run 2: %s, want skipped", got["W1"].Classification)
	}
	if sum.ByReason[ReasonUpgraded] != 1 {
		t.Errorf("by_reason %v, want upgraded=1", sum.ByReason)
	}

	// Third run: W6 is a PDF now; nothing is fetched for it again.
	before := s.requests["/page/fulltext_article.html"]
	r3 := pageRunner(t, s, out, false)
	r3.opts.RunID = "run3"
	if _, err := r3.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, out, "run3")["W6"]; got.Classification != manifest.ClassSkipped || !strings.HasPrefix(got.Path, "PDF/") {
		t.Errorf("W6 in run 3: %s %s, want skipped PDF", got.Classification, got.Path)
	}
	if after := s.requests["/page/fulltext_article.html"]; after != before {
		t.Errorf("the article page was fetched again in run 3 (%d → %d)", before, after)
	}
}

// TestNoUpgradeKeepsHTML: with NoUpgrade a work saved as HTML full text is skipped
// without any request for it.
func TestNoUpgradeKeepsHTML(t *testing.T) {
	s := newPageSite(t)
	s.works = s.works[5:] // W6 only
	out := filepath.Join(t.TempDir(), "out")
	r := pageRunner(t, s, out, false)
	r.opts.RunID = "run1"
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.pdfOK["/files/article.pdf"] = true
	n, np := s.requests["/page/fulltext_article.html"], s.requests["/files/article.pdf"]
	s.mu.Unlock()
	r2 := pageRunner(t, s, out, true)
	r2.opts.RunID = "run2"
	if _, err := r2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, out, "run2")["W6"]; got.Classification != manifest.ClassSkipped || got.Reason != "already_saved" {
		t.Errorf("W6 with NoUpgrade: %s/%s, want skipped/already_saved", got.Classification, got.Reason)
	}
	if s.requests["/page/fulltext_article.html"] != n || s.requests["/files/article.pdf"] != np {
		t.Errorf("NoUpgrade fetched again: %v", s.requests)
	}
}

// TestOldHTMLIsRecheckedOnResume: a landing page that an earlier version saved as HTML
// is classified again, removed, and the work resolved afresh.
func TestOldHTMLIsRecheckedOnResume(t *testing.T) {
	s := newPageSite(t)
	s.works = s.works[1:2] // W2: abstract page only
	out := filepath.Join(t.TempDir(), "out")
	// What an earlier version left: the abstract page saved as HTML full text.
	page, _ := os.ReadFile(filepath.Join("testdata", "pages", "abstract.html"))
	rel := "HTML/2021__work-w2__W2.html"
	if err := os.MkdirAll(filepath.Join(out, dirHTML), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, rel), page, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := manifest.OpenWriter(filepath.Join(out, "manifest.jsonl"), fileperm.Shared)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&manifest.Record{RecordType: manifest.TypeManifest, RunID: "old", WorkID: "W2", Classification: "html",
		Resolver: "openalex", URL: s.srv.URL + "/page/abstract.html", Path: rel, SHA256: sha256Hex(page)})
	w.Close()

	r := pageRunner(t, s, out, false)
	r.opts.RunID = "new"
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := outcomes(t, out, "new")["W2"]
	if got.Classification != manifest.ClassMiss || got.Reason != "landing_page_only" {
		t.Errorf("W2 after the re-check: %s/%s, want miss/landing_page_only", got.Classification, got.Reason)
	}
	if files := htmlFiles(t, out); len(files) != 0 {
		t.Errorf("HTML/ still holds %v", files)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
