package download

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func pdfBytes(size int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	for b.Len() < size-7 {
		b.WriteByte('x')
	}
	b.WriteString("\n%%EOF\n")
	return b.Bytes()
}

// classify runs a whole body through the same buffers the downloader uses.
func classify(body []byte, ctype, url string, minBytes, maxBytes int64) (Kind, string) {
	if int64(len(body)) > maxBytes {
		return KindUnknown, "too_large"
	}
	var head headBuffer
	var tail tailBuffer
	// Write in uneven chunks to exercise the ring buffer.
	for i := 0; i < len(body); i += 333 {
		chunk := body[i:min(i+333, len(body))]
		head.Write(chunk)
		tail.Write(chunk)
	}
	k := Sniff(head.buf, ctype, url)
	if k == KindPDF {
		return k, ValidatePDF(int64(len(body)), head.buf, tail.Bytes(), minBytes)
	}
	return k, ""
}

func TestClassifier(t *testing.T) {
	htmlPage := []byte("<!DOCTYPE html>\n<html><head><title>Error</title></head><body>Access denied</body></html>")
	noEOF := pdfBytes(4096)
	noEOF = noEOF[:len(noEOF)-7]
	htmlTail := append(pdfBytes(4096), []byte("<html><body>injected</body></html>")...)
	lateMagic := append(bytes.Repeat([]byte(" "), 100), pdfBytes(4096)...)
	cases := []struct {
		name       string
		body       []byte
		ctype, url string
		wantKind   Kind
		wantReason string
	}{
		{"real pdf", pdfBytes(8192), "application/pdf", "https://x/a.pdf", KindPDF, ""},
		{"pdf with lying content type", pdfBytes(8192), "text/html", "https://x/a", KindPDF, ""},
		{"pdf magic after a prefix", lateMagic, "", "", KindPDF, ""},
		{"html served as application/pdf", htmlPage, "application/pdf", "https://x/a.pdf", KindHTML, ""},
		{"html uppercase with leading space", []byte("  \n<HTML><BODY>x</BODY></HTML>"), "application/pdf", "", KindHTML, ""},
		{"html head only", []byte("<head><meta charset=utf-8></head>"), "", "", KindHTML, ""},
		{"xml", []byte(`<?xml version="1.0"?><article/>`), "application/pdf", "", KindXML, ""},
		{"xml with BOM", []byte("\xef\xbb\xbf<?xml version='1.0'?><a/>"), "", "", KindXML, ""},
		{"pdf missing %%EOF", noEOF, "application/pdf", "", KindPDF, "pdf_eof_missing"},
		{"pdf with html tail", htmlTail, "application/pdf", "", KindPDF, "html_tail"},
		{"tiny pdf", pdfBytes(200), "application/pdf", "", KindPDF, "too_small"},
		{"over-size body", pdfBytes(12000), "application/pdf", "", KindUnknown, "too_large"},
		{"unknown bytes, content type decides", []byte("plain words"), "text/xml; charset=utf-8", "", KindXML, ""},
		{"unknown bytes, url suffix decides", []byte("plain words"), "application/octet-stream", "https://x/y.nxml?x=1", KindXML, ""},
		{"unknown bytes, nothing decides", []byte("plain words"), "", "https://x/y", KindUnknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, reason := classify(c.body, c.ctype, c.url, 1024, 10000)
			if k != c.wantKind || reason != c.wantReason {
				t.Errorf("got %v %q, want %v %q", k, reason, c.wantKind, c.wantReason)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i % 251)
	}
	for _, chunk := range []int{1, 7, 1023, 1024, 1025, 5000} {
		var tb tailBuffer
		for i := 0; i < len(data); i += chunk {
			tb.Write(data[i:min(i+chunk, len(data))])
		}
		if got := tb.Bytes(); !bytes.Equal(got, data[len(data)-tailLen:]) {
			t.Errorf("chunk %d: tail mismatch", chunk)
		}
	}
	var short tailBuffer
	short.Write([]byte("abc"))
	if string(short.Bytes()) != "abc" {
		t.Errorf("short tail = %q", short.Bytes())
	}
}

func TestSlugAndFileName(t *testing.T) {
	cases := []struct{ title, want string }{
		{"Knowledge Graphs: A Survey", "knowledge-graphs-a-survey"},
		{"../../etc/passwd", "etc-passwd"},
		{"/absolute/path", "absolute-path"},
		{"nul\x00byte", "nul-byte"},
		{"CON", "con"},
		{"日本語のタイトル", "untitled"},
		{"", "untitled"},
		{"---", "untitled"},
	}
	for _, c := range cases {
		if got := Slug(c.title); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.title, got, c.want)
		}
	}
	long := strings.Repeat("déjà vu ", 200)
	if s := Slug(long); len(s) > maxSlug || !utf8.ValidString(s) || strings.HasSuffix(s, "-") {
		t.Errorf("long slug %q (len %d) not bounded/clean", s, len(s))
	}
	if got := FileName(2021, "A Title", "W123", KindPDF); got != "2021__a-title__W123.pdf" {
		t.Errorf("FileName = %q", got)
	}
	if got := FileName(0, "x", "../W1/..", KindXML); !strings.HasPrefix(got, "noyear__x__W1-") || !strings.HasSuffix(got, ".xml") || strings.Contains(got, "/") {
		t.Errorf("FileName with hostile id = %q", got)
	}
}

func TestStoreResolveRefusesEscapes(t *testing.T) {
	s := &store{out: t.TempDir()}
	for _, bad := range []string{"", "/etc/passwd", "../x", "PDF/../../x", "a\x00b", "."} {
		if _, ok := s.resolve(bad); ok {
			t.Errorf("resolve(%q) accepted", bad)
		}
	}
	if p, ok := s.resolve("PDF/a.pdf"); !ok || !strings.HasPrefix(p, s.out) {
		t.Errorf("resolve(PDF/a.pdf) = %q %v", p, ok)
	}
}

func FuzzSlug(f *testing.F) {
	for _, s := range []string{"Knowledge Graphs", "../../x", "\x00", "日本", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := Slug(title)
		if s == "" || len(s) > maxSlug {
			t.Fatalf("Slug(%q) = %q: empty or too long", title, s)
		}
		for _, r := range s {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				t.Fatalf("Slug(%q) = %q has %q", title, s, r)
			}
		}
		name := FileName(2020, title, title, KindPDF)
		if strings.ContainsAny(name, "/\\\x00") || strings.Contains(name, "..") {
			t.Fatalf("FileName has a path element: %q", name)
		}
	})
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("%PDF-1.4"), "application/pdf", "x.pdf")
	f.Add([]byte("<html>"), "", "")
	f.Add([]byte("<?xml"), "text/xml", "")
	f.Fuzz(func(t *testing.T, head []byte, ctype, url string) {
		k := Sniff(head, ctype, url)
		if k > KindHTML {
			t.Fatalf("kind %d out of range", k)
		}
		var tb tailBuffer
		tb.Write(head)
		_ = ValidatePDF(int64(len(head)), head, tb.Bytes(), 10)
	})
}
