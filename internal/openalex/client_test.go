package openalex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/testkit"
)

const (
	cursor2 = "IlsxMDAuMCwgMTk5LCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzI3NDE4MDk4MDcnXSI="
	cursor3 = "IlsxMDAuMCwgMTk4LCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzMwMDAwMDAwMDMnXSI="
	cursor4 = "IlsxMDAuMCwgMTk3LCAnaHR0cHM6Ly9vcGVuYWxleC5vcmcvVzMwMDAwMDAwMDQnXSI="
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder is a recording server (testkit.Server) and a Client pointed at it.
type recorder struct {
	srv *testkit.Server
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	return &recorder{srv: testkit.NewServer(t, h)}
}

func (r *recorder) requests() []*http.Request { return r.srv.Requests() }

func (r *recorder) client() *Client {
	return &Client{
		BaseURL:   r.srv.URL,
		APIKey:    "sekrit-key",
		Mailto:    "me@example.org",
		UserAgent: "contentdl/1.0 (mailto:me@example.org)",
		Doer:      fetch.ClientDoer{Client: r.srv.Client()},
	}
}

// pagedHandler serves the fixture pages keyed by the cursor parameter.
func pagedHandler(t *testing.T) http.HandlerFunc {
	pages := map[string][]byte{
		"*":     fixture(t, "works_page1.json"),
		cursor2: fixture(t, "works_page2.json"),
		cursor3: fixture(t, "works_page3.json"),
		cursor4: fixture(t, "works_page4_empty.json"),
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/works" {
			http.NotFound(w, r)
			return
		}
		body, ok := pages[r.URL.Query().Get("cursor")]
		if !ok {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

func collect(t *testing.T, c *Client, q Query) ([]Work, []int, error) {
	t.Helper()
	var works []Work
	var counts []int
	err := c.Search(context.Background(), q, func(n int) { counts = append(counts, n) }, func(w Work) error {
		works = append(works, w)
		return nil
	})
	return works, counts, err
}

func TestSearchPagesThroughCursors(t *testing.T) {
	rec := newRecorder(t, pagedHandler(t))
	c := rec.client()
	works, counts, err := collect(t, c, Query{Search: "knowledge graphs", YearStart: 2020, YearEnd: 2023, OAOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range works {
		ids = append(ids, w.ID)
	}
	wantIDs := []string{"W2741809807", "W3128349626", "W4200000001", "W3000000001", "W3000000002", "W3000000003", "W3000000004"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Fatalf("ids = %v, want %v", ids, wantIDs)
	}
	if !reflect.DeepEqual(counts, []int{7}) {
		t.Fatalf("onCount calls = %v, want [7]", counts)
	}
	reqs := rec.requests()
	if len(reqs) != 4 {
		t.Fatalf("requests = %d, want 4 (3 pages + the empty last one)", len(reqs))
	}
	wantCursors := []string{"*", cursor2, cursor3, cursor4}
	for i, r := range reqs {
		if got := r.URL.Query().Get("cursor"); got != wantCursors[i] {
			t.Errorf("request %d cursor = %q, want %q", i+1, got, wantCursors[i])
		}
	}
	// The first request carries exactly the documented parameters and headers.
	first := reqs[0]
	want := url.Values{
		"search":   {"knowledge graphs"},
		"filter":   {"from_publication_date:2020-01-01,to_publication_date:2023-12-31,is_oa:true"},
		"per_page": {"100"},
		"select":   {"id,doi,display_name,title,publication_year,type,ids,open_access,primary_location,best_oa_location,locations,authorships"},
		"api_key":  {"sekrit-key"},
		"mailto":   {"me@example.org"},
		"cursor":   {"*"},
	}
	if got := first.URL.Query(); !reflect.DeepEqual(got, want) {
		t.Fatalf("query = %v\nwant    %v", got, want)
	}
	if first.URL.Path != "/works" || first.Method != http.MethodGet {
		t.Fatalf("request = %s %s", first.Method, first.URL.Path)
	}
	if ua := first.Header.Get("User-Agent"); ua != "contentdl/1.0 (mailto:me@example.org)" {
		t.Fatalf("User-Agent = %q", ua)
	}
	if !strings.Contains(first.URL.RawQuery, "search=knowledge+graphs") {
		t.Fatalf("search not escaped: %s", first.URL.RawQuery)
	}
}

func TestSearchConvertsRecords(t *testing.T) {
	rec := newRecorder(t, pagedHandler(t))
	works, _, err := collect(t, rec.client(), Query{Search: "x"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Work{}
	for _, w := range works {
		byID[w.ID] = w
	}

	peerj := byID["W2741809807"]
	if peerj.DOI != "10.7717/peerj.4375" || peerj.Year != 2018 || peerj.Type != "article" ||
		peerj.PMID != "29456894" || peerj.PMCID != "PMC5815332" || !peerj.IsOA ||
		peerj.OAURL != "https://doi.org/10.7717/peerj.4375" ||
		!strings.HasPrefix(peerj.Title, "The state of OA") {
		t.Fatalf("peerj work = %+v", peerj)
	}
	wantBest := &Location{IsOA: true, PDFURL: "https://peerj.com/articles/4375.pdf", LandingPageURL: "https://doi.org/10.7717/peerj.4375",
		Version: "publishedVersion", License: "cc-by", Source: "PeerJ"}
	if !reflect.DeepEqual(peerj.Best, wantBest) {
		t.Fatalf("best = %+v", peerj.Best)
	}
	if len(peerj.Locations) != 3 || peerj.Locations[2].PDFURL != "" || peerj.Locations[2].IsOA || peerj.Locations[1].Source != "Europe PMC (PubMed Central)" {
		t.Fatalf("locations = %+v", peerj.Locations)
	}

	closed := byID["W4200000001"]
	if closed.DOI != "" || closed.Best != nil || closed.Primary == nil || closed.Primary.Source != "" || closed.IsOA {
		t.Fatalf("closed work = %+v", closed)
	}
	upper := byID["W3000000002"]
	if upper.DOI != "10.1000/xyz-upper(1)" || upper.Title != "Title only in the title field" || upper.Year != 0 || upper.Primary != nil {
		t.Fatalf("work with odd fields = %+v", upper)
	}
	green := byID["W3000000003"]
	if green.Primary.Source != "S999" || green.Best.Version != "acceptedVersion" {
		t.Fatalf("green work = %+v / %+v", green.Primary, green.Best)
	}
	if pmc := byID["W3000000001"].PMCID; pmc != "PMC1762313" {
		t.Fatalf("PMCID = %q", pmc)
	}
	if a := byID["W3128349626"].ArxivID(); a != "2102.00001" {
		t.Fatalf("ArxivID = %q", a)
	}
}

func TestSearchFilterAndPageSize(t *testing.T) {
	tests := []struct {
		name       string
		q          Query
		perPage    int
		wantFilter string
		wantSearch string
		wantPer    string
	}{
		{"topic only", Query{TopicID: "https://openalex.org/T10325"}, 0, "topics.id:T10325", "", "100"},
		{"topic and years and oa", Query{TopicID: "t10325", YearStart: 2019, YearEnd: 2019, OAOnly: true}, 0,
			"topics.id:T10325,from_publication_date:2019-01-01,to_publication_date:2019-12-31,is_oa:true", "", "100"},
		{"start year only", Query{Search: "a", YearStart: 2021}, 0, "from_publication_date:2021-01-01", "a", "100"},
		{"end year only", Query{Search: "a", YearEnd: 1999}, 0, "to_publication_date:1999-12-31", "a", "100"},
		{"no filter", Query{Search: `"graph neural" AND chemistry`}, 0, "", `"graph neural" AND chemistry`, "100"},
		{"page size from client", Query{Search: "a"}, 50, "", "a", "50"},
		{"page size clamped", Query{Search: "a"}, 1000, "", "a", "200"},
		{"small max works shrinks the page", Query{Search: "a", MaxWorks: 7}, 0, "", "a", "7"},
		{"large max works keeps the page", Query{Search: "a", MaxWorks: 700}, 0, "", "a", "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"meta":{"count":0,"next_cursor":null},"results":[]}`)
			})
			c := rec.client()
			c.PerPage = tt.perPage
			c.APIKey, c.Mailto = "", ""
			if _, _, err := collect(t, c, tt.q); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d", len(reqs))
			}
			q := reqs[0].URL.Query()
			if _, has := q["filter"]; has != (tt.wantFilter != "") || q.Get("filter") != tt.wantFilter {
				t.Errorf("filter = %q (present %v), want %q", q.Get("filter"), has, tt.wantFilter)
			}
			if _, has := q["search"]; has != (tt.wantSearch != "") || q.Get("search") != tt.wantSearch {
				t.Errorf("search = %q, want %q", q.Get("search"), tt.wantSearch)
			}
			if q.Get("per_page") != tt.wantPer {
				t.Errorf("per_page = %q, want %q", q.Get("per_page"), tt.wantPer)
			}
			if _, has := q["api_key"]; has {
				t.Error("api_key sent although unset")
			}
			if _, has := q["mailto"]; has {
				t.Error("mailto sent although unset")
			}
		})
	}
}

func TestSearchRejectsBadQueries(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"nothing to search", Query{YearStart: 2020}, "search text or a topic id"},
		{"bad topic", Query{TopicID: "T12,is_oa:false"}, "topic id"},
		{"topic of wrong kind", Query{TopicID: "W123"}, "topic id"},
		{"inverted years", Query{Search: "a", YearStart: 2023, YearEnd: 2020}, "after year end"},
		{"negative max", Query{Search: "a", MaxWorks: -1}, "negative"},
		{"year out of range", Query{Search: "a", YearEnd: 20230}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, pagedHandler(t))
			_, _, err := collect(t, rec.client(), tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if n := len(rec.requests()); n != 0 {
				t.Fatalf("%d requests sent for an invalid query", n)
			}
		})
	}
	if err := (&Client{}).Search(context.Background(), Query{Search: "a"}, nil, func(Work) error { return nil }); err == nil {
		t.Fatal("a client without Doer must fail")
	}
}

