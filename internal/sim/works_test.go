package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// upRecord is the part of an Unpaywall record the tests look at.
type upRecord struct {
	DOI            string `json:"doi"`
	IsOA           bool   `json:"is_oa"`
	BestOALocation *struct {
		URL               string  `json:"url"`
		URLForPDF         *string `json:"url_for_pdf"`
		URLForLandingPage *string `json:"url_for_landing_page"`
	} `json:"best_oa_location"`
	OALocations []struct {
		URL       string  `json:"url"`
		URLForPDF *string `json:"url_for_pdf"`
	} `json:"oa_locations"`
}

func TestUnpaywall(t *testing.T) {
	s := start(t, oneHost(4, Mix{DirectPDF: 1, Closed: 1}), Options{})
	c := client(t, false)
	base := s.UnpaywallURL() + "/v2/"
	for _, q := range []string{"10.5555/sim.1", "10.5555/sim.1?email=", "10.5555/sim.1?email=nobody", "10.5555/sim.1?email=a@b",
		"10.1/unknown"} {
		var e struct {
			Status int  `json:"HTTP_status_code"`
			Error  bool `json:"error"`
		}
		getJSON(t, c, base+q, http.StatusUnprocessableEntity, &e)
		if e.Status != 422 || !e.Error {
			t.Fatalf("%s: %+v", q, e)
		}
	}
	getJSON(t, c, base+"10.1/unknown?email=me@example.org", http.StatusNotFound, nil)
	getJSON(t, c, s.UnpaywallURL()+"/v2/?email=me@example.org", http.StatusNotFound, nil)

	for _, w := range s.Works() {
		for _, doi := range []string{w.DOI, strings.ToUpper(w.DOI), "https://doi.org/" + w.DOI} {
			var r upRecord
			getJSON(t, c, base+doi+"?email=me@example.org", http.StatusOK, &r)
			if r.DOI != w.DOI {
				t.Fatalf("%s: doi %q", doi, r.DOI)
			}
			switch w.Kind {
			case KindDirectPDF:
				if !r.IsOA || r.BestOALocation == nil || *r.BestOALocation.URLForPDF != w.PDFURL || len(r.OALocations) != 1 {
					t.Fatalf("%s: %+v", w.ID, r)
				}
			case KindClosed:
				if r.IsOA || r.BestOALocation != nil || len(r.OALocations) != 0 {
					t.Fatalf("%s: %+v", w.ID, r)
				}
			}
		}
	}
}

