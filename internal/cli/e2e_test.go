package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/manifest"
)

// fakePDF is a small valid PDF whose bytes depend on id.
func fakePDF(id string, size int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n% " + id + "\n")
	for b.Len() < size-16 {
		b.WriteString("0123456789abcdef")
	}
	b.WriteString("\n%%EOF\n")
	return b.Bytes()
}

// world is a set of local servers standing in for OpenAlex, Unpaywall, a landing-page
// host and two publishers. Every server reads time from the same fake clock as the
// client, so Retry-After windows can be checked without sleeping.
type world struct {
	t         *testing.T
	clk       *clock.Fake
	openalex  *httptest.Server
	unpaywall *httptest.Server
	landing   *httptest.Server
	pubA      *httptest.Server
	pubB      *httptest.Server

	mu          sync.Mutex
	hits        map[string]int // "server path" → count
	pubRequests int
	windowEnd   map[string]time.Time // per server: end of the announced Retry-After window
	violations  []string
	works       []map[string]any
	oaQueries   []string
	emailSeen   []string
	// special handlers by "server path", given the request's 1-based count; true = handled.
	special map[string]func(rw http.ResponseWriter, r *http.Request, n int) bool
}

// handleSpecial runs a test's special handler for this request, if any.
func (w *world) handleSpecial(server string, rw http.ResponseWriter, r *http.Request) bool {
	w.mu.Lock()
	fn := w.special[server+" "+r.URL.Path]
	n := w.hits[server+" "+r.URL.Path]
	w.mu.Unlock()
	return fn != nil && fn(rw, r, n)
}

func (w *world) note(server string, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hits[server+" "+r.URL.Path]++
	if server == "pubA" || server == "pubB" {
		w.pubRequests++
	}
	if end, ok := w.windowEnd[server]; ok && w.clk.Now().Before(end) {
		w.violations = append(w.violations, fmt.Sprintf("%s %s at %s inside window ending %s", server, r.URL.Path, w.clk.Now(), end))
	}
}

