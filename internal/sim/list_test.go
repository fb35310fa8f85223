package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
)

// oaRecord is the part of an OpenAlex record the list tests look at.
type oaRecord struct {
	ID         string `json:"id"`
	DOI        string `json:"doi"`
	Title      string `json:"title"`
	Year       int    `json:"publication_year"`
	OpenAccess struct {
		IsOA bool `json:"is_oa"`
	} `json:"open_access"`
	Best *struct {
		PDFURL *string `json:"pdf_url"`
	} `json:"best_oa_location"`
	Locations []struct {
		PDFURL         *string `json:"pdf_url"`
		LandingPageURL *string `json:"landing_page_url"`
	} `json:"locations"`
}

// listed is a scenario whose works are given one by one on two hosts.
func listed() Scenario {
	return Scenario{Seed: 5, Topic: "listed", PDFSize: 2048, Hosts: []HostSpec{{Name: "a"}, {Name: "b"}},
		Works: WorksSpec{List: []WorkSpec{
			{Kind: KindNotFoundThenUnpaywall, Host: "b"},
			{ID: "W40", DOI: "10.1000/W40", Title: "Listed forty", Year: 2021, Locations: []LocationSpec{
				{Host: "a", PDF: "/bad/W40.pdf"}, {Host: "b", PDF: "/W40.pdf", Landing: "/article/W40"}}},
			{ID: "W41", Unpaywall: []LocationSpec{{Host: "a", PDF: "/repo/W41.pdf"}}},
			{ID: "W42", Locations: []LocationSpec{{Landing: "/abstract/W42"}}},
			{ID: "W43"},
			{ID: "W44", Kind: KindListed, Locations: []LocationSpec{{Host: "a", PDF: "/W44.pdf", Landing: "/landing/W44", LandingHost: "b"}}},
			{ID: "W45", Kind: KindListed},
		}}}
}

