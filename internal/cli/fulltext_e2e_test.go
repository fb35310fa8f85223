package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// pageWorld is a simulated OpenAlex (internal/sim) and one publisher host, "pub",
// that serves the realistic pages of internal/download/testdata/pages under /page/
// and the PDFs they link to under /files/. Each work's OpenAlex record names only a
// page: its open_access.oa_url (or, for W5, its best location's pdf_url). OpenAlex
// answers carry the 2026 cost headers: each list page costs costPerPage USD out of a
// daily allowance of 1 USD.
type pageWorld struct {
	clk   *clock.Fake
	s     *sim.Sim
	taken int // listing requests already handed out by takeCursors
}

const costPerPage = 0.001

// pageWork is one work of the page world: the page its record names.
type pageWork struct {
	id   string
	oa   string // page of open_access.oa_url
	best string // page of best_oa_location.pdf_url
}

func pageWorks() []pageWork {
	return []pageWork{
		{id: "W1", oa: "repository_record.html"},
		{id: "W2", oa: "abstract.html"},
		{id: "W3", oa: "paywall.html"},
		{id: "W4", oa: "challenge_pmc_pow.html"},
		{id: "W5", best: "challenge_cloudflare.html"},
		{id: "W6", oa: "fulltext_article.html"},
	}
}

// newPageWorld starts the page world with works; content gives some of them a
// content_urls field (work id → JSON object).
func newPageWorld(t *testing.T, works []pageWork, content map[string]string) *pageWorld {
	t.Helper()
	pw := &pageWorld{clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	var list []sim.WorkSpec
	for _, w := range works {
		oaURL, best := `""`, "null"
		if w.oa != "" {
			oaURL = `"${pub}/page/` + w.oa + `"`
		}
		if w.best != "" {
			best = `{"is_oa": true, "pdf_url": "${pub}/page/` + w.best + `"}`
		}
		// A closed work whose record is replaced: it names only its page.
		ws := sim.WorkSpec{ID: w.id, Title: "Work " + w.id + " on kg", Year: 2021, Kind: sim.KindClosed,
			OpenAlex: map[string]string{"open_access": `{"is_oa": true, "oa_url": ` + oaURL + `}`, "best_oa_location": best,
				"primary_location": "null", "locations": "null", "doi": "null", "ids": "null"}}
		if c, ok := content[w.id]; ok {
			ws.OpenAlex["content_urls"] = c
		}
		list = append(list, ws)
	}
	s, err := sim.Start(sim.Scenario{Name: "pages", Topic: "kg", Works: sim.WorksSpec{List: list},
		OpenAlex: sim.OpenAlexSpec{LastPageNullCursor: true,
			Cost: sim.CostSpec{ListUSD: costPerPage, SearchUSD: costPerPage, AllowanceUSD: 1}},
		Hosts: []sim.HostSpec{{Name: "pub"}}}, sim.Options{Clock: pw.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pw.s = s
	pub := s.HostURLByName("pub")
	dir := filepath.Join("..", "download", "testdata", "pages")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		page := strings.ReplaceAll(string(b), "https://repository.example.edu/bitstream/handle/1234/5678/kg-embeddings.pdf?sequence=1", pub+"/files/record.pdf")
		page = strings.ReplaceAll(page, "https://journal.example.org/articles/10.1000/orj.2023.118.pdf", pub+"/files/article.pdf")
		pw.serve(t, "/page/"+e.Name(), &sim.Response{Headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}, Body: page})
	}
	pw.servePDF(t, "/files/record.pdf")
	return pw
}

func (pw *pageWorld) serve(t *testing.T, path string, r *sim.Response) {
	t.Helper()
	if err := pw.s.SetResponse("pub", path, r); err != nil {
		t.Fatal(err)
	}
}

// servePDF makes path on the publisher a PDF; until then it is 404.
func (pw *pageWorld) servePDF(t *testing.T, path string) {
	pw.serve(t, path, &sim.Response{Headers: map[string]string{"Content-Type": "application/pdf"}, Body: string(fakePDF(path, 4096))})
}

// hits is how many requests the publisher got for path.
func (pw *pageWorld) hits(path string) int { return pw.s.Requests("pub", path) }

// takeCursors returns the cursor of every /works list request since the last call,
// in order.
func (pw *pageWorld) takeCursors() []string {
	h, _ := pw.s.Stats().Host(sim.RoleOpenAlex)
	var out []string
	n := 0
	for _, r := range h.Log {
		if r.Path != "/works" {
			continue
		}
		if n++; n > pw.taken {
			q, _ := url.ParseQuery(r.Query)
			out = append(out, q.Get("cursor"))
		}
	}
	pw.taken = n
	return out
}

func (pw *pageWorld) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, pw.s.OpenAlexURL(), "http://127.0.0.1:1", map[string]string{
		"DOCSTOKG_RESOLVERS_ORDER":   "openalex,landing_page",
		"DOCSTOKG_OPENALEX_API_KEY":  "secret-key-1",
		"DOCSTOKG_RETRY_BASE_DELAY":  "100ms",
		"DOCSTOKG_OPENALEX_PER_PAGE": "2",
	}, extra)
}