func TestMixApportioned(t *testing.T) {
	s := start(t, Scenario{Works: WorksSpec{Count: 10, Mix: Mix{DirectPDF: 0.5, UnpaywallOnly: 0.2, Closed: 0.3}},
		Hosts: []HostSpec{{}}}, Options{})
	got := map[Kind]int{}
	for _, w := range s.Works() {
		got[w.Kind]++
	}
	if want := map[Kind]int{KindDirectPDF: 5, KindUnpaywallOnly: 2, KindClosed: 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	if c := apportion(7, []float64{1, 1, 1}); c[0]+c[1]+c[2] != 7 || c[0] != 3 {
		t.Fatalf("apportion(7, thirds) = %v", c)
	}
}

func TestHostWeightsSpreadWorks(t *testing.T) {
	s := start(t, Scenario{Works: WorksSpec{Count: 30}, Hosts: []HostSpec{{Name: "a", Weight: 2}, {Name: "b"}}}, Options{})
	n := map[string]int{}
	for _, w := range s.Works() {
		n[w.Host]++
	}
	if n["a"] != 20 || n["b"] != 10 {
		t.Fatalf("spread %v, want a:20 b:10", n)
	}
}

func TestGenerationIsDeterministic(t *testing.T) {
	sc := oneHost(40, Mix{DirectPDF: 1, UnpaywallOnly: 1, LandingPage: 1, BadFirstLocation: 1, NotFoundThenUnpaywall: 1, Closed: 1})
	a := start(t, sc, Options{})
	b := start(t, sc, Options{})
	strip := func(ws []Work) []Work {
		for i := range ws {
			ws[i].PDFURL = regexp.MustCompile(`:\d+/`).ReplaceAllString(ws[i].PDFURL, ":PORT/")
		}
		return ws
	}
	if !reflect.DeepEqual(strip(a.Works()), strip(b.Works())) {
		t.Fatal("two starts of one scenario generated different works")
	}
	for _, w := range a.Works() {
		if w.Kind == KindClosed {
			continue
		}
		pa, _ := a.PDF(w.ID)
		pb, _ := b.PDF(w.ID)
		if !bytes.Equal(pa, pb) || len(pa) != 4096 {
			t.Fatalf("PDF of %s differs between runs or has size %d", w.ID, len(pa))
		}
	}
	sc.Seed++
	c := start(t, sc, Options{})
	if reflect.DeepEqual(strip(a.Works()), strip(c.Works())) {
		t.Fatal("another seed generated the same works")
	}
}

// follow is a minimal reference client: it tries OpenAlex's pdf_urls, then its
// landing pages' citation_pdf_url, then Unpaywall's PDFs, and returns the first
// body that is a PDF.
func follow(t *testing.T, c *http.Client, s *Sim, id string) ([]byte, bool) {
	t.Helper()
	var w oaWork
	getJSON(t, c, s.OpenAlexURL()+"/works/"+id, http.StatusOK, &w)
	var candidates []string
	var landings []string
	for _, l := range w.Locations {
		if l.PDFURL != nil {
			candidates = append(candidates, *l.PDFURL)
		}
		if l.LandingPageURL != nil {
			landings = append(landings, *l.LandingPageURL)
		}
	}
	tryPDF := func(u string) ([]byte, bool) {
		resp, body := get(t, c, u)
		return body, resp.StatusCode == 200 && bytes.HasPrefix(body, []byte("%PDF-"))
	}
	for _, u := range candidates {
		if b, ok := tryPDF(u); ok {
			return b, true
		}
	}
	meta := regexp.MustCompile(`<meta name="citation_pdf_url" content="([^"]+)">`)
	for _, u := range landings {
		resp, body := get(t, c, u)
		if m := meta.FindSubmatch(body); resp.StatusCode == 200 && m != nil {
			if b, ok := tryPDF(string(m[1])); ok {
				return b, true
			}
		}
	}
	var r upRecord
	getJSON(t, c, s.UnpaywallURL()+"/v2/"+strings.TrimPrefix(w.DOI, "https://doi.org/")+"?email=t@example.org", http.StatusOK, &r)
	for _, l := range r.OALocations {
		if l.URLForPDF != nil {
			if b, ok := tryPDF(*l.URLForPDF); ok {
				return b, true
			}
		}
	}
	return nil, false
}

// TestEveryKindBehavesAsExpected walks every work with the reference client and
// checks the outcome against Expected, the PDF bytes against PDF, and that each kind
// is reachable only the way it claims.
func TestEveryKindBehavesAsExpected(t *testing.T) {
	sc := oneHost(60, Mix{DirectPDF: 1, UnpaywallOnly: 1, LandingPage: 1, BadFirstLocation: 1, NotFoundThenUnpaywall: 1, Closed: 1})
	sc.Hosts = append(sc.Hosts, HostSpec{Name: "repo"})
	s := start(t, sc, Options{})
	c := client(t, false)
	expected := s.Expected()
	if len(expected) != 60 {
		t.Fatalf("Expected has %d entries", len(expected))
	}
	badKinds := map[string]int{}
	for _, w := range s.Works() {
		body, ok := follow(t, c, s, w.ID)
		got := OutcomeMiss
		if ok {
			got = OutcomePDF
		}
		if got != expected[w.ID] || got != w.Expected {
			t.Errorf("%s (%s): got %s, expected %s", w.ID, w.Kind, got, expected[w.ID])
			continue
		}
		if ok {
			want, _ := s.PDF(w.ID)
			if !bytes.Equal(body, want) || int64(len(body)) != w.PDFSize {
				t.Errorf("%s: served PDF differs from PDF()", w.ID)
			}
		}
		var rec oaWork
		getJSON(t, c, s.OpenAlexURL()+"/works/"+w.ID, http.StatusOK, &rec)
		pdfURLs := 0
		for _, l := range rec.Locations {
			if l.PDFURL != nil {
				pdfURLs++
			}
		}
		switch w.Kind {
		case KindUnpaywallOnly, KindLandingPage, KindClosed:
			if pdfURLs != 0 {
				t.Errorf("%s (%s): OpenAlex must not offer a pdf_url", w.ID, w.Kind)
			}
		case KindBadFirstLocation:
			if pdfURLs != 2 || *rec.BestOALocation.PDFURL == w.PDFURL {
				t.Errorf("%s: want a bad best location and a good second one: %+v", w.ID, rec.Locations)
			}
			resp, body := get(t, c, *rec.Locations[0].PDFURL)
			switch {
			case resp.StatusCode == 404:
				badKinds["404"]++
			case resp.StatusCode == 200 && resp.Header.Get("Content-Type") == "application/pdf" && bytes.HasPrefix(body, []byte("<!DOCTYPE html")):
				badKinds["html_as_pdf"]++
			default:
				t.Errorf("%s: first location answered %d %q", w.ID, resp.StatusCode, body)
			}
		case KindNotFoundThenUnpaywall:
			resp, _ := get(t, c, *rec.Locations[0].PDFURL)
			if pdfURLs != 1 || resp.StatusCode != 404 {
				t.Errorf("%s: OpenAlex's pdf_url should 404, got %d", w.ID, resp.StatusCode)
			}
		}
	}
	if badKinds["404"] == 0 || badKinds["html_as_pdf"] == 0 {
		t.Errorf("bad first locations should include both 404 and html_as_pdf: %v", badKinds)
	}
}

func TestLandingAndArticlePages(t *testing.T) {
	s := start(t, oneHost(12, Mix{LandingPage: 1, Closed: 1}), Options{})
	c := client(t, false)
	for _, w := range s.Works() {
		page := "/landing/"
		if w.Kind == KindClosed {
			page = "/article/"
		}
		resp, body := get(t, c, s.HostURL(0)+page+w.ID)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s%s: %d %s", page, w.ID, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		hasPDF := bytes.Contains(body, []byte(`<meta name="citation_pdf_url" content="`+w.PDFURL+`">`))
		if (w.Kind == KindLandingPage) != hasPDF || bytes.Contains(body, []byte(".pdf")) && w.Kind == KindClosed {
			t.Fatalf("%s (%s): citation_pdf_url present=%v\n%s", w.ID, w.Kind, hasPDF, body)
		}
	}
	resp, _ := get(t, c, s.HostURL(0)+"/pdf/nothing")
	if resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

func TestWorksAndExpectedAreCopies(t *testing.T) {
	s := start(t, oneHost(3, Mix{}), Options{})
	ws := s.Works()
	ws[0].ID, ws[0].TopicIDs[0] = "changed", "changed"
	if s.Works()[0].ID != "W1" || s.Works()[0].TopicIDs[0] != "T100" {
		t.Fatal("Works exposes internal state")
	}
	e := s.Expected()
	e["W1"] = "changed"
	if s.Expected()["W1"] != OutcomePDF {
		t.Fatal("Expected exposes internal state")
	}
	sc := s.Scenario()
	sc.Hosts[0].Name = "changed"
	if s.Scenario().Hosts[0].Name != "pub" {
		t.Fatal("Scenario exposes internal state")
	}
	if _, ok := s.PDF("W404"); ok {
		t.Fatal("PDF of an unknown work")
	}
	var decoded []Work
	if err := json.Unmarshal(mustJSON(ws), &decoded); err != nil || len(decoded) != 3 {
		t.Fatalf("Works should marshal to JSON: %v", err)
	}
}