// A works list fixes each work's id, DOI, title, year and kind or locations; the
// paths of its locations serve its PDF and pages, and Unpaywall knows only the works
// that have Unpaywall locations (or a kind that implies them).
func TestListedWorks(t *testing.T) {
	s := start(t, listed(), Options{})
	c := client(t, false)
	works := s.Works()
	if len(works) != 7 {
		t.Fatalf("%d works", len(works))
	}
	ids := []string{}
	for _, w := range works {
		ids = append(ids, w.ID+"/"+w.DOI+"/"+string(w.Kind)+"/"+w.Host+"/"+w.Expected)
	}
	want := []string{"W1/10.5555/sim.1/not_found_then_unpaywall/b/pdf", "W40/10.1000/w40/listed/a/pdf",
		"W41/10.5555/sim.3/listed/a/pdf", "W42/10.5555/sim.4/listed/a/miss", "W43/10.5555/sim.5/direct_pdf/a/pdf",
		"W44/10.5555/sim.6/listed/a/pdf", "W45/10.5555/sim.7/listed/a/miss"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("works\n%v\nwant\n%v", ids, want)
	}
	a, b := s.HostURLByName("a"), s.HostURLByName("b")

	var w40 oaRecord
	getJSON(t, c, s.OpenAlexURL()+"/works/W40", http.StatusOK, &w40)
	if w40.Title != "Listed forty" || w40.Year != 2021 || w40.DOI != "https://doi.org/10.1000/w40" || !w40.OpenAccess.IsOA ||
		len(w40.Locations) != 2 || *w40.Locations[0].PDFURL != a+"/bad/W40.pdf" || *w40.Locations[1].PDFURL != b+"/W40.pdf" ||
		*w40.Locations[1].LandingPageURL != b+"/article/W40" || *w40.Best.PDFURL != a+"/bad/W40.pdf" {
		t.Fatalf("W40 %+v", w40)
	}
	if works[1].PDFURL != a+"/bad/W40.pdf" {
		t.Errorf("W40 pdf_url %s", works[1].PDFURL)
	}
	// Both PDF paths serve the work's PDF; the landing page links to its location's PDF.
	pdf, _ := s.PDF("W40")
	for _, u := range []string{a + "/bad/W40.pdf", b + "/W40.pdf"} {
		if _, body := get(t, c, u); !bytes.Equal(body, pdf) || len(body) != 2048 {
			t.Fatalf("%s: %d bytes, not W40's PDF", u, len(body))
		}
	}
	if _, page := get(t, c, b+"/article/W40"); !strings.Contains(string(page), `citation_pdf_url" content="`+b+`/W40.pdf"`) {
		t.Fatalf("landing page %s", page)
	}
	if _, page := get(t, c, a+"/abstract/W42"); strings.Contains(string(page), "citation_pdf_url") || !strings.Contains(string(page), "Subscribe") {
		t.Fatalf("abstract page %s", page)
	}
	// A work with only an abstract page is not open access.
	var w42 oaRecord
	getJSON(t, c, s.OpenAlexURL()+"/works/W42", http.StatusOK, &w42)
	if !w42.OpenAccess.IsOA || w42.Best == nil || w42.Best.PDFURL != nil {
		t.Fatalf("W42 %+v", w42)
	}

	up := s.UnpaywallURL() + "/v2/"
	getJSON(t, c, up+"10.1000/w40?email=me@example.org", http.StatusNotFound, nil)
	var r upRecord
	getJSON(t, c, up+"10.5555/sim.3?email=me@example.org", http.StatusOK, &r)
	if r.BestOALocation == nil || *r.BestOALocation.URLForPDF != a+"/repo/W41.pdf" || len(r.OALocations) != 1 {
		t.Fatalf("W41 on Unpaywall %+v", r)
	}
	var w41 oaRecord
	getJSON(t, c, s.OpenAlexURL()+"/works/W41", http.StatusOK, &w41)
	if !w41.OpenAccess.IsOA || len(w41.Locations) != 0 || w41.Best != nil {
		t.Fatalf("W41 %+v", w41)
	}
	// A listed kind behaves as that kind: W1's OpenAlex copy is missing on b, its
	// Unpaywall copy is on the next host.
	getJSON(t, c, up+"10.5555/sim.1?email=me@example.org", http.StatusOK, &r)
	if *r.BestOALocation.URLForPDF != a+"/pdf/W1" {
		t.Fatalf("W1 on Unpaywall %+v", r)
	}
	if resp, _ := get(t, c, b+"/missing/W1"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("W1 missing copy: %d", resp.StatusCode)
	}
	// A landing page on another host than its PDF; a listed work with no location.
	var w44, w45 oaRecord
	getJSON(t, c, s.OpenAlexURL()+"/works/W44", http.StatusOK, &w44)
	if len(w44.Locations) != 1 || *w44.Locations[0].PDFURL != a+"/W44.pdf" || *w44.Locations[0].LandingPageURL != b+"/landing/W44" {
		t.Fatalf("W44 %+v", w44)
	}
	if _, page := get(t, c, b+"/landing/W44"); !strings.Contains(string(page), `citation_pdf_url" content="`+a+`/W44.pdf"`) {
		t.Fatalf("W44's landing page %s", page)
	}
	getJSON(t, c, s.OpenAlexURL()+"/works/W45", http.StatusOK, &w45)
	if w45.OpenAccess.IsOA || len(w45.Locations) != 0 || w45.Best != nil {
		t.Fatalf("W45 %+v", w45)
	}
	getJSON(t, c, up+"10.5555/sim.7?email=me@example.org", http.StatusNotFound, nil)
	// search= finds the listed titles too.
	var list struct {
		Results []oaRecord `json:"results"`
	}
	getJSON(t, c, s.OpenAlexURL()+"/works?search=listed", http.StatusOK, &list)
	if len(list.Results) != 7 {
		t.Fatalf("search found %d works", len(list.Results))
	}
}

