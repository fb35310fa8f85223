package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// Kind is how a work's full text can be reached, if at all.
type Kind string

// The kinds of works.
const (
	// KindDirectPDF: OpenAlex's location has a pdf_url on a publisher host.
	KindDirectPDF Kind = "direct_pdf"
	// KindUnpaywallOnly: OpenAlex has no pdf_url (its only location is an abstract
	// page without a PDF link); Unpaywall's url_for_pdf points at a repository copy.
	KindUnpaywallOnly Kind = "unpaywall_only"
	// KindLandingPage: only a landing_page_url, whose HTML carries citation_pdf_url.
	KindLandingPage Kind = "landing_page"
	// KindBadFirstLocation: locations[0] (also primary and best) has a pdf_url that
	// answers 404 or an HTML page labelled application/pdf; locations[1] is good.
	KindBadFirstLocation Kind = "bad_first_location"
	// KindNotFoundThenUnpaywall: OpenAlex's only pdf_url answers 404; Unpaywall knows
	// a good copy elsewhere.
	KindNotFoundThenUnpaywall Kind = "not_found_then_unpaywall"
	// KindClosed: no open copy anywhere.
	KindClosed Kind = "closed"
)

// Kinds lists every kind in Mix order.
func Kinds() []Kind {
	return []Kind{KindDirectPDF, KindUnpaywallOnly, KindLandingPage, KindBadFirstLocation, KindNotFoundThenUnpaywall, KindClosed}
}

// Expected outcomes of a work.
const (
	OutcomePDF  = "pdf"  // a client that follows every lead (and retries transient faults) gets the PDF
	OutcomeMiss = "miss" // there is no open copy
)

// Work is one generated work, as a test needs to know it.
type Work struct {
	ID       string   `json:"id"`  // W-id, e.g. "W12"
	DOI      string   `json:"doi"` // bare lowercase DOI, e.g. "10.5555/sim.12"
	Title    string   `json:"title"`
	Year     int      `json:"year"`
	Date     string   `json:"date"` // publication date, YYYY-MM-DD
	Kind     Kind     `json:"kind"`
	Host     string   `json:"host"` // name of the publisher host of its primary location
	TopicIDs []string `json:"topic_ids"`
	// Expected is OutcomePDF or OutcomeMiss.
	Expected string `json:"expected"`
	// PDFURL is the URL of the good copy ("" for closed works).
	PDFURL string `json:"pdf_url,omitempty"`
	// PDFSize is the size of the good copy (0 for closed works).
	PDFSize int64 `json:"pdf_size,omitempty"`
}

// routeKind is what a publisher path serves.
type routeKind int

const (
	routePDF     routeKind = iota + 1 // the work's PDF
	routeLanding                      // HTML with citation_pdf_url
	routeArticle                      // HTML abstract page without any PDF link
	routeMissing                      // 404
	routeBad                          // HTML error page labelled application/pdf
)

type route struct {
	kind routeKind
	w    *work
	// pdfURL is the citation_pdf_url of a landing page.
	pdfURL string
}

// work is a Work plus its pre-rendered API records.
type work struct {
	Work
	fields    map[string]json.RawMessage // OpenAlex top-level fields
	unpaywall []byte                     // the /v2 record
	isOA      bool
	oaStatus  string
}

// openAlexFields is the canonical field order of a work record; select= accepts
// exactly these.
var openAlexFields = []string{"id", "doi", "title", "display_name", "publication_year", "publication_date",
	"ids", "language", "type", "open_access", "primary_location", "best_oa_location", "locations",
	"locations_count", "topics", "authorships"}

// Author names of simulated works: one to three per work, chosen from the work's
// number (not the scenario's random stream, so adding them changed no other field).
var (
	authorGiven  = []string{"Ada", "Grace", "Alan", "Emmy", "Kurt", "Sofia", "Niels", "Chien-Shiung", "Zoë", "José"}
	authorFamily = []string{"Lovelace", "Hopper", "Turing", "Noether", "Gödel", "Kovalevskaya", "Bohr", "Wu", "Müller", "Núñez"}
)