func (w *world) count(server, path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[server+" "+path]
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
		hits: map[string]int{}, windowEnd: map[string]time.Time{},
		special: map[string]func(http.ResponseWriter, *http.Request, int) bool{}}
	pdfHandler := func(name string, special func(http.ResponseWriter, *http.Request) bool) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			w.note(name, r)
			if w.handleSpecial(name, rw, r) || (special != nil && special(rw, r)) {
				return
			}
			base := filepath.Base(r.URL.Path)
			switch {
			case strings.HasSuffix(base, "-missing.pdf"):
				http.NotFound(rw, r)
			case strings.HasSuffix(base, "-bad.pdf"):
				rw.Header().Set("Content-Type", "application/pdf")
				fmt.Fprint(rw, "<!DOCTYPE html><html><body>Please log in</body></html>")
			case strings.HasSuffix(base, ".xml"):
				rw.Header().Set("Content-Type", "application/xml")
				fmt.Fprint(rw, `<?xml version="1.0"?><article><body>full text</body></article>`)
			default:
				rw.Header().Set("Content-Type", "application/pdf")
				rw.Header().Set("ETag", `"`+base+`"`)
				rw.Write(fakePDF(base, 4096))
			}
		}
	}
	w.pubA = httptest.NewServer(pdfHandler("pubA", nil))
	first429 := true
	w.pubB = httptest.NewServer(pdfHandler("pubB", func(rw http.ResponseWriter, r *http.Request) bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.URL.Path == "/W6.pdf" && first429 {
			first429 = false
			rw.Header().Set("Retry-After", "5")
			w.windowEnd["pubB"] = w.clk.Now().Add(5 * time.Second)
			rw.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}))
	w.landing = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.note("landing", r)
		if w.handleSpecial("landing", rw, r) {
			return
		}
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(rw, `<html><head><meta name="citation_pdf_url" content="%s/W3.pdf"></head><body>abstract</body></html>`, w.pubA.URL)
	}))
	w.unpaywall = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.note("unpaywall", r)
		if w.handleSpecial("unpaywall", rw, r) {
			return
		}
		w.mu.Lock()
		w.emailSeen = append(w.emailSeen, r.URL.Query().Get("email"))
		w.mu.Unlock()
		doi := strings.TrimPrefix(r.URL.Path, "/v2/")
		var pdf string
		switch doi {
		case "10.1000/w2":
			pdf = w.pubA.URL + "/W2.pdf"
		case "10.1000/w5":
			pdf = w.pubA.URL + "/W5.pdf"
		default:
			http.NotFound(rw, r)
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"doi": doi, "is_oa": true,
			"best_oa_location": map[string]any{"url": pdf, "url_for_pdf": pdf},
			"oa_locations":     []any{map[string]any{"url_for_pdf": pdf}}})
	}))
	loc := func(pdf, landing string) map[string]any {
		return map[string]any{"is_oa": true, "pdf_url": nilIfEmpty(pdf), "landing_page_url": nilIfEmpty(landing),
			"version": "publishedVersion", "license": "cc-by", "source": map[string]any{"display_name": "J"}}
	}
	work := func(n int, locs ...map[string]any) map[string]any {
		m := map[string]any{"id": "https://openalex.org/W" + strconv.Itoa(n), "doi": "https://doi.org/10.1000/w" + strconv.Itoa(n),
			"display_name": "Knowledge graphs part " + strconv.Itoa(n), "title": "Knowledge graphs part " + strconv.Itoa(n),
			"publication_year": 2021, "type": "article", "ids": map[string]any{},
			"open_access": map[string]any{"is_oa": len(locs) > 0}, "locations": locs}
		if len(locs) > 0 {
			m["best_oa_location"] = locs[0]
			m["primary_location"] = locs[0]
		}
		return m
	}
	a, b := func(p string) string { return "PUBA" + p }, func(p string) string { return "PUBB" + p }
	w.works = []map[string]any{
		work(1, loc(a("/W1.pdf"), "")),
		work(2),
		work(3, loc("", "LANDING/article/W3")),
		work(4, loc(a("/W4-bad.pdf"), ""), loc(a("/W4.pdf"), "")),
		work(5, loc(a("/W5-missing.pdf"), "")),
		work(6, loc(b("/W6.pdf"), "")),
		work(7),
		work(8, loc(b("/W8.pdf"), "")),
		work(9, loc(a("/W9.xml"), "")),
	}
	w.works[1]["open_access"] = map[string]any{"is_oa": true}
	w.openalex = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.note("openalex", r)
		if r.URL.Path == "/works" && w.handleSpecial("openalex", rw, r) {
			return
		}
		w.mu.Lock()
		w.oaQueries = append(w.oaQueries, r.URL.RawQuery)
		w.mu.Unlock()
		if id, ok := strings.CutPrefix(r.URL.Path, "/works/"); ok {
			if w.handleSpecial("openalex", rw, r) {
				return
			}
			id = strings.TrimPrefix(strings.TrimPrefix(id, "https://doi.org/"), "doi:")
			for _, m := range w.works {
				if strings.HasSuffix(m["id"].(string), "/"+id) || m["doi"] == "https://doi.org/"+strings.ToLower(id) {
					json.NewEncoder(rw).Encode(w.expand(m))
					return
				}
			}
			http.NotFound(rw, r)
			return
		}
		q := r.URL.Query()
		per, _ := strconv.Atoi(q.Get("per_page"))
		if per <= 0 {
			per = 25
		}
		start := 0
		if c := q.Get("cursor"); c != "*" {
			start, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
		}
		end := min(start+per, len(w.works))
		var next any
		if end < len(w.works) {
			next = "c" + strconv.Itoa(end)
		}
		page := make([]map[string]any, 0, end-start)
		for _, m := range w.works[start:end] {
			page = append(page, w.expand(m))
		}
		json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(w.works), "per_page": per, "next_cursor": next}, "results": page})
	}))
	t.Cleanup(func() {
		for _, s := range []*httptest.Server{w.openalex, w.unpaywall, w.landing, w.pubA, w.pubB} {
			s.Close()
		}
	})
	return w
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// expand replaces the PUBA/PUBB/LANDING placeholders with the servers' addresses.
func (w *world) expand(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	s := strings.NewReplacer("PUBA", w.pubA.URL, "PUBB", w.pubB.URL, "LANDING", w.landing.URL).Replace(string(data))
	var out map[string]any
	json.Unmarshal([]byte(s), &out)
	return out
}

