package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// oaPage is a /works listing.
type oaPage struct {
	Meta struct {
		Count      int     `json:"count"`
		PerPage    int     `json:"per_page"`
		Page       *int    `json:"page"`
		NextCursor *string `json:"next_cursor"`
	} `json:"meta"`
	Results []map[string]json.RawMessage `json:"results"`
}

// oaWork is the part of a work record the tests look at.
type oaWork struct {
	ID              string `json:"id"`
	DOI             string `json:"doi"`
	DisplayName     string `json:"display_name"`
	Title           string `json:"title"`
	PublicationYear int    `json:"publication_year"`
	PublicationDate string `json:"publication_date"`
	Type            string `json:"type"`
	IDs             struct {
		OpenAlex string `json:"openalex"`
		DOI      string `json:"doi"`
		PMID     string `json:"pmid"`
		PMCID    string `json:"pmcid"`
	} `json:"ids"`
	OpenAccess struct {
		IsOA     bool    `json:"is_oa"`
		OAStatus string  `json:"oa_status"`
		OAURL    *string `json:"oa_url"`
	} `json:"open_access"`
	PrimaryLocation *oaLoc  `json:"primary_location"`
	BestOALocation  *oaLoc  `json:"best_oa_location"`
	Locations       []oaLoc `json:"locations"`
	Topics          []struct {
		ID string `json:"id"`
	} `json:"topics"`
}

type oaLoc struct {
	IsOA           bool    `json:"is_oa"`
	PDFURL         *string `json:"pdf_url"`
	LandingPageURL *string `json:"landing_page_url"`
	Version        *string `json:"version"`
	License        *string `json:"license"`
	Source         struct {
		DisplayName string `json:"display_name"`
	} `json:"source"`
}

func works(t *testing.T, c *http.Client, s *Sim, query string, status int) oaPage {
	t.Helper()
	var p oaPage
	body := getJSON(t, c, s.OpenAlexURL()+"/works?"+query, status, nil)
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("decode: %v; %s", err, body)
		}
	}
	return p
}

func ids(p oaPage) []string {
	var out []string
	for _, r := range p.Results {
		var id string
		_ = json.Unmarshal(r["id"], &id)
		out = append(out, strings.TrimPrefix(id, "https://openalex.org/"))
	}
	return out
}

func TestWorksCursorPaging(t *testing.T) {
	s := start(t, oneHost(57, Mix{DirectPDF: 1, Closed: 1}), Options{})
	c := client(t, false)
	var all []string
	cursor := "*"
	pages := 0
	for {
		p := works(t, c, s, "search=graph+neural&per_page=20&cursor="+url.QueryEscape(cursor), http.StatusOK)
		pages++
		if p.Meta.Count != 57 || p.Meta.PerPage != 20 || p.Meta.Page != nil {
			t.Fatalf("meta: %+v", p.Meta)
		}
		if p.Meta.NextCursor == nil {
			if len(p.Results) != 0 {
				t.Fatalf("null next_cursor with %d results", len(p.Results))
			}
			break
		}
		all = append(all, ids(p)...)
		cursor = *p.Meta.NextCursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	// 20 + 20 + 17, then the empty page that ends it.
	if pages != 4 || len(all) != 57 || all[0] != "W1" || all[56] != "W57" {
		t.Fatalf("pages=%d works=%d first=%v", pages, len(all), all[:1])
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("%s listed twice", id)
		}
		seen[id] = true
	}
}

func TestWorksPagePagingAndPerPage(t *testing.T) {
	s := start(t, oneHost(30, Mix{}), Options{})
	c := client(t, false)
	p := works(t, c, s, "", http.StatusOK)
	if len(p.Results) != 25 || p.Meta.PerPage != 25 || p.Meta.Page == nil || *p.Meta.Page != 1 || p.Meta.NextCursor != nil {
		t.Fatalf("default page: %d results, meta %+v", len(p.Results), p.Meta)
	}
	p = works(t, c, s, "page=2&per-page=25", http.StatusOK)
	if got := ids(p); len(got) != 5 || got[0] != "W26" {
		t.Fatalf("page 2: %v", got)
	}
	works(t, c, s, "per_page=200", http.StatusOK)
	for _, q := range []string{"per_page=201", "per_page=0", "per_page=x", "page=0", "page=51&per_page=200",
		"cursor=bogus", "cursor=*&page=2"} {
		works(t, c, s, q, http.StatusBadRequest)
	}
}