func TestSearchMaxWorksStopsEarly(t *testing.T) {
	tests := []struct {
		max, wantWorks, wantRequests int
	}{
		{1, 1, 1},
		{3, 3, 1},
		{4, 4, 2},
		{6, 6, 2},
		{7, 7, 3},
		{100, 7, 4},
	}
	for _, tt := range tests {
		rec := newRecorder(t, pagedHandler(t))
		works, _, err := collect(t, rec.client(), Query{Search: "x", MaxWorks: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		if len(works) != tt.wantWorks || len(rec.requests()) != tt.wantRequests {
			t.Errorf("MaxWorks %d: works %d, requests %d; want %d, %d", tt.max, len(works), len(rec.requests()), tt.wantWorks, tt.wantRequests)
		}
	}
}

func TestSearchStopsOnRepeatedCursor(t *testing.T) {
	page := func(next string) string {
		return `{"meta":{"count":1000,"next_cursor":"` + next + `"},"results":[{"id":"https://openalex.org/W1"}]}`
	}
	tests := []struct {
		name      string
		next      map[string]string // cursor -> next cursor
		wantCalls int
	}{
		{"self loop", map[string]string{"*": "A", "A": "A"}, 2},
		{"two-cycle", map[string]string{"*": "A", "A": "B", "B": "A"}, 3},
		{"back to start", map[string]string{"*": "*"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, page(tt.next[r.URL.Query().Get("cursor")]))
			})
			var logs bytes.Buffer
			c := rec.client()
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			works, _, err := collect(t, c, Query{Search: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.requests()) != tt.wantCalls || len(works) != tt.wantCalls {
				t.Fatalf("requests %d works %d, want %d", len(rec.requests()), len(works), tt.wantCalls)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "cursor") {
				t.Fatalf("no warning logged: %s", logs.String())
			}
			if strings.Contains(logs.String(), "sekrit-key") {
				t.Fatalf("api key in logs: %s", logs.String())
			}
		})
	}
}

