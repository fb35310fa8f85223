package download

import (
	"bytes"
	"mime"
	"path"
	"strings"

	"github.com/docstokg/contentdl/internal/resolve"
)

// Kind is what a body turned out to be, decided by its bytes first. It is the same
// type as a resolver's hint, so a hint and a verdict compare directly.
type Kind = resolve.Kind

// Kinds of body.
const (
	KindUnknown = resolve.KindUnknown
	KindPDF     = resolve.KindPDF
	KindXML     = resolve.KindXML
	KindHTML    = resolve.KindHTML
)

// sniffLen is how much of a body's head classification looks at.
const sniffLen = 2048

// tailLen is how much of a body's tail PDF validation looks at.
const tailLen = 1024

var htmlPrefixes = [][]byte{[]byte("<!doctype html"), []byte("<html"), []byte("<head"), []byte("<body")}

// Sniff classifies a body by its first bytes: leading HTML markers, then a leading XML
// declaration, then %PDF within the first 2 KiB; only then the Content-Type header and
// the URL's suffix.
func Sniff(head []byte, contentType, rawURL string) Kind {
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	lead := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n\f")
	probe := lead
	if len(probe) > 32 {
		probe = probe[:32]
	}
	probe = bytes.ToLower(probe)
	for _, p := range htmlPrefixes {
		if bytes.HasPrefix(probe, p) {
			return KindHTML
		}
	}
	if bytes.HasPrefix(probe, []byte("<?xml")) {
		return KindXML
	}
	if bytes.Contains(head, []byte("%PDF")) {
		return KindPDF
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		switch {
		case mt == "application/pdf":
			return KindPDF
		case mt == "text/html" || mt == "application/xhtml+xml":
			return KindHTML
		case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
			return KindXML
		}
	}
	p := rawURL
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".pdf":
		return KindPDF
	case ".xml", ".nxml":
		return KindXML
	case ".html", ".htm":
		return KindHTML
	}
	return KindUnknown
}

var htmlTailMarkers = [][]byte{[]byte("</html"), []byte("<html"), []byte("</body"), []byte("<script")}

// ValidatePDF checks a body that sniffed as PDF. It returns "" when the body is
// acceptable, or the manifest reason it is not.
func ValidatePDF(size int64, head, tail []byte, minBytes int64) string {
	if size < minBytes {
		return "too_small"
	}
	if !bytes.Contains(head, []byte("%PDF")) {
		return "pdf_header_missing"
	}
	lower := bytes.ToLower(tail)
	for _, m := range htmlTailMarkers {
		if bytes.Contains(lower, m) {
			return "html_tail"
		}
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return "pdf_eof_missing"
	}
	return ""
}

// tailBuffer keeps the last tailLen bytes written to it.
type tailBuffer struct {
	buf  [tailLen]byte
	n    int // bytes held (≤ tailLen)
	next int // ring position
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= tailLen {
		copy(t.buf[:], p[len(p)-tailLen:])
		t.n, t.next = tailLen, 0
		return n, nil
	}
	for len(p) > 0 {
		c := copy(t.buf[t.next:], p)
		t.next = (t.next + c) % tailLen
		p = p[c:]
		t.n = min(tailLen, t.n+c)
	}
	return n, nil
}

// Bytes returns the held tail in order.
func (t *tailBuffer) Bytes() []byte {
	if t.n < tailLen {
		return append([]byte(nil), t.buf[:t.n]...)
	}
	out := make([]byte, 0, tailLen)
	out = append(out, t.buf[t.next:]...)
	return append(out, t.buf[:t.next]...)
}

// headBuffer keeps the first sniffLen bytes written to it.
type headBuffer struct {
	buf []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := sniffLen - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