func TestWorksSearch(t *testing.T) {
	s := start(t, oneHost(40, Mix{}), Options{})
	c := client(t, false)
	if p := works(t, c, s, "search=GRAPH%20neural%20NETWORKS&per_page=200", http.StatusOK); p.Meta.Count != 40 {
		t.Fatalf("topic search matched %d of 40", p.Meta.Count)
	}
	if p := works(t, c, s, "search=quantum+gravity", http.StatusOK); p.Meta.Count != 0 || len(p.Results) != 0 {
		t.Fatalf("unrelated search matched %d", p.Meta.Count)
	}
	// A word of some titles only narrows the set to exactly those titles.
	want := 0
	for _, w := range s.Works() {
		if strings.Contains(strings.ToLower(w.Title), "protein folding") {
			want++
		}
	}
	if p := works(t, c, s, "search=Protein+Folding&per_page=200", http.StatusOK); p.Meta.Count != want || want == 0 {
		t.Fatalf("search matched %d, want %d (>0)", p.Meta.Count, want)
	}
}

func TestWorksFilters(t *testing.T) {
	sc := oneHost(80, Mix{DirectPDF: 1, Closed: 1})
	sc.Years = Years{From: 2018, To: 2025}
	s := start(t, sc, Options{})
	c := client(t, false)
	all := s.Works()
	count := func(keep func(Work) bool) int {
		n := 0
		for _, w := range all {
			if keep(w) {
				n++
			}
		}
		return n
	}
	hasTopic := func(w Work, id string) bool {
		for _, t := range w.TopicIDs {
			if t == id {
				return true
			}
		}
		return false
	}
	cases := []struct {
		filter string
		keep   func(Work) bool
	}{
		{"publication_year:2020", func(w Work) bool { return w.Year == 2020 }},
		{"publication_year:>2019", func(w Work) bool { return w.Year > 2019 }},
		{"publication_year:<2024", func(w Work) bool { return w.Year < 2024 }},
		{"publication_year:2019-2021", func(w Work) bool { return w.Year >= 2019 && w.Year <= 2021 }},
		{"publication_year:2018|2025", func(w Work) bool { return w.Year == 2018 || w.Year == 2025 }},
		{"publication_year:!2020", func(w Work) bool { return w.Year != 2020 }},
		{"from_publication_date:2020-01-01", func(w Work) bool { return w.Date >= "2020-01-01" }},
		{"from_publication_date:2020-01-01,to_publication_date:2022-06-30", func(w Work) bool { return w.Date >= "2020-01-01" && w.Date <= "2022-06-30" }},
		{"is_oa:true", func(w Work) bool { return w.Kind != KindClosed }},
		{"is_oa:false", func(w Work) bool { return w.Kind == KindClosed }},
		{"topics.id:T100", func(w Work) bool { return hasTopic(w, "T100") }},
		{"topics.id:T200", func(w Work) bool { return hasTopic(w, "T200") }},
		{"topics.id:T100,topics.id:T200", func(w Work) bool { return hasTopic(w, "T100") && hasTopic(w, "T200") }},
		{"topics.id:https://openalex.org/T200,is_oa:true,publication_year:>2020", func(w Work) bool {
			return hasTopic(w, "T200") && w.Kind != KindClosed && w.Year > 2020
		}},
		{"doi:https://doi.org/10.5555/SIM.7|10.5555/sim.9", func(w Work) bool { return w.ID == "W7" || w.ID == "W9" }},
		{"openalex:W3", func(w Work) bool { return w.ID == "W3" }},
	}
	for _, tc := range cases {
		want := count(tc.keep)
		p := works(t, c, s, "per_page=200&filter="+url.QueryEscape(tc.filter), http.StatusOK)
		if p.Meta.Count != want || len(p.Results) != want {
			t.Errorf("filter %s: count %d results %d, want %d", tc.filter, p.Meta.Count, len(p.Results), want)
		}
	}
	if n := count(func(w Work) bool { return hasTopic(w, "T200") }); n == 0 || n == len(all) {
		t.Fatalf("T200 should tag some works, tags %d of %d", n, len(all))
	}
	for _, bad := range []string{"publication_year:soon", "from_publication_date:2020", "is_oa:maybe", "cited_by_count:>10",
		"topics.id:X1", "publication_year"} {
		works(t, c, s, "filter="+url.QueryEscape(bad), http.StatusBadRequest)
	}
}

