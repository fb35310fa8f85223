package download

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readPage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pages", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestClassifyPageFixtures runs the classifier over realistic pages of each kind:
// only the real article is full text.
func TestClassifyPageFixtures(t *testing.T) {
	for _, tc := range []struct {
		file     string
		url      string
		labelled bool
		want     PageVerdict
	}{
		{"repository_record.html", "https://repository.example.edu/handle/1234/5678", false, PageLanding},
		{"abstract.html", "https://journal.example.com/article/10.1000/jws.2022.7", false, PageLanding},
		{"paywall.html", "https://link.example.com/article/10.1000/ser.2020.3", false, PagePaywall},
		// A paywall page whose citation_fulltext_html_url names itself is still a paywall.
		{"paywall.html", "https://link.example.com/article/10.1000/ser.2020.3", true, PagePaywall},
		{"challenge_cloudflare.html", "https://www.publisher.example/doi/pdf/10.1000/x", false, PageChallenge},
		{"challenge_cloudflare.html", "https://www.publisher.example/doi/pdf/10.1000/x", true, PageChallenge},
		{"challenge_pmc_pow.html", "https://pmc.ncbi.nlm.nih.gov/articles/PMC1156926/", true, PageChallenge},
		{"challenge_captcha.html", "https://publisher.example/article/1", false, PageChallenge},
		{"fulltext_article.html", "https://journal.example.org/articles/10.1000/orj.2023.118", false, PageFullText},
		// The same article under another URL: its body alone makes it full text.
		{"fulltext_article.html", "https://mirror.example.net/copy", false, PageFullText},
		// A labelled source (Crossref text-mining HTML) vouches for a short page.
		{"abstract.html", "https://journal.example.com/article/10.1000/jws.2022.7", true, PageFullText},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := ClassifyPage(strings.NewReader(readPage(t, tc.file)), tc.url, tc.labelled)
			if got != tc.want {
				t.Fatalf("ClassifyPage(%s, labelled=%t) = %s, want %s", tc.file, tc.labelled, got, tc.want)
			}
		})
	}
}

// TestClassifyPageRules checks each rule and threshold on small pages.
func TestClassifyPageRules(t *testing.T) {
	para := func(words int) string {
		return "<p>" + strings.Repeat("word ", words) + "</p>"
	}
	page := func(body string) string {
		return "<!DOCTYPE html><html><head><title>T</title></head><body>" + body + "</body></html>"
	}
	sections := "<h2>1. Introduction</h2><h2>2 Methods</h2>"
	for _, tc := range []struct {
		name string
		html string
		url  string
		want PageVerdict
	}{
		{"long body with sections", page(sections + para(MinArticleWords)), "", PageFullText},
		{"one word short", page(sections + para(MinArticleWords-1)), "", PageLanding},
		{"long body, one section", page("<h2>Introduction</h2>" + para(MinArticleWords*2)), "", PageLanding},
		{"words in nav do not count", page(sections + "<nav>" + para(MinArticleWords) + "</nav>"), "", PageLanding},
		{"words in script do not count", page(sections + "<script>" + strings.Repeat("var a; ", MinArticleWords) + "</script>"), "", PageLanding},
		{"fulltext url equals page", `<html><head><meta name="citation_fulltext_html_url" content="/a/1"></head><body><p>short</p></body></html>`,
			"https://j.example/a/1", PageFullText},
		{"fulltext url equals page over http", `<html><head><meta name="citation_fulltext_html_url" content="http://j.example:80/a/1#x"></head><body></body></html>`,
			"https://j.example/a/1", PageFullText},
		{"fulltext url elsewhere", `<html><head><meta name="citation_fulltext_html_url" content="/a/1/full"></head><body></body></html>`,
			"https://j.example/a/1", PageLanding},
		{"cloudflare title", `<html><head><title>Just a moment...</title></head><body></body></html>`, "", PageChallenge},
		{"enable js and cookies", page("<p>Enable JavaScript and cookies to continue</p>"), "", PageChallenge},
		{"turnstile", page(`<div class="cf-turnstile" data-sitekey="x"></div>`), "", PageChallenge},
		{"hcaptcha", page(`<script src="https://js.hcaptcha.com/1/api.js"></script>`), "", PageChallenge},
		{"challenge beats a long body", page(sections + para(MinArticleWords) + `<div class="g-recaptcha"></div>`), "", PageChallenge},
		{"purchase", page("<p>Purchase this article for $35</p>"), "", PagePaywall},
		{"sign in to access", page("<div>Please  sign in\nto access this content.</div>"), "", PagePaywall},
		{"institution", page("<p>Access through your institution</p>"), "", PagePaywall},
		{"bare sign in link is not a paywall", page(`<header><a href="/login">Sign in</a></header><p>Abstract only.</p>`), "", PageLanding},
		{"long article with a subscribe box stays full text", page(sections + para(MinArticleWords) + "<aside>Subscribe to read more journals</aside>"), "", PageFullText},
		{"empty", "", "", PageLanding},
		{"garbage", "<<<>>>\x00\xff", "", PageLanding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassifyPage(strings.NewReader(tc.html), tc.url, false); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestClassifyPageReadsOnlyTheHead: markers beyond PageScanLen are not seen.
func TestClassifyPageReadsOnlyTheHead(t *testing.T) {
	body := "<html><body>" + strings.Repeat("<!-- padding -->", PageScanLen/16) + "<p>Purchase this article</p></body></html>"
	r := &countingReader{r: strings.NewReader(body)}
	if got := ClassifyPage(r, "", false); got != PageLanding {
		t.Fatalf("got %s, want landing_page: the paywall phrase lies past the scanned head", got)
	}
	if r.n > PageScanLen {
		t.Fatalf("read %d bytes, more than PageScanLen %d", r.n, PageScanLen)
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func FuzzClassifyPage(f *testing.F) {
	for _, s := range []string{"", "<html><title>Just a moment...</title>", "<p>Purchase this article</p>",
		`<meta name="citation_fulltext_html_url" content="x">`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := ClassifyPage(strings.NewReader(s), "https://x.example/a", false)
		if v == PageNone || v > PageChallenge {
			t.Fatalf("verdict %d out of range", v)
		}
	})
}
