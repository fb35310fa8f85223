package openalex

import (
	"net/url"
	"regexp"
	"strings"
)

// Location is one place where a work can be read (OpenAlex location object).
type Location struct {
	IsOA           bool
	PDFURL         string
	LandingPageURL string
	Version        string // submittedVersion, acceptedVersion or publishedVersion
	License        string
	Source         string // the source's display name, or its short id (S123) when unnamed
}

// Work is the part of an OpenAlex work record that the downloader needs.
type Work struct {
	ID        string // short form, "W123"
	DOI       string // bare lower-case "10.x/y"; "" when the work has none
	Title     string
	Authors   []string // display names in authorship order; nil when unknown
	Year      int      // 0 when unknown
	Type      string
	PMID      string // digits only
	PMCID     string // "PMC<n>"
	IsOA      bool
	OAURL     string
	Best      *Location // best_oa_location, nil when absent
	Primary   *Location // primary_location, nil when absent
	Locations []Location
	// ContentPDFURL is content_urls.pdf: OpenAlex's own (paid) copy of the PDF, when
	// the record was asked for it (Client.ExtraSelect "content_urls").
	ContentPDFURL string
}

// rawLocation and rawWork mirror the JSON that OpenAlex returns. Nullable strings
// decode to "" because encoding/json leaves a string untouched on null.
type rawLocation struct {
	IsOA           bool   `json:"is_oa"`
	LandingPageURL string `json:"landing_page_url"`
	PDFURL         string `json:"pdf_url"`
	Version        string `json:"version"`
	License        string `json:"license"`
	Source         *struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	} `json:"source"`
}

type rawWork struct {
	ID              string `json:"id"`
	DOI             string `json:"doi"`
	DisplayName     string `json:"display_name"`
	Title           string `json:"title"`
	PublicationYear int    `json:"publication_year"`
	Type            string `json:"type"`
	IDs             struct {
		DOI   string `json:"doi"`
		PMID  string `json:"pmid"`
		PMCID string `json:"pmcid"`
	} `json:"ids"`
	OpenAccess struct {
		IsOA  bool   `json:"is_oa"`
		OAURL string `json:"oa_url"`
	} `json:"open_access"`
	PrimaryLocation *rawLocation  `json:"primary_location"`
	BestOALocation  *rawLocation  `json:"best_oa_location"`
	Locations       []rawLocation `json:"locations"`
	ContentURLs     *struct {
		PDF string `json:"pdf"`
	} `json:"content_urls"`
	Authorships []struct {
		Author struct {
			DisplayName string `json:"display_name"`
		} `json:"author"`
		RawAuthorName string `json:"raw_author_name"`
	} `json:"authorships"`
}

// maxAuthors bounds the authors kept per work (a physics paper may list thousands).
const maxAuthors = 100

func (r *rawLocation) location() Location {
	l := Location{
		IsOA:           r.IsOA,
		PDFURL:         strings.TrimSpace(r.PDFURL),
		LandingPageURL: strings.TrimSpace(r.LandingPageURL),
		Version:        r.Version,
		License:        r.License,
	}
	if r.Source != nil {
		l.Source = strings.TrimSpace(r.Source.DisplayName)
		if l.Source == "" {
			l.Source = shortID(r.Source.ID)
		}
	}
	return l
}

func (r *rawWork) work() Work {
	w := Work{
		ID:    shortID(r.ID),
		DOI:   NormalizeDOI(r.DOI),
		Title: strings.TrimSpace(r.DisplayName),
		Year:  r.PublicationYear,
		Type:  r.Type,
		PMID:  normalizePMID(r.IDs.PMID),
		PMCID: NormalizePMCID(r.IDs.PMCID),
		IsOA:  r.OpenAccess.IsOA,
		OAURL: strings.TrimSpace(r.OpenAccess.OAURL),
	}
	if w.DOI == "" {
		w.DOI = NormalizeDOI(r.IDs.DOI)
	}
	if r.ContentURLs != nil {
		w.ContentPDFURL = strings.TrimSpace(r.ContentURLs.PDF)
	}
	if w.Title == "" {
		w.Title = strings.TrimSpace(r.Title)
	}
	for _, a := range r.Authorships {
		if len(w.Authors) == maxAuthors {
			break
		}
		name := strings.TrimSpace(a.Author.DisplayName)
		if name == "" {
			name = strings.TrimSpace(a.RawAuthorName)
		}
		if name != "" {
			w.Authors = append(w.Authors, name)
		}
	}
	if r.BestOALocation != nil {
		l := r.BestOALocation.location()
		w.Best = &l
	}
	if r.PrimaryLocation != nil {
		l := r.PrimaryLocation.location()
		w.Primary = &l
	}
	if len(r.Locations) > 0 {
		w.Locations = make([]Location, len(r.Locations))
		for i := range r.Locations {
			w.Locations[i] = r.Locations[i].location()
		}
	}
	return w
}