func (pw *pageWorld) run(t *testing.T, env func(string) string, args ...string) runResult {
	t.Helper()
	var w world
	w.clk = pw.clk
	return runMain(t, &w, env, args...)
}

func htmlDir(t *testing.T, out string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(out, "HTML"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Through the CLI: no landing, paywall or challenge page is saved; each ends with its
// reason; the article is kept as HTML; a second run upgrades it once its PDF is
// reachable, leaving the HTML and naming both in the manifest.
func TestPagesEndToEnd(t *testing.T) {
	pw := newPageWorld(t, pageWorks(), nil)
	out := filepath.Join(t.TempDir(), "out")
	env := pw.env(t, nil)
	res := pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json")
	if res.code != ExitOK {
		t.Fatalf("run 1: exit %d\n%s", res.code, res.stderr)
	}
	var sum download.Summary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	first := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum.RunID)
	for id, want := range map[string]string{"W1": "pdf/", "W2": "miss/landing_page_only", "W3": "miss/paywall",
		"W4": "miss/bot_challenge", "W5": "miss/bot_challenge", "W6": "html/"} {
		if got := first[id].Classification + "/" + first[id].Reason; got != want {
			t.Errorf("run 1: %s ended %s, want %s", id, got, want)
		}
	}
	if files := htmlDir(t, out); len(files) != 1 || !strings.Contains(files[0], "W6") {
		t.Fatalf("HTML/ holds %v, want the article only", files)
	}
	if sum.ByReason["landing_page_only"] != 1 || sum.ByReason["paywall"] != 1 || sum.ByReason["bot_challenge"] != 2 {
		t.Errorf("by_reason %v", sum.ByReason)
	}

	pw.servePDF(t, "/files/article.pdf")
	res = pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json")
	if res.code != ExitOK {
		t.Fatalf("run 2: exit %d\n%s", res.code, res.stderr)
	}
	json.Unmarshal([]byte(res.stdout), &sum)
	second := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum.RunID)
	w6 := second["W6"]
	if w6.Classification != manifest.ClassPDF || w6.Reason != "upgraded" || w6.PreviousPath != first["W6"].Path {
		t.Fatalf("run 2: W6 %+v, want pdf upgraded from %s", w6, first["W6"].Path)
	}
	for _, p := range []string{w6.Path, w6.PreviousPath} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("%v", err)
		}
	}
	if files := htmlDir(t, out); len(files) != 1 {
		t.Errorf("HTML/ after run 2: %v", files)
	}
	// Works that never had full text stay misses with the same reasons.
	if second["W2"].Reason != "landing_page_only" || second["W3"].Reason != "paywall" {
		t.Errorf("run 2: W2 %s, W3 %s", second["W2"].Reason, second["W3"].Reason)
	}
}

// --no-upgrade (and DOCSTOKG_NO_UPGRADE) keeps an HTML full text without asking again.
func TestNoUpgradeFlagAndEnv(t *testing.T) {
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			pw := newPageWorld(t, pageWorks()[5:], nil)
			out := filepath.Join(t.TempDir(), "out")
			if res := pw.run(t, pw.env(t, nil), "run", "--topic", "kg", "--out", out); res.code != ExitOK {
				t.Fatalf("run 1: exit %d\n%s", res.code, res.stderr)
			}
			pw.servePDF(t, "/files/article.pdf")
			before := pw.hits("/files/article.pdf")
			args := []string{"run", "--topic", "kg", "--out", out}
			env := pw.env(t, nil)
			if how == "flag" {
				args = append(args, "--no-upgrade")
			} else {
				env = pw.env(t, map[string]string{"DOCSTOKG_NO_UPGRADE": "true"})
			}
			if res := pw.run(t, env, args...); res.code != ExitOK {
				t.Fatalf("run 2: exit %d\n%s", res.code, res.stderr)
			}
			after := pw.hits("/files/article.pdf")
			if after != before {
				t.Errorf("the PDF was fetched with no_upgrade set (%d → %d)", before, after)
			}
		})
	}
}