func TestSearchMalformedJSON(t *testing.T) {
	tests := []struct{ name, body string }{
		{"truncated", `{"meta":{"count":3,"next_cursor":null},"results":[{"id":"https://op`},
		{"html error page", `<!doctype html><title>502 Bad Gateway</title>`},
		{"wrong type", `{"meta":{"count":"many"},"results":[]}`},
		{"trailing garbage", `{"meta":{"count":0,"next_cursor":null},"results":[]} {"x":1}`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := fixture(t, "works_page1.json")
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("cursor") == "*" {
					_, _ = w.Write(first)
					return
				}
				_, _ = io.WriteString(w, tt.body)
			})
			works, _, err := collect(t, rec.client(), Query{Search: "x"})
			if err == nil {
				t.Fatal("no error for malformed page")
			}
			msg := err.Error()
			if !strings.Contains(msg, "page 2") || !strings.Contains(msg, rec.srv.URL+"/works?") {
				t.Fatalf("error does not name the page and URL: %v", err)
			}
			if strings.Contains(msg, "sekrit-key") || strings.Contains(msg, "me@example.org") || !strings.Contains(msg, "api_key=REDACTED") {
				t.Fatalf("error not redacted: %v", err)
			}
			if len(works) != 3 {
				t.Fatalf("works before the bad page = %d, want 3", len(works))
			}
			if n := len(rec.requests()); n != 2+MalformedRetries {
				t.Fatalf("requests = %d, want page 1 + %d tries of page 2", n, 1+MalformedRetries)
			}
		})
	}
}

