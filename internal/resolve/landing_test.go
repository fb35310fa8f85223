package resolve

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestExtractPDFLinkFixtures(t *testing.T) {
	tests := []struct {
		file, base, want string
	}{
		// citation_pdf_url wins over an earlier <link> and <a>; the first meta counts.
		{"landing_citation_meta.html", "https://publisher.example.com/article/kg.2021.001", "https://publisher.example.com/content/pdf/kg.2021.001.pdf"},
		// Empty meta ignored; <link rel="Alternate Bookmark" type="Application/PDF; …"> beats the anchor; relative href.
		{"landing_link_alternate.html", "https://repository.example.edu/handle/1/3", "https://repository.example.edu/handle/1/bitstreams/3/accepted.pdf"},
		// <base href>, javascript:/mailto: skipped, .PDF with query and fragment, script content ignored.
		{"landing_anchor_relative.html", "https://repo.example.org/record/42", "https://mirror.example.net/items/42/files/fulltext.PDF?sequence=1&isAllowed=y#page=2"},
		{"landing_fulltext_no_pdf.html", "https://journal.example.org/article/7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, ok := ExtractPDFLink(f, mustURL(t, tt.base))
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("ExtractPDFLink = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestExtractPDFLink(t *testing.T) {
	base := "https://site.example/a/b/page.html?x=1"
	tests := []struct {
		name, html, base, want string
	}{
		{"meta absolute", `<meta name="citation_pdf_url" content="https://cdn.example/p.pdf">`, base, "https://cdn.example/p.pdf"},
		{"meta relative", `<meta name="citation_pdf_url" content="../files/p">`, base, "https://site.example/a/files/p"},
		{"meta root-relative", `<meta name=citation_pdf_url content=/p.pdf>`, base, "https://site.example/p.pdf"},
		{"meta scheme-relative", `<meta name="citation_pdf_url" content="//cdn.example/x.pdf">`, base, "https://cdn.example/x.pdf"},
		{"meta name case and space", `<META NAME=" Citation_PDF_URL " CONTENT=" /p.pdf ">`, base, "https://site.example/p.pdf"},
		{"meta property", `<meta property="citation_pdf_url" content="/prop.pdf">`, base, "https://site.example/prop.pdf"},
		{"meta after body anchor", `<a href="/a.pdf">a</a><meta name="citation_pdf_url" content="/m.pdf">`, base, "https://site.example/m.pdf"},
		{"meta entity-escaped", `<meta name="citation_pdf_url" content="/get?id=1&amp;type=pdf">`, base, "https://site.example/get?id=1&type=pdf"},
		{"meta bad scheme falls through", `<meta name="citation_pdf_url" content="javascript:x()"><a href="/a.pdf">`, base, "https://site.example/a.pdf"},
		{"link before anchor", `<a href="/a.pdf"></a><link rel="alternate" type="application/pdf" href="/l">`, base, "https://site.example/l"},
		{"link needs alternate", `<link rel="stylesheet" type="application/pdf" href="/l"><a href="/a.pdf">`, base, "https://site.example/a.pdf"},
		{"link needs pdf type", `<link rel="alternate" type="application/rss+xml" href="/feed">`, base, ""},
		{"first link wins", `<link rel=alternate type=application/pdf href=/one><link rel=alternate type=application/pdf href=/two>`, base, "https://site.example/one"},
		{"first pdf anchor wins", `<a href="/x.html">x</a><a href="one.pdf">1</a><a href="two.pdf">2</a>`, base, "https://site.example/a/b/one.pdf"},
		{"anchor query ignored", `<a href="/get.php?file=x.pdf">x</a>`, base, ""},
		{"anchor fragment ignored", `<a href="/page#x.pdf">x</a>`, base, ""},
		{"anchor whitespace in href", "<a href=\" /do\nc.pdf \">x</a>", base, "https://site.example/doc.pdf"},
		{"anchor data url", `<a href="data:application/pdf;base64,JVBERi0=">x</a>`, base, ""},
		{"anchor without href", `<a name="x.pdf">x</a>`, base, ""},
		{"base tag", `<base href="https://other.example/dir/"><a href="f.pdf">`, base, "https://other.example/dir/f.pdf"},
		{"relative base tag", `<base href="/docs/"><a href="f.pdf">`, base, "https://site.example/docs/f.pdf"},
		{"only first base", `<base href="/one/"><base href="/two/"><a href="f.pdf">`, base, "https://site.example/one/f.pdf"},
		{"nil base absolute only", `<a href="rel.pdf"></a><a href="http://abs.example/x.pdf">`, "", "http://abs.example/x.pdf"},
		{"nil base relative meta ignored", `<meta name="citation_pdf_url" content="/p.pdf">`, "", ""},
		{"pdf in comment ignored", `<!-- <meta name="citation_pdf_url" content="/c.pdf"> -->`, base, ""},
		{"pdf in script ignored", `<script>document.write('<a href="/s.pdf">')</script>`, base, ""},
		{"pdf in textarea ignored", `<textarea><a href="/t.pdf"></textarea>`, base, ""},
		{"empty", ``, base, ""},
		{"not html", `%PDF-1.7 binary`, base, ""},
		{"unclosed everything", `<html><head><meta name="citation_pdf_url" content="/u.pdf"`, base, ""},
		{"unclosed attribute", `<a href="/x.pdf`, base, ""},
		{"broken tags then anchor", `<<<>>><div <p></p></div><a href=ok.pdf>`, base, "https://site.example/a/b/ok.pdf"},
		{"bad percent escape skipped", `<a href="/bad%zz.pdf"></a><a href="/good.pdf">`, base, "https://site.example/good.pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b *url.URL
			if tt.base != "" {
				b = mustURL(t, tt.base)
			}
			got, ok := ExtractPDFLink(strings.NewReader(tt.html), b)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("ExtractPDFLink(%q) = %q, %v; want %q", tt.html, got, ok, tt.want)
			}
		})
	}
}

func TestExtractPDFLinkMalformedFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "landing_malformed.html"))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ExtractPDFLink(bytes.NewReader(b), mustURL(t, "https://broken.example/x/"))
	if ok {
		assertHTTPURL(t, got)
	}
}