func authorships(n int) []map[string]any {
	k := 1 + n%3
	out := make([]map[string]any, k)
	for i := range k {
		name := authorGiven[(n+i)%len(authorGiven)] + " " + authorFamily[(n/3+2*i)%len(authorFamily)]
		pos := "middle"
		switch i {
		case 0:
			pos = "first"
		case k - 1:
			pos = "last"
		}
		out[i] = map[string]any{"author_position": pos, "raw_author_name": name,
			"author": map[string]any{"id": fmt.Sprintf("https://openalex.org/A%d", 5000000+10*n+i), "display_name": name}}
	}
	return out
}

var (
	titleAdjectives = []string{"Robust", "Scalable", "Interpretable", "Efficient", "Bayesian", "Adaptive",
		"Federated", "Causal", "Longitudinal", "Comparative", "Open", "Reproducible", "Sparse", "Multimodal"}
	titleObjects = []string{"coastal erosion", "protein folding", "urban mobility", "crop yields",
		"clinical triage", "river ecology", "language acquisition", "power grids", "seismic hazards",
		"antibiotic resistance", "labour markets", "glacier dynamics", "peer review", "air quality"}
	titleForms = []string{"%s %s for %s", "%s %s in %s: a case study", "Towards %s %s of %s",
		"%s %s and %s revisited"}
)

// loc is an OpenAlex location.
type loc struct {
	IsOA           bool    `json:"is_oa"`
	LandingPageURL *string `json:"landing_page_url"`
	PDFURL         *string `json:"pdf_url"`
	Source         source  `json:"source"`
	License        *string `json:"license"`
	Version        *string `json:"version"`
}

type source struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
}

// upLoc is an Unpaywall oa_location.
type upLoc struct {
	URL               string  `json:"url"`
	URLForPDF         *string `json:"url_for_pdf"`
	URLForLandingPage *string `json:"url_for_landing_page"`
	HostType          string  `json:"host_type"`
	Version           string  `json:"version"`
	License           *string `json:"license"`
	Evidence          string  `json:"evidence"`
	IsBest            bool    `json:"is_best"`
}

func ptr(s string) *string { return &s }

// catalogue is the generated world: works, their records and the publisher routes.
type catalogue struct {
	// fields are the record fields in canonical order: openAlexFields, then those
	// only listed works have, sorted.
	fields []string
	works  []*work
	byID   map[string]*work
	byDOI  map[string]*work
	routes []map[string]route // per publisher host
}