func TestSearchRefetchesMalformedPageOnce(t *testing.T) {
	pages := pagedHandler(t)
	var mu sync.Mutex
	broken := 1 // the first answer for page 2 is cut short
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		breakIt := r.URL.Query().Get("cursor") == cursor2 && broken > 0
		if breakIt {
			broken--
		}
		mu.Unlock()
		if breakIt {
			// A stale field from the broken body must not leak into the healed page.
			_, _ = io.WriteString(w, `{"meta":{"count":7,"next_cursor":"bogus"},"results":[{"id":"https://openalex.org/W3000000001"},`+
				`{"id":"https://openalex.org/W3000000002","publication_year":1900,"primary_location":{"pdf_url":"https://stale.example/x.pdf"}},{"id":"https://op`)
			return
		}
		pages(w, r)
	})
	var logs bytes.Buffer
	c := rec.client()
	c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	works, _, err := collect(t, c, Query{Search: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(works) != 7 || len(rec.requests()) != 5 {
		t.Fatalf("works %d, requests %d; want 7, 5", len(works), len(rec.requests()))
	}
	if w := works[4]; w.ID != "W3000000002" || w.Year != 0 || w.Primary != nil {
		t.Fatalf("healed page kept stale data: %+v", w)
	}
	if !strings.Contains(logs.String(), "did not decode") || strings.Contains(logs.String(), "sekrit-key") {
		t.Fatalf("logs = %s", logs.String())
	}
}

func TestSearchStatusError(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, `{"error":"Rate limit exceeded"}`, http.StatusTooManyRequests)
	})
	_, _, err := collect(t, rec.client(), Query{Search: "x"})
	var se *fetch.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *fetch.Error", err)
	}
	if se.Status != 429 || se.RetryAfter != "3600" || strings.Contains(se.URL, "sekrit-key") || !strings.Contains(se.URL, "api_key=REDACTED") {
		t.Fatalf("status error = %+v", se)
	}
	if !strings.Contains(err.Error(), "page 1") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("message = %v", err)
	}
}

