package resolve

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/docstokg/contentdl/internal/openalex"
)

// PMCIDOf returns the work's PMCID ("PMC<n>"): ids.pmcid when set, else the first one
// named by a location URL (landing page or PDF, best location first, then
// open_access.oa_url) in any of the forms PMC and Europe PMC use:
//
//	https://europepmc.org/articles/PMC1156926 (also /article/PMC/PMC1156926)
//	https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1156926/
//	https://pmc.ncbi.nlm.nih.gov/articles/PMC1156926/
//	https://www.ncbi.nlm.nih.gov/pmc/articles/1156926 (no prefix)
//
// It returns "" when none is found.
func PMCIDOf(w *openalex.Work) string {
	if id := openalex.NormalizePMCID(w.PMCID); id != "" {
		return id
	}
	for _, l := range w.AllLocations() {
		for _, u := range []string{l.LandingPageURL, l.PDFURL} {
			if id := PMCIDFromURL(u); id != "" {
				return id
			}
		}
	}
	return PMCIDFromURL(w.OAURL)
}

// pmcPath matches the PMCID segment of a PMC or Europe PMC article path.
var pmcPath = regexp.MustCompile(`(?i)/(?:pmc/)?articles?/(?:pmc/)?(pmc)?([0-9]{1,12})(?:/|$|\.)`)

// PMCIDFromURL returns "PMC<n>" for a PMC or Europe PMC article URL, "" otherwise.
// Only the hosts europepmc.org, ncbi.nlm.nih.gov and pmc.ncbi.nlm.nih.gov (and their
// subdomains) count, so that a publisher's /articles/123 is not mistaken for one.
// The bare-number form counts only under /pmc/articles/ or on pmc.ncbi.nlm.nih.gov.
func PMCIDFromURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	isEPMC := host == "europepmc.org" || strings.HasSuffix(host, ".europepmc.org")
	isNCBI := host == "ncbi.nlm.nih.gov" || strings.HasSuffix(host, ".ncbi.nlm.nih.gov")
	if !isEPMC && !isNCBI {
		return ""
	}
	m := pmcPath.FindStringSubmatch(u.Path)
	if m == nil {
		// Europe PMC's render endpoint: /backend/ptpmcrender.fcgi?accid=PMC<n>
		if isEPMC {
			return pmcidWithPrefix(u.Query().Get("accid"))
		}
		return ""
	}
	if m[1] == "" {
		// A bare number is a PMCID only in PMC's own article paths.
		lower := strings.ToLower(u.Path)
		inPMC := isNCBI && (strings.Contains(lower, "/pmc/articles/") || host == "pmc.ncbi.nlm.nih.gov")
		if !inPMC {
			return ""
		}
	}
	return "PMC" + m[2]
}

func pmcidWithPrefix(s string) string {
	if len(s) > 3 && strings.EqualFold(s[:3], "pmc") {
		return openalex.NormalizePMCID(s)
	}
	return ""
}

// urlInText finds http(s) URLs in free text (Semantic Scholar's disclaimers).
var urlInText = regexp.MustCompile(`https?://[^\s<>"']+`)

// URLsInText returns the http(s) URLs named in text, without trailing punctuation.
func URLsInText(text string) []string {
	var out []string
	for _, m := range urlInText.FindAllString(text, 16) {
		m = strings.TrimRight(m, ".,;:)]}!?")
		if m != "" {
			out = append(out, m)
		}
	}
	return out
}

// arxivURL matches arxiv.org/abs/<id> and arxiv.org/pdf/<id>[.pdf].
var arxivURL = regexp.MustCompile(`^/(?:abs|pdf)/([a-z][a-z\-]*(?:\.[A-Za-z\-]+)?/[0-9]{7}|[0-9]{4}\.[0-9]{4,5})(v[0-9]+)?(?:\.pdf)?/?$`)

// ArxivIDFromURL returns the arXiv id of an arxiv.org abs or pdf URL, "" otherwise.
func ArxivIDFromURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host != "arxiv.org" && !strings.HasSuffix(host, ".arxiv.org") {
		return ""
	}
	m := arxivURL.FindStringSubmatch(u.Path)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}
