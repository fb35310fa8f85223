package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
)

// pdfDoc is a valid one-page PDF of an exact size whose bytes are a pure function of
// (seed, id, size). It is never held whole: ReadAt computes any range on demand, so
// a 2 GiB PDF costs about 9 KiB of memory.
//
// Layout: header, catalog, pages, page, a content stream (one line of text and then
// comment lines of deterministic padding), a font, the xref table and the trailer.
type pdfDoc struct {
	head    []byte // everything up to and including the text line of the stream
	padLen  int64  // padding bytes after head
	tail    []byte // end of the stream, the font object, xref and trailer
	pattern []byte // one period of padding
}

var _ io.ReaderAt = (*pdfDoc)(nil)

const padAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newPDF lays out the PDF for one work. size must be at least MinPDFSize.
func newPDF(seed uint64, id, title string, size int64) (*pdfDoc, error) {
	if size < MinPDFSize {
		return nil, fmt.Errorf("pdf size %d is below the minimum %d", size, MinPDFSize)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d\x00%s", seed, id)
	padSeed := h.Sum64()
	if len(title) > 200 {
		title = title[:200]
	}
	text := "BT /F1 14 Tf 72 720 Td (" + pdfEscape(id+": "+title) + ") Tj ET\n"
	docID := fmt.Sprintf("%016x%016x", padSeed, splitmix(padSeed))

	build := func(slack int, streamLen int64) (head, tail []byte, xref int64) {
		var b strings.Builder
		b.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
		offsets := make([]int, 6)
		obj := func(n int, body string) {
			offsets[n] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
		}
		obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
		obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
		obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>")
		offsets[4] = b.Len()
		fmt.Fprintf(&b, "4 0 obj\n<< /Length %d >>\nstream\n", streamLen)
		b.WriteString(text)
		head = []byte(b.String())
		// The tail's offsets continue after the stream data.
		base := int64(len(head)) + streamLen - int64(len(text))
		var t strings.Builder
		t.WriteString("\nendstream\nendobj\n")
		offsets[5] = int(base) + t.Len()
		t.WriteString("5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n")
		xref = base + int64(t.Len())
		t.WriteString("xref\n0 6\n0000000000 65535 f \n")
		for n := 1; n <= 5; n++ {
			fmt.Fprintf(&t, "%010d 00000 n \n", offsets[n])
		}
		fmt.Fprintf(&t, "trailer\n<< /Size 6 /Root 1 0 R /ID [<%s> <%s>]%s >>\nstartxref\n%d\n%%%%EOF\n", docID, docID, strings.Repeat(" ", slack), xref)
		return head, []byte(t.String()), xref
	}

	// The lengths of the /Length and startxref numbers depend on the padding, so
	// lay out the shortest document once and search the few stream lengths around
	// the estimate arithmetically; slack spaces in the trailer dictionary (after
	// every offset) absorb the cases where a digit boundary skips the exact size.
	textLen := int64(len(text))
	h0, t0, x0 := build(0, textLen)
	headLen := func(l int64) int64 { return int64(len(h0)) - digits(textLen) + digits(l) }
	xrefAt := func(l int64) int64 { return headLen(l) + (l - textLen) + (x0 - int64(len(h0))) }
	tailLen := func(l int64, slack int) int64 { return int64(len(t0)) - digits(x0) + digits(xrefAt(l)) + int64(slack) }
	fixed := int64(len(h0)+len(t0)) - textLen
	for slack := 0; slack < 4; slack++ {
		hi := size - fixed - int64(slack) + 2
		for streamLen := hi; streamLen >= hi-48 && streamLen >= textLen; streamLen-- {
			if headLen(streamLen)+(streamLen-textLen)+tailLen(streamLen, slack) != size {
				continue
			}
			head, tail, _ := build(slack, streamLen)
			pad := streamLen - textLen
			if int64(len(head))+pad+int64(len(tail)) != size {
				break // the arithmetic disagrees with the layout: a bug
			}
			return &pdfDoc{head: head, padLen: pad, tail: tail, pattern: padPattern(padSeed)}, nil
		}
	}
	return nil, errors.New("pdf layout: no exact fit (bug)")
}

// digits is the length of n in decimal (n >= 0).
func digits(n int64) int64 {
	d := int64(1)
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// Size is the total length of the document.
func (d *pdfDoc) Size() int64 { return int64(len(d.head)) + d.padLen + int64(len(d.tail)) }

// ReadAt fills p from offset off.
func (d *pdfDoc) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pdf: negative offset")
	}
	size := d.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < size {
		switch hl := int64(len(d.head)); {
		case off < hl:
			c := copy(p[n:], d.head[off:])
			n += c
			off += int64(c)
		case off < hl+d.padLen:
			c := min(int64(len(p)-n), hl+d.padLen-off)
			d.pad(p[n:n+int(c)], off-hl)
			n += int(c)
			off += c
		default:
			c := copy(p[n:], d.tail[off-hl-d.padLen:])
			n += c
			off += int64(c)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// padPeriod is the length of the padding pattern that repeats through the stream
// (a multiple of the 64-byte line).
const padPeriod = 8 << 10

// pad writes the padding bytes starting at padding position pos: the work's
// pattern, repeated, so that any range can be produced independently at the speed
// of a copy.
func (d *pdfDoc) pad(p []byte, pos int64) {
	for len(p) > 0 {
		n := copy(p, d.pattern[pos%padPeriod:])
		p = p[n:]
		pos += int64(n)
	}
}

// padPattern is one period of padding: lines of 64 bytes, each a PDF comment
// ("%" … "\n") of characters derived from the seed.
func padPattern(seed uint64) []byte {
	p := make([]byte, padPeriod)
	var block uint64
	for q := range p {
		switch q % 64 {
		case 0:
			p[q] = '%'
		case 63:
			p[q] = '\n'
		default:
			if q%8 == 0 || q%64 == 1 {
				block = splitmix(seed + uint64(q/8)*0x9E3779B97F4A7C15)
			}
			p[q] = padAlphabet[(block>>(uint(q%8)*8))&63]
		}
	}
	return p
}

// splitmix is the SplitMix64 finaliser: a fast, well-mixed 64-bit hash.
func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// pdfEscape escapes a PDF literal string and drops non-ASCII bytes.
func pdfEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	return b.String()
}
