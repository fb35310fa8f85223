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
	for _, m := range htmlTailMarkers {
		if containsFoldASCII(tail, m) {
			return "html_tail"
		}
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return "pdf_eof_missing"
	}
	return ""
}

// containsFoldASCII reports whether s contains lowerMarker (lower-case ASCII), with
// ASCII letters matched regardless of case, without copying s. It answers as
// bytes.Contains(bytes.ToLower(s), lowerMarker) did, except for the two non-ASCII
// characters that lower-case to ASCII letters (U+0130 İ and U+212A, the Kelvin sign),
// which no HTML tag name is written with.
func containsFoldASCII(s, lowerMarker []byte) bool {
	if len(lowerMarker) == 0 {
		return true
	}
	first := lowerMarker[0]
	if first >= 'a' && first <= 'z' {
		return slowContainsFoldASCII(s, lowerMarker)
	}
	// The marker starts with a byte that has no other case ('<'): find each candidate
	// with IndexByte and compare the rest.
	for i := 0; ; {
		j := bytes.IndexByte(s[i:], first)
		if j < 0 || i+j+len(lowerMarker) > len(s) {
			return false
		}
		i += j
		if equalFoldASCII(s[i+1:i+len(lowerMarker)], lowerMarker[1:]) {
			return true
		}
		i++
	}
}

func slowContainsFoldASCII(s, lowerMarker []byte) bool {
	for i := 0; i+len(lowerMarker) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(lowerMarker)], lowerMarker) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether s equals lower (lower-case ASCII, as long as s) with
// ASCII letters matched regardless of case.
func equalFoldASCII(s, lower []byte) bool {
	for k, c := range lower {
		if lowerASCII(s[k]) != c {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// tailBuffer keeps the last tailLen bytes written to it.
type tailBuffer struct {
	buf  [tailLen]byte
	n    int // bytes held (≤ tailLen)
	next int // ring position
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.add(p)
	return len(p), nil
}

func (t *tailBuffer) add(p []byte) {
	if len(p) >= tailLen {
		copy(t.buf[:], p[len(p)-tailLen:])
		t.n, t.next = tailLen, 0
		return
	}
	for len(p) > 0 {
		c := copy(t.buf[t.next:], p)
		t.next = (t.next + c) % tailLen
		p = p[c:]
		t.n = min(tailLen, t.n+c)
	}
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

// headBuffer keeps the first sniffLen bytes written to it, in buf, which is backed
// by the buffer's own array: keeping a head allocates nothing.
type headBuffer struct {
	buf []byte
	arr [sniffLen]byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.add(p)
	return len(p), nil
}

func (h *headBuffer) add(p []byte) {
	if room := sniffLen - len(h.buf); room > 0 {
		if h.buf == nil {
			h.buf = h.arr[:0]
		}
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
}
