package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
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

// world is a simulated scholarly web (internal/sim): OpenAlex, Unpaywall, a
// landing-page host and two publishers, pubA and pubB, serving nine works:
//
//	W1 a PDF on pubA             W6 a PDF on pubB, whose first answer is 429 (Retry-After 5)
//	W2 only Unpaywall knows it   W7 no location anywhere
//	W3 a landing page            W8 a PDF on pubB
//	W4 a login page as PDF, then a PDF   W9 an XML full text on pubA
//	W5 404, and Unpaywall knows a copy
//
// The landing host answers every path with a page whose citation_pdf_url is pubA's
// W3.pdf. The publishers give PDFs ETags. Every host reads time from the same fake
// clock as the client, and the simulator waits out a trickle by advancing it, so
// Retry-After windows and slow bodies are checked without sleeping. A test changes
// the scenario before the start with edits, or paths' answers after it with
// s.SetResponse.
type world struct {
	clk *clock.Fake
	s   *sim.Sim
}

// worldScenario is the world's web before any edit.
func worldScenario() sim.Scenario {
	pdf := func(host, path string) sim.LocationSpec { return sim.LocationSpec{Host: host, PDF: path} }
	work := func(n int, locs ...sim.LocationSpec) sim.WorkSpec {
		num := strconv.Itoa(n)
		return sim.WorkSpec{ID: "W" + num, DOI: "10.1000/w" + num, Kind: sim.KindListed,
			Title: "Knowledge graphs part " + num + " (kg)", Year: 2021, Locations: locs}
	}
	w2, w5 := work(2), work(5, pdf("pubA", "/W5-missing.pdf"))
	w2.Unpaywall = []sim.LocationSpec{pdf("pubA", "/W2.pdf")}
	w5.Unpaywall = []sim.LocationSpec{pdf("pubA", "/W5.pdf")}
	html := map[string]string{"Content-Type": "text/html"}
	pubA := sim.HostSpec{Name: "pubA", ETags: true, ServiceSpec: sim.ServiceSpec{Responses: []sim.PathResponse{
		{Path: "/W3.pdf", Response: sim.Response{Headers: map[string]string{"Content-Type": "application/pdf", "ETag": `"W3.pdf"`},
			Body: string(fakePDF("W3.pdf", 4096))}}, // linked from the landing page only
		{Path: "/W4-bad.pdf", Response: sim.Response{Headers: map[string]string{"Content-Type": "application/pdf"},
			Body: "<!DOCTYPE html><html><body>Please log in</body></html>"}},
		{Path: "/W5-missing.pdf", Response: sim.Response{Status: http.StatusNotFound, Body: "404 page not found\n"}},
		{Path: "/W9.xml", Response: sim.Response{Headers: map[string]string{"Content-Type": "application/xml"},
			Body: `<?xml version="1.0"?><article><body>full text</body></article>`}},
	}}}
	pubB := sim.HostSpec{Name: "pubB", ETags: true, Faults: sim.FaultSpec{Schedules: []sim.Schedule{
		{Path: "/W6.pdf", Attempts: []sim.Fault{{Kind: sim.FaultTooMany, RetryAfter: 5 * time.Second}}}}}}
	landing := sim.HostSpec{Name: "landing", ServiceSpec: sim.ServiceSpec{Responses: []sim.PathResponse{
		{PathPrefix: "/", Response: sim.Response{Headers: html,
			Body: `<html><head><meta name="citation_pdf_url" content="${pubA}/W3.pdf"></head><body>abstract</body></html>`}}}}}
	return sim.Scenario{Name: "world", Topic: "knowledge graphs", PDFSize: 4096,
		Works: sim.WorksSpec{List: []sim.WorkSpec{
			work(1, pdf("pubA", "/W1.pdf")),
			w2,
			work(3, sim.LocationSpec{Host: "landing", Landing: "/article/W3"}),
			work(4, pdf("pubA", "/W4-bad.pdf"), pdf("pubA", "/W4.pdf")),
			w5,
			work(6, pdf("pubB", "/W6.pdf")),
			work(7),
			work(8, pdf("pubB", "/W8.pdf")),
			work(9, pdf("pubA", "/W9.xml")),
		}},
		OpenAlex: sim.OpenAlexSpec{LastPageNullCursor: true},
		Hosts:    []sim.HostSpec{pubA, pubB, landing}}
}

// worldHost is the named host of a world scenario, for an edit.
func worldHost(sc *sim.Scenario, name string) *sim.HostSpec {
	for i := range sc.Hosts {
		if sc.Hosts[i].Name == name {
			return &sc.Hosts[i]
		}
	}
	panic("no host " + name)
}

// worldWork is the work id of a world scenario, for an edit.
func worldWork(sc *sim.Scenario, id string) *sim.WorkSpec {
	for i := range sc.Works.List {
		if sc.Works.List[i].ID == id {
			return &sc.Works.List[i]
		}
	}
	panic("no work " + id)
}