// AllLocations returns Best, Primary and then Locations, skipping nil ones. The same
// place may appear more than once.
func (w Work) AllLocations() []Location {
	out := make([]Location, 0, len(w.Locations)+2)
	if w.Best != nil {
		out = append(out, *w.Best)
	}
	if w.Primary != nil {
		out = append(out, *w.Primary)
	}
	return append(out, w.Locations...)
}

// shortID turns "https://openalex.org/W123" (or any URL ending in the id) into "W123".
func shortID(id string) string {
	id = strings.TrimSpace(id)
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return id
}

var doiRE = regexp.MustCompile(`^10\.[0-9]+(\.[0-9]+)*/\S+$`)

// NormalizeDOI returns the bare lower-case form ("10.x/y") of a DOI given bare, as
// "doi:10.x/y", or as a doi.org / dx.doi.org URL (percent-encoding in the URL form is
// decoded). It returns "" when s is not a DOI.
func NormalizeDOI(s string) string {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	for _, p := range []string{"https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi.org/", "dx.doi.org/"} {
		if strings.HasPrefix(lower, p) {
			rest := s[len(p):]
			if dec, err := url.PathUnescape(rest); err == nil {
				rest = dec
			}
			s = rest
			break
		}
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "doi:") {
		s = strings.TrimSpace(s[4:])
	}
	s = strings.ToLower(s)
	if !doiRE.MatchString(s) {
		return ""
	}
	return s
}

// NormalizePMCID returns "PMC<n>" for "PMC<n>", "pmc<n>", "<n>" or a PMC article URL
// ending in either; "" when s holds no PMCID.
func NormalizePMCID(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) >= 3 && strings.EqualFold(s[:3], "pmc") {
		s = s[3:]
	}
	if !allDigits(s) {
		return ""
	}
	return "PMC" + s
}

// normalizePMID returns the digits of "12345" or "https://pubmed.ncbi.nlm.nih.gov/12345".
func normalizePMID(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if !allDigits(s) {
		return ""
	}
	return s
}

func allDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// arXiv identifiers: new style 2101.00001 (4 or 5 digit sequence) and old style
// archive[.SUBJ]/YYMMNNN, both with an optional version.
var arxivIDRE = regexp.MustCompile(`^(?:[0-9]{4}\.[0-9]{4,5}|[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?/[0-9]{7})(?:v[0-9]+)?$`)

// ArxivID returns the arXiv identifier of the work, taken from a 10.48550/arXiv.<id>
// DOI or from an arxiv.org/abs/<id> landing page URL of any location; "" if none.
func (w Work) ArxivID() string {
	if rest, ok := strings.CutPrefix(w.DOI, "10.48550/arxiv."); ok && arxivIDRE.MatchString(rest) {
		return rest
	}
	for _, l := range w.AllLocations() {
		if id := arxivFromAbsURL(l.LandingPageURL); id != "" {
			return id
		}
	}
	return ""
}

func arxivFromAbsURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host != "arxiv.org" && !strings.HasSuffix(host, ".arxiv.org") {
		return ""
	}
	id, ok := strings.CutPrefix(u.Path, "/abs/")
	if !ok {
		return ""
	}
	id = strings.TrimSuffix(id, "/")
	if !arxivIDRE.MatchString(id) {
		return ""
	}
	return id
}
