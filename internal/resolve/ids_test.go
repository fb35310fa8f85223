package resolve

import (
	"context"
	"testing"

	"github.com/docstokg/contentdl/internal/openalex"
)

func TestPMCIDFromURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://europepmc.org/articles/PMC1156926":                               "PMC1156926",
		"https://europepmc.org/article/PMC/PMC1156926":                            "PMC1156926",
		"http://europepmc.org/abstract/MED/15960821":                              "",
		"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1156926/":                   "PMC1156926",
		"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1156926/pdf/main.pdf":       "PMC1156926",
		"https://pmc.ncbi.nlm.nih.gov/articles/PMC1156926/":                       "PMC1156926",
		"https://www.ncbi.nlm.nih.gov/pmc/articles/1156926":                       "PMC1156926",
		"https://pmc.ncbi.nlm.nih.gov/articles/1156926/":                          "PMC1156926",
		"https://europepmc.org/backend/ptpmcrender.fcgi?accid=PMC42&blobtype=pdf": "PMC42",
		"https://www.ncbi.nlm.nih.gov/pubmed/15960821":                            "",
		"https://journal.example.com/articles/1156926":                            "", // not a PMC host
		"https://journal.example.com/pmc/articles/PMC1156926":                     "",
		"https://evil.example/?u=europepmc.org/articles/PMC1":                     "",
		"":                          "",
		"not a url":                 "",
		"https://ncbi.nlm.nih.gov/": "",
	} {
		if got := PMCIDFromURL(raw); got != want {
			t.Errorf("PMCIDFromURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// Works whose PMCID sits only in a location URL get Europe PMC candidates.
func TestEuropePMCFromLocations(t *testing.T) {
	r := newResolver(t, "europe_pmc", Options{EuropePMCBase: "https://epmc.test"})
	for _, tc := range []struct {
		name string
		w    openalex.Work
		want string
	}{
		{"ids.pmcid", openalex.Work{PMCID: "PMC7"}, "PMC7"},
		{"europepmc landing", openalex.Work{Locations: []openalex.Location{{LandingPageURL: "https://europepmc.org/articles/PMC1156926"}}}, "PMC1156926"},
		{"ncbi pdf", openalex.Work{Primary: &openalex.Location{PDFURL: "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC2/pdf/x.pdf"}}, "PMC2"},
		{"bare number", openalex.Work{Locations: []openalex.Location{{LandingPageURL: "https://www.ncbi.nlm.nih.gov/pmc/articles/1156926"}}}, "PMC1156926"},
		{"oa_url", openalex.Work{OAURL: "https://pmc.ncbi.nlm.nih.gov/articles/PMC99/"}, "PMC99"},
		{"none", openalex.Work{Locations: []openalex.Location{{LandingPageURL: "https://doi.org/10.1/x"}}}, ""},
	} {
		got, err := r.Resolve(context.Background(), &tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if len(got) != 0 {
				t.Errorf("%s: %v, want none", tc.name, got)
			}
			continue
		}
		checkCandidates(t, got, "europe_pmc", []string{
			"https://epmc.test/backend/ptpmcrender.fcgi?accid=" + tc.want + "&blobtype=pdf",
			"https://epmc.test/rest/" + tc.want + "/fullTextXML"}, []Kind{KindPDF, KindXML})
		if !got[0].FullText || !got[1].FullText {
			t.Errorf("%s: Europe PMC endpoints not labelled full text", tc.name)
		}
	}
}

func TestCanonicalKey(t *testing.T) {
	same := [][]string{
		{"https://Example.org/a.pdf", "http://example.org/a.pdf", "https://example.org:443/a.pdf#p=2", "http://example.org:80/a.pdf", " https://example.org/a.pdf "},
		{"https://[::1]:443/x", "http://[::1]/x"},
	}
	for _, group := range same {
		k0, ok := CanonicalKey(group[0])
		if !ok {
			t.Fatalf("%q not canonical", group[0])
		}
		for _, u := range group[1:] {
			if k, _ := CanonicalKey(u); k != k0 {
				t.Errorf("CanonicalKey(%q) = %q, want %q", u, k, k0)
			}
		}
	}
	k1, _ := CanonicalKey("https://example.org:8443/a.pdf")
	k2, _ := CanonicalKey("https://example.org/a.pdf")
	k3, _ := CanonicalKey("https://example.org/a.pdf?x=1")
	if k1 == k2 || k2 == k3 {
		t.Errorf("distinct URLs share a key: %q %q %q", k1, k2, k3)
	}
}

// An OpenAlex record that lists the same PDF over http and https yields it once, as
// https, wherever the https form appears.
func TestOpenAlexHTTPHTTPSPair(t *testing.T) {
	w := &openalex.Work{
		Best:      &openalex.Location{PDFURL: "http://repo.example.org/paper.pdf"},
		Locations: []openalex.Location{{PDFURL: "https://repo.example.org/paper.pdf"}, {PDFURL: "http://repo.example.org:80/paper.pdf#page=1"}},
	}
	got, err := newResolver(t, "openalex", Options{}).Resolve(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, got, "openalex", []string{"https://repo.example.org/paper.pdf"}, []Kind{KindPDF})
}

func TestArxivIDFromURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://arxiv.org/abs/1706.03762":            "1706.03762",
		"https://arxiv.org/abs/1706.03762v5":          "1706.03762v5",
		"http://arxiv.org/pdf/2101.00001v2.pdf":       "2101.00001v2",
		"https://export.arxiv.org/abs/hep-th/9901001": "hep-th/9901001",
		"https://arxiv.org/list/cs.AI/recent":         "",
		"https://notarxiv.org/abs/1706.03762":         "",
	} {
		if got := ArxivIDFromURL(raw); got != want {
			t.Errorf("ArxivIDFromURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// externalIds.PubMedCentral is a string in real answers; a number works too.
func TestSemanticScholarPMCIDAsNumber(t *testing.T) {
	for _, v := range []any{"5815332", float64(5815332)} {
		if got := openalex.NormalizePMCID(jsonID(v)); got != "PMC5815332" {
			t.Errorf("jsonID(%v) → %q", v, got)
		}
	}
	for _, v := range []any{nil, 1.5, -3.0, true, map[string]any{}} {
		if got := jsonID(v); got != "" {
			t.Errorf("jsonID(%v) = %q, want empty", v, got)
		}
	}
}