// endless yields an unbounded stream of HTML that never contains a PDF link.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	const chunk = `<div class="x"><a href="/page.html">more</a></div>`
	n := 0
	for n < len(p) {
		n += copy(p[n:], chunk)
	}
	e.read += int64(n)
	return n, nil
}

func TestExtractPDFLinkReadsBoundedPrefix(t *testing.T) {
	r := &endless{}
	if got, ok := ExtractPDFLink(r, mustURL(t, "https://site.example/")); ok {
		t.Fatalf("found %q in a page without PDF links", got)
	}
	if r.read > MaxLandingBytes+64<<10 {
		t.Fatalf("read %d bytes, limit is %d", r.read, MaxLandingBytes)
	}
	// A link just past the limit is not found; one inside it is.
	pad := strings.Repeat(" ", MaxLandingBytes)
	if _, ok := ExtractPDFLink(strings.NewReader(pad+`<a href="/late.pdf">`), mustURL(t, "https://site.example/")); ok {
		t.Fatal("link beyond the read limit was found")
	}
	if _, ok := ExtractPDFLink(strings.NewReader(pad[:1000]+`<a href="/early.pdf">`), mustURL(t, "https://site.example/")); !ok {
		t.Fatal("link inside the read limit was not found")
	}
}

func assertHTTPURL(t *testing.T, s string) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("result %q is not an absolute http(s) URL (%v)", s, err)
	}
}

func FuzzExtractPDFLink(f *testing.F) {
	for _, name := range []string{"landing_citation_meta.html", "landing_link_alternate.html", "landing_anchor_relative.html", "landing_malformed.html"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "https://site.example/a/")
	}
	f.Add([]byte(`<base href="//x"><a href="y.pdf">`), "https://h/")
	f.Add([]byte(`<meta name=citation_pdf_url content="http://[::1]:80/x">`), "")
	f.Fuzz(func(t *testing.T, page []byte, base string) {
		var b *url.URL
		if u, err := url.Parse(base); err == nil {
			b = u
		}
		got, ok := ExtractPDFLink(bytes.NewReader(page), b)
		if ok != (got != "") {
			t.Fatalf("ok=%v with link %q", ok, got)
		}
		if ok {
			assertHTTPURL(t, got)
		}
		// Reading is deterministic and does not depend on how the input is chunked.
		again, ok2 := ExtractPDFLink(io.MultiReader(bytes.NewReader(page[:len(page)/2]), bytes.NewReader(page[len(page)/2:])), b)
		if again != got || ok2 != ok {
			t.Fatalf("chunked read gave %q, want %q", again, got)
		}
	})
}