// env is a hermetic environment for Main pointing every provider at the world.
func (w *world) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, w.openalex.URL, w.unpaywall.URL, map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE": "3",
		"DOCSTOKG_RESOLVERS_ORDER":   "openalex,unpaywall,landing_page",
		"DOCSTOKG_RETRY_BASE_DELAY":  "100ms",
	}, extra)
}

// hermeticEnv is an environment for Main with OpenAlex and Unpaywall on local servers,
// every other provider on a closed port (unused resolvers must never reach the
// internet), and HOME and XDG_STATE_HOME in fresh temp dirs so no user state leaks in.
// Later layers add to or override earlier ones.
func hermeticEnv(t *testing.T, openalexURL, unpaywallURL string, layers ...map[string]string) func(string) string {
	dead := "http://127.0.0.1:1"
	m := map[string]string{
		"DOCSTOKG_OPENALEX_BASE_URL":         openalexURL,
		"DOCSTOKG_UNPAYWALL_BASE_URL":        unpaywallURL,
		"DOCSTOKG_CROSSREF_BASE_URL":         dead,
		"DOCSTOKG_ARXIV_BASE_URL":            dead,
		"DOCSTOKG_EUROPE_PMC_BASE_URL":       dead,
		"DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL": dead,
		"HOME":                               t.TempDir(),
		"XDG_STATE_HOME":                     t.TempDir(),
	}
	for _, l := range layers {
		for k, v := range l {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

type runResult struct {
	code           int
	stdout, stderr string
}

func runMain(t *testing.T, w *world, getenv func(string) string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: getenv, Clock: w.clk}
	code := MainContext(context.Background(), args, st)
	return runResult{code, out.String(), errb.String()}
}

func readManifest(t *testing.T, path string) []manifest.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []manifest.Record
	if err := manifest.Read(f, nil, func(r *manifest.Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

func latestByWork(recs []manifest.Record, runID string) map[string]manifest.Record {
	out := map[string]manifest.Record{}
	for _, r := range recs {
		if r.RecordType == manifest.TypeManifest && (runID == "" || r.RunID == runID) {
			out[r.WorkID] = r
		}
	}
	return out
}

func TestRunEndToEnd(t *testing.T) {
	for _, gate := range []struct {
		name string
		env  map[string]string
	}{
		{"legacy", nil},
		{"contextual", map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "true"}},
	} {
		t.Run(gate.name, func(t *testing.T) {
			w := newWorld(t)
			out := filepath.Join(t.TempDir(), "out")
			getenv := w.env(t, gate.env)
			// One request at a time to pubB, so the 429's cooldown is in force before the
			// next request to it leaves (requests already in flight cannot be recalled).
			cfgFile := filepath.Join(t.TempDir(), "contentdl.yaml")
			pubBHost := strings.TrimPrefix(w.pubB.URL, "http://")
			os.WriteFile(cfgFile, []byte("rate_limits:\n  hosts:\n    - host: "+pubBHost+"\n      rps: 20\n      concurrency: 1\n"), 0o644)
			res := runMain(t, w, getenv, "run", "--config", cfgFile, "--topic", "knowledge graphs", "--mailto", "me@example.org",
				"--out", out, "--workers", "3", "--json")
			if res.code != ExitOK {
				t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
			}
			var sum map[string]any
			if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
				t.Fatalf("stdout is not the JSON summary: %v\n%s", err, res.stdout)
			}
			if sum["retry_policy"] != gate.name {
				t.Errorf("retry_policy = %v, want %s", sum["retry_policy"], gate.name)
			}
			// Cursor paging: 9 works at 3 per page is 3 pages, cursor=* first.
			if n := w.count("openalex", "/works"); n != 3 {
				t.Errorf("openalex pages fetched = %d, want 3", n)
			}
			if !strings.Contains(w.oaQueries[0], "cursor=%2A") || !strings.Contains(w.oaQueries[0], "mailto=me%40example.org") {
				t.Errorf("first query %q lacks cursor=* or mailto", w.oaQueries[0])
			}
			recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
			got := latestByWork(recs, "")
			want := map[string]struct{ class, resolver string }{
				"W1": {"pdf", "openalex"},
				"W2": {"pdf", "unpaywall"},    // Unpaywall fallback
				"W3": {"pdf", "landing_page"}, // landing-page fallback
				"W4": {"pdf", "openalex"},     // lying Content-Type, next candidate wins
				"W5": {"pdf", "unpaywall"},    // 404, next resolver wins
				"W6": {"pdf", "openalex"},     // 429 with Retry-After, then success
				"W7": {"miss", ""},
				"W8": {"pdf", "openalex"},
				"W9": {"xml", "openalex"},
			}
			if len(got) != len(want) {
				t.Errorf("manifest has %d works, want %d", len(got), len(want))
			}
			for id, wnt := range want {
				r := got[id]
				if r.Classification != wnt.class || r.Resolver != wnt.resolver {
					t.Errorf("%s: classification %q resolver %q (reason %q), want %q %q", id, r.Classification, r.Resolver, r.Reason, wnt.class, wnt.resolver)
				}
				if wnt.class == "pdf" {
					data, err := os.ReadFile(filepath.Join(out, r.Path))
					if err != nil || !bytes.HasPrefix(data, []byte("%PDF")) {
						t.Errorf("%s: saved file %s unreadable or not a PDF: %v", id, r.Path, err)
					}
					if !strings.HasPrefix(r.Path, "PDF/2021__knowledge-graphs-part-") || !strings.HasSuffix(r.Path, "__"+id+".pdf") {
						t.Errorf("%s: path %q does not follow year__slug__id.pdf", id, r.Path)
					}
				}
			}
			if got["W7"].Reason != "no_oa_candidates" {
				t.Errorf("W7 reason = %q, want no_oa_candidates", got["W7"].Reason)
			}
			// The lying Content-Type was recorded as an attempt with its reason.
			foundLie := false
			for _, r := range recs {
				if r.RecordType == manifest.TypeAttempt && r.WorkID == "W4" && r.Reason == "html_not_pdf" {
					foundLie = true
				}
			}
			if !foundLie {
				t.Error("no html_not_pdf attempt recorded for W4")
			}
			if len(w.violations) > 0 {
				t.Errorf("requests inside an announced Retry-After window: %v", w.violations)
			}
			if w.count("pubB", "/W6.pdf") != 2 {
				t.Errorf("W6 fetched %d times, want 2 (429 then 200)", w.count("pubB", "/W6.pdf"))
			}
			for _, e := range w.emailSeen {
				if e != "me@example.org" {
					t.Errorf("unpaywall email = %q", e)
				}
			}
			manifestBytes, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
			if bytes.Contains(manifestBytes, []byte("me@example.org")) || strings.Contains(res.stderr, "me@example.org") {
				t.Error("the mailto address leaked into the manifest or the logs")
			}
			entries, _ := os.ReadDir(filepath.Join(out, ".tmp"))
			if len(entries) != 0 {
				t.Errorf("temp files left: %d", len(entries))
			}

			// A rerun resumes: nothing is fetched from publisher hosts.
			w.mu.Lock()
			before := w.pubRequests
			w.mu.Unlock()
			res2 := runMain(t, w, getenv, "run", "--topic", "knowledge graphs", "--mailto", "me@example.org", "--out", out, "--json")
			if res2.code != ExitOK {
				t.Fatalf("rerun exit %d\n%s", res2.code, res2.stderr)
			}
			w.mu.Lock()
			after := w.pubRequests
			w.mu.Unlock()
			if after != before {
				t.Errorf("rerun sent %d requests to publisher hosts, want 0", after-before)
			}
			var sum2 struct {
				RunID            string         `json:"run_id"`
				ByClassification map[string]int `json:"by_classification"`
			}
			json.Unmarshal([]byte(res2.stdout), &sum2)
			if sum2.ByClassification["skipped"] != 8 {
				t.Errorf("rerun skipped %d works, want 8: %v", sum2.ByClassification["skipped"], sum2.ByClassification)
			}
			per := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum2.RunID)
			if len(per) != 9 {
				t.Errorf("rerun wrote %d manifest records, want one per work (9)", len(per))
			}
		})
	}
}

func TestRunFromInputFile(t *testing.T) {
	w := newWorld(t)
	// W3's lookup is rate limited beyond any wait: the run is incomplete (exit 3).
	w.special["openalex /works/W3"] = func(rw http.ResponseWriter, r *http.Request, n int) bool {
		rw.Header().Set("Retry-After", "86400")
		rw.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	input := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(input, []byte("# my reading list\nW1\nhttps://doi.org/10.1000/W2\n\nnot a doi or id\nhttps://openalex.org/W999\nW3\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, nil), "run", "--input", input, "--mailto", "me@example.org", "--out", out, "--json")
	if res.code != ExitIncomplete {
		t.Fatalf("exit %d, want 3\n%s", res.code, res.stderr)
	}
	got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")
	if len(got) != 2 || got["W1"].Classification != "pdf" || got["W2"].Classification != "pdf" {
		t.Errorf("works %v", got)
	}
	if !strings.Contains(res.stderr, "line=5") || !strings.Contains(res.stderr, "skipping bad input line") {
		t.Errorf("bad line not reported with its number:\n%s", res.stderr)
	}
	if !strings.Contains(res.stderr, "not found on OpenAlex") {
		t.Errorf("unknown W999 not reported:\n%s", res.stderr)
	}
	var sum struct {
		InputErrors int `json:"input_errors"`
	}
	json.Unmarshal([]byte(res.stdout), &sum)
	if sum.InputErrors != 1 {
		t.Errorf("input_errors = %d, want 1", sum.InputErrors)
	}
}

func TestInputMaxWorksStopsCleanly(t *testing.T) {
	w := newWorld(t)
	input := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(input, []byte("W1\nW2\nW4\nW8\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, nil), "run", "--input", input, "--max-works", "2", "--out", out, "--quiet")
	if res.code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s", res.code, res.stderr)
	}
	if got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), ""); len(got) != 2 {
		t.Errorf("%d works processed, want 2", len(got))
	}
	if n := w.count("openalex", "/works/W4") + w.count("openalex", "/works/W8"); n != 0 {
		t.Errorf("looked up %d works past --max-works", n)
	}
}

func TestOpenAlexQuotaStopsDiscoveryWithExit3(t *testing.T) {
	w := newWorld(t)
	pages := 0
	w.special["openalex /works"] = func(rw http.ResponseWriter, r *http.Request, n int) bool {
		pages++
		if pages == 1 {
			return false
		}
		rw.Header().Set("Retry-After", "21600") // the daily budget is spent: six hours
		rw.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "1"}),
		"run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--json")
	if res.code != ExitIncomplete {
		t.Fatalf("exit %d, want 3\n%s", res.code, res.stderr)
	}
	if got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), ""); len(got) != 3 {
		t.Errorf("%d works processed, want the first page's 3", len(got))
	}
	if !strings.Contains(res.stderr, "discovery stopped") || !strings.Contains(res.stdout, "discovery_error") {
		t.Errorf("quota stop not reported:\n%s\n%s", res.stderr, res.stdout)
	}
}

func TestPermanentFailuresDoNotMakeTheRunIncomplete(t *testing.T) {
	w := newWorld(t)
	// W3's only route is its landing page, which answers 403 (a bot wall): a
	// permanent miss, not a reason to page the cron owner every night.
	w.special["landing /article/W3"] = func(rw http.ResponseWriter, r *http.Request, n int) bool {
		rw.WriteHeader(http.StatusForbidden)
		return true
	}
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--quiet")
	if res.code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s", res.code, res.stderr)
	}
	if r := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")["W3"]; r.Classification != "miss" || r.Reason != "http_403" {
		t.Errorf("W3 ended %s (%s), want miss http_403", r.Classification, r.Reason)
	}
	// The same landing page timing out is transient: exit 3.
	w2 := newWorld(t)
	w2.special["landing /article/W3"] = func(rw http.ResponseWriter, r *http.Request, n int) bool {
		rw.WriteHeader(http.StatusBadGateway)
		return true
	}
	res = runMain(t, w2, w2.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org", "--out", filepath.Join(t.TempDir(), "o"), "--quiet")
	if res.code != ExitIncomplete {
		t.Errorf("a 502 from the only route: exit %d, want 3\n%s", res.code, res.stderr)
	}
}