// Raw records: UnpaywallRaw is sent verbatim (even broken) and OpenAlex fields
// replace or add to the record, with ${host} replaced by the host's URL; an added
// field can be selected, and reads null on works without it.
func TestListedWorkRawRecords(t *testing.T) {
	sc := listed()
	sc.Works.List[2].UnpaywallRaw = `{"doi": "10.5555/sim.3", "best_oa_location": {"url_for_pdf": "${a}/ok.pdf"`
	sc.Works.List[3].OpenAlex = map[string]string{"open_access": `{"is_oa": true, "oa_url": "${b}/page/x.html"}`,
		"content_urls": `{"pdf": "${a}/content/W42.pdf"}`, "locations": "null"}
	s := start(t, sc, Options{})
	c := client(t, false)
	a, b := s.HostURLByName("a"), s.HostURLByName("b")
	_, body := get(t, c, s.UnpaywallURL()+"/v2/10.5555/sim.3?email=me@example.org")
	if want := `{"doi": "10.5555/sim.3", "best_oa_location": {"url_for_pdf": "` + a + `/ok.pdf"`; string(body) != want {
		t.Fatalf("raw Unpaywall answer %q, want %q", body, want)
	}
	var rec map[string]json.RawMessage
	getJSON(t, c, s.OpenAlexURL()+"/works/W42", http.StatusOK, &rec)
	if string(rec["open_access"]) != `{"is_oa": true, "oa_url": "`+b+`/page/x.html"}` || string(rec["locations"]) != "null" ||
		string(rec["content_urls"]) != `{"pdf": "`+a+`/content/W42.pdf"}` {
		t.Fatalf("W42 %s / %s / %s", rec["open_access"], rec["locations"], rec["content_urls"])
	}
	var page struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	getJSON(t, c, s.OpenAlexURL()+"/works?select=id,content_urls&per_page=10", http.StatusOK, &page)
	if len(page.Results) != 7 {
		t.Fatalf("%d results", len(page.Results))
	}
	for _, r := range page.Results {
		want := "null"
		if string(r["id"]) == `"https://openalex.org/W42"` {
			want = string(rec["content_urls"])
		}
		if len(r) != 2 || string(r["content_urls"]) != want {
			t.Fatalf("%s: %v", r["id"], r)
		}
	}
	getJSON(t, c, s.OpenAlexURL()+"/works?select=id,nope", http.StatusBadRequest, nil)
}