func TestWorksSelect(t *testing.T) {
	s := start(t, oneHost(3, Mix{}), Options{})
	c := client(t, false)
	p := works(t, c, s, "select=display_name,id,open_access", http.StatusOK)
	for _, r := range p.Results {
		if len(r) != 3 || r["id"] == nil || r["display_name"] == nil || r["open_access"] == nil {
			t.Fatalf("selected fields: %v", r)
		}
	}
	body := getJSON(t, c, s.OpenAlexURL()+"/works?select=id,abstract", http.StatusBadRequest, nil)
	if !strings.Contains(string(body), "abstract is not a valid select field") {
		t.Fatalf("error body: %s", body)
	}
	getJSON(t, c, s.OpenAlexURL()+"/works/W1?select=ids.doi", http.StatusBadRequest, nil)
	var one map[string]json.RawMessage
	getJSON(t, c, s.OpenAlexURL()+"/works/W1?select=doi", http.StatusOK, &one)
	if len(one) != 1 || string(one["doi"]) != `"https://doi.org/10.5555/sim.1"` {
		t.Fatalf("single select: %v", one)
	}
}

func TestWorkRecordShape(t *testing.T) {
	s := start(t, oneHost(6, Mix{}), Options{})
	c := client(t, false)
	var w oaWork
	getJSON(t, c, s.OpenAlexURL()+"/works/W3", http.StatusOK, &w)
	pdf := s.HostURL(0) + "/pdf/W3"
	if w.ID != "https://openalex.org/W3" || w.DOI != "https://doi.org/10.5555/sim.3" || w.Title == "" || w.DisplayName != w.Title ||
		w.PublicationYear < 2015 || !strings.HasPrefix(w.PublicationDate, strconv.Itoa(w.PublicationYear)) || w.Type != "article" {
		t.Fatalf("record: %+v", w)
	}
	if w.IDs.OpenAlex != w.ID || w.IDs.DOI != w.DOI || w.IDs.PMID == "" || w.IDs.PMCID == "" {
		t.Fatalf("ids: %+v", w.IDs)
	}
	if !w.OpenAccess.IsOA || w.OpenAccess.OAStatus != "gold" || w.OpenAccess.OAURL == nil || *w.OpenAccess.OAURL != pdf {
		t.Fatalf("open_access: %+v", w.OpenAccess)
	}
	if len(w.Locations) != 1 || w.PrimaryLocation == nil || w.BestOALocation == nil || *w.Locations[0].PDFURL != pdf ||
		*w.BestOALocation.PDFURL != pdf || !w.Locations[0].IsOA || w.Locations[0].Source.DisplayName == "" ||
		*w.Locations[0].Version != "publishedVersion" || *w.Locations[0].License != "cc-by" ||
		*w.Locations[0].LandingPageURL != s.HostURL(0)+"/landing/W3" {
		t.Fatalf("locations: %+v", w.Locations)
	}
	if len(w.Topics) == 0 || w.Topics[0].ID != "https://openalex.org/T100" {
		t.Fatalf("topics: %+v", w.Topics)
	}
}

func TestSingleRecordLookups(t *testing.T) {
	s := start(t, oneHost(5, Mix{}), Options{})
	c := client(t, false)
	for _, key := range []string{"W4", "w4", "https://openalex.org/W4", "doi:10.5555/sim.4", "doi:10.5555/SIM.4",
		"https://doi.org/10.5555/sim.4", "10.5555/sim.4", url.PathEscape("doi:10.5555/sim.4")} {
		var w oaWork
		getJSON(t, c, s.OpenAlexURL()+"/works/"+key, http.StatusOK, &w)
		if w.ID != "https://openalex.org/W4" {
			t.Errorf("lookup %s gave %s", key, w.ID)
		}
	}
	for _, key := range []string{"W99", "doi:10.5555/sim.99", "https://doi.org/10.1/none"} {
		getJSON(t, c, s.OpenAlexURL()+"/works/"+key, http.StatusNotFound, nil)
	}
	getJSON(t, c, s.OpenAlexURL()+"/authors", http.StatusNotFound, nil)
	resp, err := c.Post(s.OpenAlexURL()+"/works", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /works: %d", resp.StatusCode)
	}
}

func TestOpenAlexMalformedPageHeals(t *testing.T) {
	sc := oneHost(30, Mix{})
	sc.OpenAlex.MalformedPage = 2
	s := start(t, sc, Options{})
	c := client(t, false)
	first := works(t, c, s, "per_page=10&cursor=*", http.StatusOK)
	next := s.OpenAlexURL() + "/works?per_page=10&cursor=" + *first.Meta.NextCursor
	_, body := get(t, c, next)
	if json.Valid(body) {
		t.Fatalf("page 2 should be malformed once: %s", body)
	}
	_, body = get(t, c, next)
	var p oaPage
	if err := json.Unmarshal(body, &p); err != nil || ids(p)[0] != "W11" {
		t.Fatalf("page 2 should heal on retry: %v %s", err, body)
	}
	if st := hostStats(t, s, "openalex"); st.ByStatus["200"] != 3 {
		t.Fatalf("stats: %+v", st.ByStatus)
	}
}