// firstWorks keeps the first n works of the world.
func firstWorks(n int) func(*sim.Scenario) {
	return func(sc *sim.Scenario) { sc.Works.List = sc.Works.List[:n] }
}

// newWorld starts the world after the edits.
func newWorld(t *testing.T, edits ...func(*sim.Scenario)) *world {
	t.Helper()
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	sc := worldScenario()
	for _, edit := range edits {
		edit(&sc)
	}
	s, err := sim.Start(sc, sim.Options{Clock: w.clk.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		w.clk.Advance(d)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.s = s
	return w
}

// log is what the named host has been asked, in order.
func (w *world) log(host string) []sim.RequestRecord {
	h, ok := w.s.Stats().Host(host)
	if !ok {
		panic("no host " + host)
	}
	return h.Log
}

// count is how many requests the named host got for path.
func (w *world) count(host, path string) int {
	n := 0
	for _, r := range w.log(host) {
		if r.Path == path {
			n++
		}
	}
	return n
}

// pubRequests is how many requests the two publishers got.
func (w *world) pubRequests() int64 {
	st := w.s.Stats()
	a, _ := st.Host("pubA")
	b, _ := st.Host("pubB")
	return a.Requests + b.Requests
}

// violations names the hosts that got requests inside a Retry-After window they
// had announced.
func (w *world) violations() []string {
	var out []string
	for _, h := range w.s.Stats().Hosts {
		if n := h.InRetryAfterWindow + h.InRetryAfterGrace; n > 0 {
			out = append(out, fmt.Sprintf("%s: %d requests inside announced windows %v", h.Name, n, h.Windows))
		}
	}
	return out
}

// queries are the queries of the named host's requests for path ("": any), in
// order.
func (w *world) queries(host, path string) []url.Values {
	var out []url.Values
	for _, r := range w.log(host) {
		if path == "" || r.Path == path {
			q, _ := url.ParseQuery(r.Query)
			out = append(out, q)
		}
	}
	return out
}

// setResponse fixes what path on host answers from now on (nil: as before).
func (w *world) setResponse(t *testing.T, host, path string, r *sim.Response) {
	t.Helper()
	if err := w.s.SetResponse(host, path, r); err != nil {
		t.Fatal(err)
	}
}

// env is a hermetic environment for Main pointing every provider at the world.
func (w *world) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, w.s.OpenAlexURL(), w.s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE": "3",
		"DOCSTOKG_RESOLVERS_ORDER":   "openalex,unpaywall,landing_page",
		"DOCSTOKG_RETRY_BASE_DELAY":  "100ms",
	}, extra)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
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
			pubBHost := strings.TrimPrefix(w.s.HostURLByName("pubB"), "http://")
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
			if q := w.log("openalex")[0].Query; !strings.Contains(q, "cursor=%2A") || !strings.Contains(q, "mailto=me%40example.org") {
				t.Errorf("first query %q lacks cursor=* or mailto", q)
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
			if v := w.violations(); len(v) > 0 {
				t.Errorf("requests inside an announced Retry-After window: %v", v)
			}
			if w.count("pubB", "/W6.pdf") != 2 {
				t.Errorf("W6 fetched %d times, want 2 (429 then 200)", w.count("pubB", "/W6.pdf"))
			}
			for _, q := range w.queries("unpaywall", "") {
				if e := q.Get("email"); e != "me@example.org" {
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
			before := w.pubRequests()
			res2 := runMain(t, w, getenv, "run", "--topic", "knowledge graphs", "--mailto", "me@example.org", "--out", out, "--json")
			if res2.code != ExitOK {
				t.Fatalf("rerun exit %d\n%s", res2.code, res2.stderr)
			}
			after := w.pubRequests()
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
	// W3's lookup is rate limited beyond any wait: the run is incomplete (exit 3).
	w := newWorld(t, func(sc *sim.Scenario) {
		sc.OpenAlex.Responses = []sim.PathResponse{{Path: "/works/W3", Response: sim.Response{
			Status: http.StatusTooManyRequests, Headers: map[string]string{"Retry-After": "86400"}}}}
	})
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
	// The first page spends the daily budget: every later page is 429 until midnight
	// (12 hours).
	w := newWorld(t, func(sc *sim.Scenario) {
		sc.OpenAlex.Cost = sim.CostSpec{ListUSD: 1, SearchUSD: 1, AllowanceUSD: 1}
	})
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
	w.setResponse(t, "landing", "/article/W3", &sim.Response{Status: http.StatusForbidden})
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
	w2.setResponse(t, "landing", "/article/W3", &sim.Response{Status: http.StatusBadGateway})
	res = runMain(t, w2, w2.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org", "--out", filepath.Join(t.TempDir(), "o"), "--quiet")
	if res.code != ExitIncomplete {
		t.Errorf("a 502 from the only route: exit %d, want 3\n%s", res.code, res.stderr)
	}
}