// Fixed responses: a host's Responses answer their path or prefix (status, headers,
// body, chunked; an unlabelled body is sniffed) when no fault applies; SetResponse
// changes them at run time.
func TestFixedResponses(t *testing.T) {
	sc := listed()
	sc.Hosts[0].Responses = []PathResponse{
		{Path: "/bad/W40.pdf", Response: Response{Status: http.StatusFound, Headers: map[string]string{"Location": "file:///etc/passwd"}}},
		{PathPrefix: "/repo/", Response: Response{Headers: map[string]string{"Content-Type": "application/pdf", "Content-Encoding": "gzip"},
			Body: "\x1f\x8b\x08binary"}},
		{PathPrefix: "/chunked/", Response: Response{Body: strings.Repeat("%PDF-1.4 chunk ", 10_000), Chunked: true}},
	}
	sc.Hosts[0].Faults.Schedules = []Schedule{{Path: "/repo/W41.pdf", Attempts: []Fault{{Kind: FaultUnavailable}}}}
	s := start(t, sc, Options{})
	c := client(t, false)
	a := s.HostURLByName("a")
	resp, _ := get(t, c, a+"/bad/W40.pdf")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "file:///etc/passwd" {
		t.Fatalf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	// The fault schedule comes first, then the fixed response.
	if resp, _ := get(t, c, a+"/repo/W41.pdf"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: %d", resp.StatusCode)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	raw := &http.Client{Transport: tr}
	resp, body := get(t, raw, a+"/repo/W41.pdf")
	if resp.StatusCode != 200 || string(body) != "\x1f\x8b\x08binary" || resp.Header.Get("Content-Encoding") != "gzip" ||
		resp.Header.Get("Content-Type") != "application/pdf" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("bytes: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = get(t, c, a+"/chunked/any")
	if resp.StatusCode != 200 || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" ||
		len(body) != 150_000 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("chunked: %d len %d %v %v, %d bytes", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Header, len(body))
	}
	if s.Requests("a", "/repo/W41.pdf") != 2 {
		t.Errorf("requests %d", s.Requests("a", "/repo/W41.pdf"))
	}

	// At run time: a page appears, overrides the host's list, and goes again.
	if resp, _ := get(t, c, a+"/files/new.pdf"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	if err := s.SetResponse("a", "/files/new.pdf", &Response{Body: "%PDF-1.4 new"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetResponse("a", "/bad/W40.pdf", &Response{Status: http.StatusGone}); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, c, a+"/files/new.pdf"); resp.StatusCode != 200 || string(body) != "%PDF-1.4 new" {
		t.Fatalf("set: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, c, a+"/bad/W40.pdf"); resp.StatusCode != http.StatusGone {
		t.Fatalf("set over the list: %d", resp.StatusCode)
	}
	if err := s.SetResponse("a", "/bad/W40.pdf", nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, a+"/bad/W40.pdf"); resp.StatusCode != http.StatusFound {
		t.Fatalf("removed: %d", resp.StatusCode)
	}
	if s.SetResponse("nope", "/x", nil) == nil || s.SetResponse("a", "x", nil) == nil ||
		s.SetResponse("a", "/x", &Response{Status: 1000}) == nil {
		t.Error("SetResponse accepted an unknown host, a relative path or a bad status")
	}
}

// The request log names each request's path and query, with the API key hidden.
func TestRequestLogNamesPathAndQuery(t *testing.T) {
	s := start(t, oneHost(1, Mix{}), Options{})
	c := client(t, false)
	getJSON(t, c, s.OpenAlexURL()+"/works?cursor=*&api_key=secret&mailto=me@example.org", http.StatusOK, nil)
	get(t, c, s.HostURL(0)+"/pdf/W1")
	log := hostStats(t, s, RoleOpenAlex).Log
	if len(log) != 1 || log[0].Path != "/works" || log[0].Query != "cursor=*&api_key=REDACTED&mailto=me@example.org" {
		t.Fatalf("openalex log %+v", log)
	}
	if log := hostStats(t, s, "pub").Log; len(log) != 1 || log[0].Path != "/pdf/W1" || log[0].Query != "" {
		t.Fatalf("publisher log %+v", log)
	}
}

func TestListValidation(t *testing.T) {
	for name, edit := range map[string]func(*Scenario){
		"count and list":     func(sc *Scenario) { sc.Works.Count = 3 },
		"bad id":             func(sc *Scenario) { sc.Works.List[1].ID = "X1" },
		"duplicate id":       func(sc *Scenario) { sc.Works.List[1].ID = "W1" },
		"duplicate doi":      func(sc *Scenario) { sc.Works.List[1].DOI = "10.5555/SIM.1" },
		"unknown kind":       func(sc *Scenario) { sc.Works.List[0].Kind = "weird" },
		"kind and locations": func(sc *Scenario) { sc.Works.List[1].Kind = KindClosed },
		"landing host alone": func(sc *Scenario) { sc.Works.List[1].Locations[0].LandingHost = "b" },
		"unknown host":       func(sc *Scenario) { sc.Works.List[0].Host = "c" },
		"location host":      func(sc *Scenario) { sc.Works.List[1].Locations[0].Host = "openalex" },
		"empty location":     func(sc *Scenario) { sc.Works.List[1].Locations[0] = LocationSpec{Host: "a"} },
		"relative path":      func(sc *Scenario) { sc.Works.List[2].Unpaywall[0].PDF = "repo/W41.pdf" },
		"bad openalex json":  func(sc *Scenario) { sc.Works.List[3].OpenAlex = map[string]string{"x": "{"} },
		"response paths": func(sc *Scenario) {
			sc.Hosts[0].Responses = []PathResponse{{Path: "/a", PathPrefix: "/b"}}
		},
		"response status": func(sc *Scenario) {
			sc.Hosts[0].Responses = []PathResponse{{Path: "/a", Response: Response{Status: 99}}}
		},
	} {
		sc := listed()
		edit(&sc)
		if _, err := Start(sc, Options{}); err == nil {
			t.Errorf("%s: Start accepted it", name)
		}
	}
	// The YAML form parses.
	sc, err := ParseScenario([]byte(`
hosts: [{name: a, responses: [{path: /x, status: 302, headers: {Location: "ftp://h/x"}}]}]
works:
  list:
    - {id: W7, title: Seven, locations: [{host: a, pdf: /x}], unpaywall_raw: "{"}
    - {kind: closed}
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Works.List[1].ID != "W2" || sc.Hosts[0].Responses[0].Headers["Location"] != "ftp://h/x" || sc.Works.List[0].Kind != KindListed {
		t.Errorf("parsed %+v", sc)
	}
}

// Responses work on the APIs too (before their own answers, after the capacity),
// and ${name} in a response's headers and body is the named host's URL.
func TestFixedResponsesOnAPIsAndHostURLs(t *testing.T) {
	sc := listed()
	sc.OpenAlex.Responses = []PathResponse{{Path: "/works/W40", Response: Response{Status: http.StatusTooManyRequests,
		Headers: map[string]string{"Retry-After": "86400"}}}}
	sc.Unpaywall.Responses = []PathResponse{{Path: "/v2/10.5555/sim.3", Response: Response{Status: http.StatusTooManyRequests}}}
	sc.Hosts[1].Responses = []PathResponse{{PathPrefix: "/", Response: Response{
		Headers: map[string]string{"Content-Type": "text/html", "Link": "<${a}/x.pdf>"},
		Body:    `<meta name="citation_pdf_url" content="${a}/W3.pdf"> ${nope}`}}}
	s := start(t, sc, Options{})
	c := client(t, false)
	a := s.HostURLByName("a")
	if resp, _ := get(t, c, s.OpenAlexURL()+"/works/W40"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "86400" {
		t.Fatalf("openalex: %d %v", resp.StatusCode, resp.Header)
	}
	getJSON(t, c, s.OpenAlexURL()+"/works/W41", http.StatusOK, nil)
	if resp, _ := get(t, c, s.UnpaywallURL()+"/v2/10.5555/sim.3?email=me@example.org"); resp.StatusCode != 429 {
		t.Fatalf("unpaywall: %d", resp.StatusCode)
	}
	resp, body := get(t, c, s.HostURLByName("b")+"/any/path")
	if string(body) != `<meta name="citation_pdf_url" content="`+a+`/W3.pdf"> ${nope}` || resp.Header.Get("Link") != "<"+a+"/x.pdf>" {
		t.Fatalf("expanded: %q %v", body, resp.Header)
	}
	// At run time, on an API, expanded the same way.
	if err := s.SetResponse(RoleUnpaywall, "/v2/10.5555/sim.4", &Response{Body: `{"u": "${b}"}`}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, c, s.UnpaywallURL()+"/v2/10.5555/sim.4?email=me@example.org"); string(body) != `{"u": "`+s.HostURLByName("b")+`"}` {
		t.Fatalf("set on unpaywall: %q", body)
	}
	if got := hostStats(t, s, RoleUnpaywall).ByStatus; got["429"] != 1 || got["200"] != 1 {
		t.Errorf("unpaywall stats %v", got)
	}
}

// With etags a PDF carries an ETag, and a request that names it gets 304.
func TestETagsAnswerConditionalRequests(t *testing.T) {
	sc := oneHost(2, Mix{})
	sc.Hosts[0].ETags = true
	s := start(t, sc, Options{})
	c := client(t, false)
	u := s.HostURL(0) + "/pdf/W1"
	resp, body := get(t, c, u)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || len(body) != 4096 {
		t.Fatalf("first: %d etag %q, %d bytes", resp.StatusCode, etag, len(body))
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional: %d", resp.StatusCode)
	}
	req.Header.Set("If-None-Match", `"other"`)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("other etag: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, s.HostURL(0)+"/pdf/W2"); resp.Header.Get("ETag") == etag || resp.Header.Get("ETag") == "" {
		t.Errorf("W2's etag %q (W1's %q)", resp.Header.Get("ETag"), etag)
	}
	plain := start(t, oneHost(1, Mix{}), Options{})
	if resp, _ := get(t, c, plain.HostURL(0)+"/pdf/W1"); resp.Header.Get("ETag") != "" {
		t.Error("an ETag without etags")
	}
}

// A trickle sends one byte per interval of Options.Sleep, without Content-Length,
// round and round, until the client leaves.
func TestFaultTrickle(t *testing.T) {
	sc := oneHost(1, Mix{})
	sc.Hosts[0].Faults.Shares = []Share{{Fault: Fault{Kind: FaultTrickle, Delay: time.Minute}, Share: 1}}
	fc := clock.NewFake(epoch)
	var slept atomic.Int64
	s := start(t, sc, Options{Clock: fc.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		slept.Add(1)
		fc.Advance(d)
		return ctx.Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HostURL(0)+"/pdf/W1", nil)
	resp, err := client(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("length %d, headers %v", resp.ContentLength, resp.Header)
	}
	want, _ := s.PDF("W1")
	got := make([]byte, len(want)+10) // past the end: it starts over
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(want)], want) || !bytes.Equal(got[len(want):], want[:10]) {
		t.Fatal("the trickle is not the PDF, round and round")
	}
	if n := slept.Load(); n < int64(len(want)) {
		t.Errorf("slept %d times for %d bytes", n, len(got))
	}
	if d := fc.Now().Sub(epoch); d < time.Duration(len(want))*time.Minute {
		t.Errorf("the clock moved %s", d)
	}
	cancel()
	if f, err := ParseFault("trickle:50ms"); err != nil || f.Delay != 50*time.Millisecond {
		t.Errorf("ParseFault: %+v %v", f, err)
	}
}