// apportion splits n into len(weights) counts proportional to the weights, by
// largest remainder (ties go to the earlier entry).
func apportion(n int, weights []float64) []int {
	counts := make([]int, len(weights))
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	if sum == 0 || n == 0 {
		return counts
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(n) * w / sum
		counts[i] = int(math.Floor(exact))
		given += counts[i]
		rems[i] = rem{i, exact - math.Floor(exact)}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < n; k++ {
		counts[rems[k%len(rems)].i]++
		given++
	}
	return counts
}

// generate builds the catalogue for sc; hostURLs are the publisher base URLs in
// scenario order.
func generate(sc Scenario, hostURLs []string) *catalogue {
	rng := rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x5DEECE66D))
	c := &catalogue{fields: openAlexFields, byID: map[string]*work{}, byDOI: map[string]*work{}, routes: make([]map[string]route, len(sc.Hosts))}
	for i := range c.routes {
		c.routes[i] = map[string]route{}
	}

	weights := sc.Works.Mix.weights()
	if sc.Works.Mix == (Mix{}) {
		weights[0] = 1
	}
	var kinds []Kind
	for i, n := range apportion(sc.Works.Count, weights) {
		for range n {
			kinds = append(kinds, Kinds()[i])
		}
	}
	rng.Shuffle(len(kinds), func(a, b int) { kinds[a], kinds[b] = kinds[b], kinds[a] })

	// Smooth weighted round robin spreads the works over the hosts evenly.
	hostW := make([]float64, len(sc.Hosts))
	current := make([]float64, len(sc.Hosts))
	totalW := 0.0
	for i, h := range sc.Hosts {
		hostW[i] = h.Weight
		totalW += h.Weight
	}
	nextHost := func() int {
		best := 0
		for i := range current {
			current[i] += hostW[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= totalW
		return best
	}

	topicIDs := make([]string, len(sc.TopicIDs))
	for i, t := range sc.TopicIDs {
		topicIDs[i] = normTopicID(t)
	}

	list := sc.Works.List
	if len(list) > 0 {
		kinds = make([]Kind, len(list))
		for i, ws := range list {
			kinds[i] = ws.Kind
		}
	}
	hostIndex := map[string]int{}
	for i, h := range sc.Hosts {
		hostIndex[h.Name] = i
	}
	for i, kind := range kinds {
		n := i + 1
		w := &work{Work: Work{
			ID:   fmt.Sprintf("W%d", n),
			DOI:  fmt.Sprintf("10.5555/sim.%d", n),
			Kind: kind,
		}}
		// Every work draws the same random numbers in the same order, so a listed
		// work with a field of its own leaves the others' fields unchanged.
		w.Year = sc.Years.From + rng.IntN(sc.Years.To-sc.Years.From+1)
		w.Date = fmt.Sprintf("%04d-%02d-%02d", w.Year, 1+rng.IntN(12), 1+rng.IntN(28))
		form := titleForms[rng.IntN(len(titleForms))]
		w.Title = fmt.Sprintf(form, titleAdjectives[rng.IntN(len(titleAdjectives))], sc.Topic,
			titleObjects[rng.IntN(len(titleObjects))])
		w.TopicIDs = []string{}
		for k, t := range topicIDs {
			if k == 0 || rng.IntN(2) == 0 {
				w.TopicIDs = append(w.TopicIDs, t)
			}
		}
		h := nextHost()
		badIs404 := rng.IntN(2) == 0
		var ws *WorkSpec
		if len(list) > 0 {
			ws = &list[i]
			w.ID, w.DOI = ws.ID, ws.DOI
			if ws.Title != "" {
				w.Title = ws.Title
			}
			if ws.Year != 0 && ws.Year != w.Year {
				w.Year = ws.Year
				w.Date = fmt.Sprintf("%04d", w.Year) + w.Date[4:]
			}
			if ws.Host != "" {
				h = hostIndex[ws.Host]
			}
		}
		alt := (h + 1) % len(sc.Hosts)
		w.Host = sc.Hosts[h].Name
		if ws != nil && ws.Kind == KindListed {
			c.placeListed(sc, w, ws, hostIndex, hostURLs)
		} else {
			c.place(sc, w, h, alt, hostURLs, badIs404)
		}
		if ws != nil {
			c.override(w, ws, sc.Hosts, hostURLs)
		}
		c.works = append(c.works, w)
		c.byID[w.ID] = w
		c.byDOI[w.DOI] = w
	}
	return c
}

// KindListed is the Kind of a listed work placed at its own locations (works.list
// only; not part of a mix).
const KindListed Kind = "listed"

// placeListed places a work of works.list at its own locations.
func (c *catalogue) placeListed(sc Scenario, w *work, ws *WorkSpec, hostIndex map[string]int, hostURLs []string) {
	w.Kind = KindListed
	at := func(l LocationSpec) (pdf, landing *string, host int) {
		host = hostIndex[l.Host] // "" → 0, the first host
		if l.PDF != "" {
			u := hostURLs[host] + l.PDF
			pdf = &u
			c.routes[host][l.PDF] = route{kind: routePDF, w: w}
		}
		if l.Landing != "" {
			lh := host
			if l.LandingHost != "" {
				lh = hostIndex[l.LandingHost]
			}
			u := hostURLs[lh] + l.Landing
			landing = &u
			r := route{kind: routeArticle, w: w}
			if pdf != nil {
				r = route{kind: routeLanding, w: w, pdfURL: *pdf}
			}
			c.routes[lh][l.Landing] = r
		}
		return pdf, landing, host
	}
	cc, published := ptr("cc-by"), ptr("publishedVersion")
	var p placement
	for _, l := range ws.Locations {
		pdf, landing, host := at(l)
		p.locs = append(p.locs, loc{IsOA: true, LandingPageURL: landing, PDFURL: pdf, Source: sourceOf(sc, host), License: cc, Version: published})
		if pdf != nil && w.PDFURL == "" {
			w.PDFURL = *pdf
		}
	}
	for i, l := range ws.Unpaywall {
		pdf, landing, _ := at(l)
		u := upLoc{URLForPDF: pdf, URLForLandingPage: landing, HostType: "publisher", Version: *published, License: cc,
			Evidence: "open (via page says license)", IsBest: i == 0}
		if pdf != nil {
			u.URL = *pdf
			if w.PDFURL == "" {
				w.PDFURL = *pdf
			}
		} else {
			u.URL = *landing
		}
		p.up.all = append(p.up.all, u)
	}
	if len(p.locs) > 0 {
		p.best = &p.locs[0]
		p.oaURL = p.locs[0].PDFURL
		if p.oaURL == nil {
			p.oaURL = p.locs[0].LandingPageURL
		}
	}
	if len(p.up.all) > 0 {
		p.up.best = &p.up.all[0]
	}
	w.isOA = len(p.locs) > 0 || len(p.up.all) > 0 || ws.UnpaywallRaw != ""
	w.Expected, w.oaStatus = OutcomeMiss, "closed"
	if w.isOA {
		w.oaStatus = "gold"
	}
	if w.PDFURL != "" {
		w.Expected, w.PDFSize = OutcomePDF, int64(sc.PDFSize)
	}
	h := 0
	switch {
	case len(ws.Locations) > 0:
		h = hostIndex[ws.Locations[0].Host]
	case len(ws.Unpaywall) > 0:
		h = hostIndex[ws.Unpaywall[0].Host]
	}
	w.Host = sc.Hosts[h].Name
	c.render(sc, w, h, p)
	if len(ws.Unpaywall) == 0 {
		w.unpaywall = nil // Unpaywall does not know the work
	}
}

// override applies a listed work's raw records.
func (c *catalogue) override(w *work, ws *WorkSpec, hosts []HostSpec, hostURLs []string) {
	pairs := make([]string, 0, 2*len(hosts))
	for i, h := range hosts {
		pairs = append(pairs, "${"+h.Name+"}", hostURLs[i])
	}
	expand := strings.NewReplacer(pairs...)
	if ws.UnpaywallRaw != "" {
		w.unpaywall = []byte(expand.Replace(ws.UnpaywallRaw))
	}
	for f, v := range ws.OpenAlex {
		w.fields[f] = json.RawMessage(expand.Replace(v))
		if !slices.Contains(c.fields, f) {
			c.fields = append(slices.Clone(c.fields), f)
			slices.Sort(c.fields[len(openAlexFields):])
		}
	}
}

// place decides the work's locations, registers its publisher routes and renders
// its OpenAlex and Unpaywall records.
func (c *catalogue) place(sc Scenario, w *work, h, alt int, hostURLs []string, badIs404 bool) {
	at := func(host int, path string, r route) string {
		r.w = w
		c.routes[host][path] = r
		return hostURLs[host] + path
	}
	src := func(host int) source { return sourceOf(sc, host) }
	cc := ptr("cc-by")
	published, accepted := ptr("publishedVersion"), ptr("acceptedVersion")

	var p placement
	locs, best, up := &p.locs, &p.best, &p.up
	w.Expected = OutcomePDF
	w.PDFSize = int64(sc.PDFSize)
	w.isOA = true

	switch w.Kind {
	case KindDirectPDF:
		pdf := at(h, "/pdf/"+w.ID, route{kind: routePDF})
		landing := at(h, "/landing/"+w.ID, route{kind: routeLanding, pdfURL: pdf})
		*locs = []loc{{IsOA: true, LandingPageURL: &landing, PDFURL: &pdf, Source: src(h), License: cc, Version: published}}
		*best = &(*locs)[0]
		w.PDFURL, w.oaStatus, p.oaURL = pdf, "gold", &pdf
		u := upLoc{URL: pdf, URLForPDF: &pdf, URLForLandingPage: &landing, HostType: "publisher", Version: *published, License: cc, Evidence: "open (via page says license)", IsBest: true}
		up.best, up.all = &u, []upLoc{u}
	case KindUnpaywallOnly:
		article := at(h, "/article/"+w.ID, route{kind: routeArticle})
		pdf := at(alt, "/pdf/"+w.ID, route{kind: routePDF})
		*locs = []loc{{IsOA: false, LandingPageURL: &article, Source: src(h), Version: published}}
		w.PDFURL, w.oaStatus, p.oaURL = pdf, "green", &article
		u := upLoc{URL: pdf, URLForPDF: &pdf, HostType: "repository", Version: *accepted, License: cc, Evidence: "oa repository (via OAI-PMH doi match)", IsBest: true}
		up.best, up.all = &u, []upLoc{u}
	case KindLandingPage:
		pdf := at(h, "/pdf/"+w.ID, route{kind: routePDF})
		landing := at(h, "/landing/"+w.ID, route{kind: routeLanding, pdfURL: pdf})
		*locs = []loc{{IsOA: true, LandingPageURL: &landing, Source: src(h), Version: published}}
		*best = &(*locs)[0]
		w.PDFURL, w.oaStatus, p.oaURL = pdf, "bronze", &landing
		u := upLoc{URL: landing, URLForLandingPage: &landing, HostType: "publisher", Version: *published, Evidence: "open (via free article)", IsBest: true}
		up.best, up.all = &u, []upLoc{u}
	case KindBadFirstLocation:
		var bad string
		if badIs404 {
			bad = at(h, "/missing/"+w.ID, route{kind: routeMissing})
		} else {
			bad = at(h, "/bad/"+w.ID, route{kind: routeBad})
		}
		article := at(h, "/article/"+w.ID, route{kind: routeArticle})
		good := at(alt, "/pdf/"+w.ID, route{kind: routePDF})
		*locs = []loc{
			{IsOA: true, LandingPageURL: &article, PDFURL: &bad, Source: src(h), License: cc, Version: published},
			{IsOA: true, PDFURL: &good, Source: src(alt), License: cc, Version: accepted},
		}
		*best = &(*locs)[0]
		w.PDFURL, w.oaStatus, p.oaURL = good, "hybrid", &bad
		b := upLoc{URL: bad, URLForPDF: &bad, URLForLandingPage: &article, HostType: "publisher", Version: *published, License: cc, Evidence: "open (via page says license)", IsBest: true}
		g := upLoc{URL: good, URLForPDF: &good, HostType: "repository", Version: *accepted, License: cc, Evidence: "oa repository (via OAI-PMH doi match)"}
		up.best, up.all = &b, []upLoc{b, g}
	case KindNotFoundThenUnpaywall:
		missing := at(h, "/missing/"+w.ID, route{kind: routeMissing})
		article := at(h, "/article/"+w.ID, route{kind: routeArticle})
		good := at(alt, "/pdf/"+w.ID, route{kind: routePDF})
		*locs = []loc{{IsOA: true, LandingPageURL: &article, PDFURL: &missing, Source: src(h), License: cc, Version: published}}
		*best = &(*locs)[0]
		w.PDFURL, w.oaStatus, p.oaURL = good, "gold", &missing
		u := upLoc{URL: good, URLForPDF: &good, HostType: "repository", Version: *accepted, License: cc, Evidence: "oa repository (via OAI-PMH doi match)", IsBest: true}
		up.best, up.all = &u, []upLoc{u}
	case KindClosed:
		article := at(h, "/article/"+w.ID, route{kind: routeArticle})
		*locs = []loc{{IsOA: false, LandingPageURL: &article, Source: src(h), Version: published}}
		w.Expected, w.PDFSize, w.isOA, w.oaStatus = OutcomeMiss, 0, false, "closed"
		up.all = []upLoc{}
	}

	c.render(sc, w, h, p)
}

// placement is where a work can be found: its OpenAlex locations (best among them)
// and its Unpaywall locations.
type placement struct {
	locs  []loc
	best  *loc
	oaURL *string
	up    struct {
		best *upLoc
		all  []upLoc
	}
}

func sourceOf(sc Scenario, host int) source {
	return source{ID: fmt.Sprintf("https://openalex.org/S%d", 100+host), DisplayName: "Journal of " + sc.Hosts[host].Name, Type: "journal"}
}

// render writes the work's OpenAlex and Unpaywall records; h is the host of its
// primary location.
func (c *catalogue) render(sc Scenario, w *work, h int, p placement) {
	locs, best, up, oaURL := p.locs, p.best, p.up, p.oaURL
	doiURL := "https://doi.org/" + w.DOI
	oaID := "https://openalex.org/" + w.ID
	n := workNumber(w.ID)
	ids := map[string]string{"openalex": oaID, "doi": doiURL}
	if n%3 == 0 {
		ids["pmid"] = fmt.Sprintf("https://pubmed.ncbi.nlm.nih.gov/%d", 30000000+n)
		if n%2 == 0 {
			ids["pmcid"] = fmt.Sprintf("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC%d", 7000000+n)
		} else {
			ids["pmcid"] = fmt.Sprintf("https://www.ncbi.nlm.nih.gov/pmc/articles/%d", 7000000+n)
		}
	}
	type topic struct {
		ID          string  `json:"id"`
		DisplayName string  `json:"display_name"`
		Score       float64 `json:"score"`
	}
	topics := make([]topic, len(w.TopicIDs))
	for i, t := range w.TopicIDs {
		topics[i] = topic{ID: "https://openalex.org/" + t, DisplayName: "Simulated topic " + t, Score: 0.99 - 0.1*float64(i)}
	}
	var primary any
	if len(locs) > 0 {
		primary = locs[0]
	}
	var bestAny any
	if best != nil {
		bestAny = *best
	}
	w.fields = map[string]json.RawMessage{
		"id":               mustJSON(oaID),
		"doi":              mustJSON(doiURL),
		"title":            mustJSON(w.Title),
		"display_name":     mustJSON(w.Title),
		"publication_year": mustJSON(w.Year),
		"publication_date": mustJSON(w.Date),
		"ids":              mustJSON(ids),
		"language":         mustJSON("en"),
		"type":             mustJSON("article"),
		"open_access": mustJSON(map[string]any{"is_oa": w.isOA, "oa_status": w.oaStatus, "oa_url": oaURL,
			"any_repository_has_fulltext": w.Kind == KindUnpaywallOnly || w.Kind == KindBadFirstLocation || w.Kind == KindNotFoundThenUnpaywall}),
		"primary_location": mustJSON(primary),
		"best_oa_location": mustJSON(bestAny),
		"locations":        mustJSON(locs),
		"locations_count":  mustJSON(len(locs)),
		"topics":           mustJSON(topics),
		"authorships":      mustJSON(authorships(workNumber(w.ID))),
	}

	var first *upLoc
	if len(up.all) > 0 {
		first = &up.all[0]
	}
	w.unpaywall = mustJSON(map[string]any{
		"doi":               w.DOI,
		"doi_url":           doiURL,
		"title":             w.Title,
		"year":              w.Year,
		"published_date":    w.Date,
		"genre":             "journal-article",
		"journal_name":      "Journal of " + sc.Hosts[h].Name,
		"is_oa":             up.best != nil,
		"oa_status":         w.oaStatus,
		"best_oa_location":  up.best,
		"first_oa_location": first,
		"oa_locations":      up.all,
		"updated":           "2026-01-01T00:00:00.000000",
	})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal %T: %v", v, err)) // only plain data is marshalled
	}
	return b
}

// workNumber returns the number of a W-id ("W12" → 12), or 0.
func workNumber(id string) int {
	n := 0
	for _, c := range strings.TrimPrefix(id, "W") {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// normTopicID turns "T123", "t123" or "https://openalex.org/T123" into "T123", or "".
func normTopicID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "https://openalex.org/")
	s = strings.ToUpper(s)
	if len(s) < 2 || s[0] != 'T' {
		return ""
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return s
}