func TestSearchCallbackErrorStops(t *testing.T) {
	rec := newRecorder(t, pagedHandler(t))
	stop := errors.New("stop here")
	n := 0
	err := rec.client().Search(context.Background(), Query{Search: "x"}, nil, func(Work) error {
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 4 || len(rec.requests()) != 2 {
		t.Fatalf("err %v after %d works and %d requests", err, n, len(rec.requests()))
	}
}

func TestSearchHonoursCancellation(t *testing.T) {
	rec := newRecorder(t, pagedHandler(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := rec.client().Search(ctx, Query{Search: "x"}, nil, func(w Work) error {
		if w.ID == "W4200000001" { // last work of page 1
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(rec.requests()) != 1 {
		t.Fatalf("err %v, requests %d", err, len(rec.requests()))
	}
}

func TestSearchSkipsRecordsWithoutID(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"meta":{"count":2,"next_cursor":null},"results":[{"id":null,"display_name":"ghost"},{"id":"https://openalex.org/W2"}]}`)
	})
	works, _, err := collect(t, rec.client(), Query{Search: "x"})
	if err != nil || len(works) != 1 || works[0].ID != "W2" {
		t.Fatalf("works %+v err %v", works, err)
	}
}

func TestLookup(t *testing.T) {
	single := fixture(t, "work_W2741809807.json")
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/works/W2741809807", "/works/doi:10.7717/peerj.4375":
			_, _ = w.Write(single)
		case "/works/doi:10.1002/(sici)1097-4636(199706)35:4<413::aid-jbm1>3.0.co;2-#":
			if strings.ContainsAny(r.URL.EscapedPath(), "<>;#") {
				t.Errorf("reserved characters not escaped: %s", r.RequestURI)
			}
			_, _ = io.WriteString(w, `{"id":"https://openalex.org/W99","doi":"https://doi.org/10.1002/(sici)1097-4636(199706)35:4<413::aid-jbm1>3.0.co;2-#"}`)
		default:
			http.Error(w, `{"error":"404"}`, http.StatusNotFound)
		}
	})
	c := rec.client()
	for _, id := range []string{"W2741809807", "https://openalex.org/W2741809807", "10.7717/peerj.4375",
		"https://doi.org/10.7717/PEERJ.4375", "doi:10.7717/peerj.4375"} {
		w, err := c.Lookup(context.Background(), id)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", id, err)
		}
		if w.ID != "W2741809807" || w.DOI != "10.7717/peerj.4375" || w.PMCID != "PMC5815332" {
			t.Fatalf("Lookup(%q) = %+v", id, w)
		}
	}
	w, err := c.Lookup(context.Background(), "10.1002/(SICI)1097-4636(199706)35:4<413::AID-JBM1>3.0.CO;2-#")
	if err != nil || w.ID != "W99" {
		t.Fatalf("DOI with reserved characters: %+v, %v", w, err)
	}
	q := rec.requests()[0].URL.Query()
	if q.Get("api_key") != "sekrit-key" || q.Get("mailto") != "me@example.org" || q.Get("select") != SelectFields {
		t.Fatalf("lookup query = %v", q)
	}

	_, err = c.Lookup(context.Background(), "W1")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: err = %v, want ErrNotFound", err)
	}
	n := len(rec.requests())
	if _, err := c.Lookup(context.Background(), "not-an-id"); err == nil || len(rec.requests()) != n {
		t.Fatalf("bad id: err %v, requests %d -> %d", err, n, len(rec.requests()))
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"server error", 503, "unavailable", func(err error) bool {
			var se *fetch.Error
			return errors.As(err, &se) && se.Status == 503 && !errors.Is(err, ErrNotFound)
		}},
		{"malformed", 200, `{"id":`, func(err error) bool { return strings.Contains(err.Error(), "decode") }},
		{"null record", 200, `null`, func(err error) bool { return strings.Contains(err.Error(), "no id") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := rec.client().Lookup(context.Background(), "W1")
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// Authors come from authorships, in order: the author's display name, else the raw
// name as printed; empty ones are skipped and a huge list is capped.
func TestAuthorsFromAuthorships(t *testing.T) {
	var raw rawWork
	doc := `{"id":"https://openalex.org/W1","display_name":"T","authorships":[
		{"author":{"display_name":" Zoë Núñez "},"raw_author_name":"Z. Núñez"},
		{"author":{"display_name":null},"raw_author_name":"K. Gödel"},
		{"author":{"display_name":""},"raw_author_name":""},
		{"author":{"display_name":"Ada {Lovelace}"}}]}`
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		t.Fatal(err)
	}
	got := raw.work().Authors
	want := []string{"Zoë Núñez", "K. Gödel", "Ada {Lovelace}"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("authors = %q, want %q", got, want)
	}
	raw.Authorships = make([]struct {
		Author struct {
			DisplayName string `json:"display_name"`
		} `json:"author"`
		RawAuthorName string `json:"raw_author_name"`
	}, 5000)
	for i := range raw.Authorships {
		raw.Authorships[i].RawAuthorName = "A"
	}
	if n := len(raw.work().Authors); n != maxAuthors {
		t.Errorf("%d authors kept of 5000, want %d", n, maxAuthors)
	}
	if (&rawWork{}).work().Authors != nil {
		t.Error("a work without authorships has authors")
	}
}

// TestSearchKeepFiltersBeforeMaxWorks drops works with Paging.Keep (as a shard does):
// they are never delivered and do not count against MaxWorks.
func TestSearchKeepFiltersBeforeMaxWorks(t *testing.T) {
	keep := func(id string) bool { return strings.HasPrefix(id, "W3000") }
	for _, tt := range []struct {
		max  int
		want []string
	}{
		{0, []string{"W3000000001", "W3000000002", "W3000000003", "W3000000004"}},
		{2, []string{"W3000000001", "W3000000002"}},
	} {
		rec := newRecorder(t, pagedHandler(t))
		var ids []string
		err := rec.client().SearchFrom(context.Background(), Query{Search: "x", MaxWorks: tt.max}, Paging{Keep: keep}, nil,
			func(w Work) error { ids = append(ids, w.ID); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("MaxWorks %d: ids %v, want %v", tt.max, ids, tt.want)
		}
	}
}