func TestOpenAlexRepeatingCursor(t *testing.T) {
	sc := oneHost(30, Mix{})
	sc.OpenAlex.RepeatCursorPage = 2
	s := start(t, sc, Options{})
	c := client(t, false)
	p1 := works(t, c, s, "per_page=10&cursor=*", http.StatusOK)
	c2 := *p1.Meta.NextCursor
	p2 := works(t, c, s, "per_page=10&cursor="+c2, http.StatusOK)
	if p2.Meta.NextCursor == nil || *p2.Meta.NextCursor != c2 {
		t.Fatalf("page 2 should hand back its own cursor %q, got %v", c2, p2.Meta.NextCursor)
	}
	if got := ids(p2); got[0] != "W11" {
		t.Fatalf("page 2 results: %v", got)
	}
}

func TestOpenAlexThrottleEvery(t *testing.T) {
	sc := oneHost(5, Mix{})
	sc.OpenAlex.ThrottleEvery = 3
	sc.OpenAlex.RetryAfterSeconds = 7
	s, _ := startFake(t, sc)
	c := client(t, false)
	works(t, c, s, "", http.StatusOK)
	works(t, c, s, "", http.StatusOK)
	resp, _ := get(t, c, s.OpenAlexURL()+"/works")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("third listing: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The clock has not moved, so the next request is inside the window.
	works(t, c, s, "", http.StatusOK)
	st := hostStats(t, s, "openalex")
	if st.RetryAfterAnnounced != 1 || st.InRetryAfterWindow != 1 || st.ByStatus["429"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestOpenAlexRateLimitHeaders(t *testing.T) {
	sc := oneHost(5, Mix{})
	sc.OpenAlex.Capacity = Capacity{RPS: 10, Burst: 3}
	sc.OpenAlex.Headers = HeadersOpenAlex
	s, _ := startFake(t, sc)
	c := client(t, false)
	for i, want := range []string{"2", "1", "0"} {
		resp, _ := get(t, c, s.OpenAlexURL()+"/works/W1")
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "10" || resp.Header.Get("X-RateLimit-Remaining") != want ||
			resp.Header.Get("X-RateLimit-Reset") != "1" {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	resp, body := get(t, c, s.OpenAlexURL()+"/works/W1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !json.Valid(body) {
		t.Fatalf("over capacity: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// With last_page_null_cursor the page holding the last result ends the paging: no
// empty page follows.
func TestOpenAlexLastPageNullCursor(t *testing.T) {
	sc := oneHost(5, Mix{})
	sc.OpenAlex.LastPageNullCursor = true
	s := start(t, sc, Options{})
	c := client(t, false)
	p := works(t, c, s, "per_page=3&cursor=*", http.StatusOK)
	if len(p.Results) != 3 || p.Meta.NextCursor == nil {
		t.Fatalf("page 1: %d results, next %v", len(p.Results), p.Meta.NextCursor)
	}
	p = works(t, c, s, "per_page=3&cursor="+url.QueryEscape(*p.Meta.NextCursor), http.StatusOK)
	if len(p.Results) != 2 || p.Meta.NextCursor != nil {
		t.Fatalf("page 2: %d results, next %v", len(p.Results), p.Meta.NextCursor)
	}
	// Exactly full pages: the second and last page ends it too.
	p = works(t, c, s, "per_page=5&cursor=*", http.StatusOK)
	if len(p.Results) != 5 || p.Meta.NextCursor != nil {
		t.Fatalf("one full page: %d results, next %v", len(p.Results), p.Meta.NextCursor)
	}
}

// An expired cursor answers 400 once, uncharged, and is served again afterwards;
// "*" never expires.
func TestOpenAlexExpireCursor(t *testing.T) {
	sc := oneHost(5, Mix{})
	sc.OpenAlex.Cost = CostSpec{ListUSD: 0.01, SearchUSD: 0.01}
	s := start(t, sc, Options{})
	c := client(t, false)
	p := works(t, c, s, "per_page=3&cursor=*", http.StatusOK)
	next := *p.Meta.NextCursor
	s.ExpireCursor(next)
	s.ExpireCursor("*")
	works(t, c, s, "per_page=3&cursor="+url.QueryEscape(next), http.StatusBadRequest)
	if got := s.Spent(); got != 0.01 {
		t.Errorf("spent %v after one page and one expired cursor, want 0.01", got)
	}
	if p := works(t, c, s, "per_page=3&cursor="+url.QueryEscape(next), http.StatusOK); len(p.Results) != 2 {
		t.Fatalf("after the 400: %d results", len(p.Results))
	}
	works(t, c, s, "per_page=3&cursor=*", http.StatusOK)
}