// --max-cost-usd stops discovery before the next page would pass the budget: exit 3,
// stop_reason budget_exhausted, the cost and the remaining allowance in the summary
// and the metrics; the next run resumes from the checkpoint, not from cursor "*".
func TestBudgetStopsAndCheckpointResumes(t *testing.T) {
	pw := newPageWorld(t, pageWorks(), nil)
	out := filepath.Join(t.TempDir(), "out")
	metrics := filepath.Join(t.TempDir(), "m.prom")
	env := pw.env(t, nil)
	// Two pages cost 0.002; a third would pass 0.0025.
	res := pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json", "--max-cost-usd", "0.0025", "--metrics-file", metrics)
	if res.code != ExitIncomplete {
		t.Fatalf("exit %d, want %d\n%s", res.code, ExitIncomplete, res.stderr)
	}
	var sum struct {
		Works      int    `json:"works"`
		StopReason string `json:"stop_reason"`
		OpenAlex   struct {
			CostUSD      float64  `json:"cost_usd"`
			RemainingUSD *float64 `json:"remaining_usd"`
		} `json:"openalex"`
		DiscoveryError string `json:"discovery_error"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if sum.StopReason != "budget_exhausted" || sum.Works != 4 || sum.DiscoveryError != "" {
		t.Errorf("summary: %+v", sum)
	}
	if sum.OpenAlex.CostUSD < 0.00199 || sum.OpenAlex.CostUSD > 0.00201 || sum.OpenAlex.RemainingUSD == nil || *sum.OpenAlex.RemainingUSD != 0.998 {
		t.Errorf("openalex usage: cost %v remaining %v", sum.OpenAlex.CostUSD, sum.OpenAlex.RemainingUSD)
	}
	if !strings.Contains(res.stderr, "budget") {
		t.Errorf("no budget warning:\n%s", res.stderr)
	}
	prom, _ := os.ReadFile(metrics)
	for _, want := range []string{"contentdl_openalex_cost_usd 0.002", "contentdl_openalex_remaining_usd 0.998"} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("metrics lack %q:\n%s", want, prom)
		}
	}
	if cursors := pw.takeCursors(); len(cursors) != 2 {
		t.Errorf("run 1 asked for %d pages (%v), want 2", len(cursors), cursors)
	}

	// Run 2 without a budget: it starts from the saved cursor (re-reading the last
	// page whose works were all finished) and goes to the end.
	res = pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json")
	if res.code != ExitOK {
		t.Fatalf("run 2: exit %d\n%s", res.code, res.stderr)
	}
	cursors := pw.takeCursors()
	if len(cursors) == 0 || cursors[0] == "*" {
		t.Errorf("run 2 paged %v, want it to resume from the checkpoint", cursors)
	}
	recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
	if got := latestByWork(recs, ""); len(got) != 6 {
		t.Errorf("%d works recorded after two runs, want 6", len(got))
	}
	var cp map[string]any
	data, _ := os.ReadFile(filepath.Join(out, download.CheckpointFile))
	if json.Unmarshal(data, &cp) != nil || cp["complete"] != true {
		t.Errorf("checkpoint after a complete run: %s", data)
	}
	if strings.Contains(string(data), "secret-key-1") {
		t.Error("the API key is in the checkpoint")
	}

	// Run 3: the search was complete, so it pages from the start again.
	if res := pw.run(t, env, "run", "--topic", "kg", "--out", out); res.code != ExitOK {
		t.Fatalf("run 3: exit %d\n%s", res.code, res.stderr)
	}
	if cursors := pw.takeCursors(); len(cursors) == 0 || cursors[0] != "*" {
		t.Errorf("run 3 paged %v, want it to start at *", cursors)
	}
}

// A saved cursor that OpenAlex rejects makes the run page from "*" again, and say so.
func TestRejectedCheckpointCursorFallsBack(t *testing.T) {
	pw := newPageWorld(t, pageWorks(), nil)
	out := filepath.Join(t.TempDir(), "out")
	env := pw.env(t, nil)
	if res := pw.run(t, env, "run", "--topic", "kg", "--out", out, "--max-cost-usd", "0.0025"); res.code != ExitIncomplete {
		t.Fatalf("run 1: exit %d\n%s", res.code, res.stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, download.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	var cp struct{ Cursor string }
	if json.Unmarshal(data, &cp) != nil || cp.Cursor == "" || cp.Cursor == "*" {
		t.Fatalf("checkpoint %s", data)
	}
	pw.s.ExpireCursor(cp.Cursor) // answered 400 once; a fresh paging reaches it again legitimately
	pw.takeCursors()
	res := pw.run(t, env, "run", "--topic", "kg", "--out", out)
	if res.code != ExitOK {
		t.Fatalf("run 2: exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "rejected the saved discovery cursor") {
		t.Errorf("no log line about the rejected cursor:\n%s", res.stderr)
	}
	if cursors := pw.takeCursors(); len(cursors) < 2 || cursors[0] != cp.Cursor || cursors[1] != "*" {
		t.Errorf("run 2 paged %v, want the saved cursor then *", cursors)
	}
}

// The paid openalex_content resolver: off unless listed; it asks OpenAlex for
// content_urls, fetches content_urls.pdf (or {content_base_url}/works/{id}.pdf) with
// the API key, books each PDF in the ledger and stops at the budget.
func TestOpenAlexContentResolverIsPaidAndBounded(t *testing.T) {
	var mu sync.Mutex
	served := 0
	content := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api_key") != "secret-key-1" {
			http.Error(rw, `{"error":"api_key required"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		served++
		mu.Unlock()
		rw.Header().Set("Content-Type", "application/pdf")
		rw.Header().Set("X-RateLimit-Cost-USD", "0.01")
		rw.Write(fakePDF(r.URL.Path, 4096))
	}))
	defer content.Close()
	pw := newPageWorld(t, pageWorks()[:3], map[string]string{
		"W1": `{"pdf": "` + content.URL + `/works/W1.pdf", "grobid_xml": null}`,
		"W3": `{"pdf": "` + content.URL + `/works/W3.pdf"}`,
	})
	out := filepath.Join(t.TempDir(), "out")
	env := pw.env(t, map[string]string{
		"DOCSTOKG_RESOLVERS_ORDER":           "openalex_content",
		"DOCSTOKG_OPENALEX_CONTENT_BASE_URL": content.URL,
		"DOCSTOKG_OPENALEX_PER_PAGE":         "10",
	})
	// One list page (0.001) and two PDFs (0.02) fit in 0.025; a third PDF does not.
	res := pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json", "--max-cost-usd", "0.025")
	if res.code != ExitIncomplete {
		t.Fatalf("exit %d, want %d\n%s", res.code, ExitIncomplete, res.stderr)
	}
	var sum download.Summary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ByClassification["pdf"] != 2 || sum.ByReason["budget_exhausted"] != 1 || sum.StopReason != "budget_exhausted" {
		t.Errorf("classes %v reasons %v stop %q", sum.ByClassification, sum.ByReason, sum.StopReason)
	}
	if sum.OpenAlex == nil || sum.OpenAlex.CostUSD < 0.0209 || sum.OpenAlex.CostUSD > 0.0211 {
		t.Errorf("openalex usage %+v", sum.OpenAlex)
	}
	mu.Lock()
	if served != 2 {
		t.Errorf("content server served %d PDFs, want 2", served)
	}
	mu.Unlock()
	data, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
	if strings.Contains(string(data), "secret-key-1") || !strings.Contains(string(data), "api_key=REDACTED") {
		t.Errorf("manifest shows the key or no content URL:\n%s", data)
	}
	// The listing asked for content_urls.
	if n := len(pw.takeCursors()); n != 1 {
		t.Errorf("%d list pages, want 1", n)
	}

	// The work refused by the budget keeps its discovery page open, and a later run
	// with more budget fetches only its PDF.
	data, _ = os.ReadFile(filepath.Join(out, download.CheckpointFile))
	var cp struct {
		Cursor   string
		Complete bool
	}
	if json.Unmarshal(data, &cp) != nil || cp.Complete || cp.Cursor != "*" {
		t.Errorf("checkpoint after a budget stop: %s", data)
	}
	res = pw.run(t, env, "run", "--topic", "kg", "--out", out, "--json", "--max-cost-usd", "0.05")
	if res.code != ExitOK {
		t.Fatalf("second run: exit %d\n%s", res.code, res.stderr)
	}
	mu.Lock()
	if served != 3 {
		t.Errorf("after the second run the content server served %d PDFs, want 3", served)
	}
	mu.Unlock()
	sum = download.Summary{}
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil || sum.ByClassification["pdf"] != 1 || sum.ByClassification["skipped"] != 2 {
		t.Errorf("second run: %v %v", err, sum.ByClassification)
	}

	// Without an API key the resolver cannot run: a usage error before any request.
	env = pw.env(t, map[string]string{"DOCSTOKG_RESOLVERS_ORDER": "openalex_content", "DOCSTOKG_OPENALEX_API_KEY": ""})
	res = pw.run(t, env, "run", "--topic", "kg", "--out", filepath.Join(t.TempDir(), "o2"))
	if res.code != ExitUsage || !strings.Contains(res.stderr, "openalex_content needs an OpenAlex API key") {
		t.Errorf("no key: exit %d\n%s", res.code, res.stderr)
	}
}
