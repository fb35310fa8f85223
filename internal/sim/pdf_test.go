package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func readPDF(t *testing.T, d *pdfDoc) []byte {
	t.Helper()
	b := make([]byte, d.Size())
	if n, err := d.ReadAt(b, 0); err != nil || int64(n) != d.Size() {
		t.Fatalf("ReadAt: n=%d err=%v", n, err)
	}
	return b
}

// checkPDF verifies the structure a PDF reader relies on: header, EOF marker, a
// stream whose /Length matches, xref offsets that point at their objects and a
// startxref that points at the xref table.
func checkPDF(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-1.4\n")) {
		t.Fatalf("no %%PDF-1.4 header: %q", b[:min(len(b), 16)])
	}
	if !bytes.HasSuffix(b, []byte("%%EOF\n")) {
		t.Fatalf("no %%%%EOF at the end: %q", b[max(0, len(b)-16):])
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[xref:], []byte("xref\n0 6\n")) {
		t.Fatalf("startxref %d does not point at the xref table: %q", xref, b[xref:xref+12])
	}
	entries := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllSubmatch(b[xref:], -1)
	if len(entries) != 5 {
		t.Fatalf("xref has %d in-use entries, want 5", len(entries))
	}
	for i, e := range entries {
		off, _ := strconv.Atoi(string(e[1]))
		want := fmt.Sprintf("%d 0 obj\n", i+1)
		if !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Fatalf("xref entry %d points at %q, want %q", i+1, b[off:off+len(want)], want)
		}
	}
	lm := regexp.MustCompile(`<< /Length (\d+) >>\nstream\n`).FindSubmatchIndex(b)
	if lm == nil {
		t.Fatal("no content stream")
	}
	length, _ := strconv.Atoi(string(b[lm[2]:lm[3]]))
	data := lm[1]
	if !bytes.HasPrefix(b[data+length:], []byte("\nendstream\nendobj\n")) {
		t.Fatalf("/Length %d does not end at endstream: %q", length, b[data+length:data+length+12])
	}
}

func TestPDFExactSizeAndStructure(t *testing.T) {
	// Sizes around digit boundaries of /Length and startxref, and large ones.
	sizes := []int64{MinPDFSize, MinPDFSize + 1, 1500, 9999, 10000, 10001, 10002, 100000, 100001, 99998, 1 << 20, 256 << 10}
	for _, size := range sizes {
		d, err := newPDF(7, "W42", "Graph (neural) networks \\ for ☃ things", size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if d.Size() != size {
			t.Fatalf("size %d: layout is %d bytes", size, d.Size())
		}
		b := readPDF(t, d)
		checkPDF(t, b)
	}
}

func TestPDFEverySizeAcrossDigitBoundariesFits(t *testing.T) {
	// Where /Length or startxref gains a digit, the layout needs its slack.
	for _, r := range [][2]int64{{MinPDFSize, 2200}, {9800, 10300}, {99800, 100300}, {1_000_000 - 300, 1_000_000 + 300}} {
		for size := r[0]; size < r[1]; size++ {
			d, err := newPDF(1, "W1", "t", size)
			if err != nil || d.Size() != size {
				t.Fatalf("size %d: err=%v", size, err)
			}
		}
	}
}

func TestPDFLongTitleFitsTheMinimum(t *testing.T) {
	d, err := newPDF(1, "W123456789", strings.Repeat("(long) ", 100), MinPDFSize)
	if err != nil {
		t.Fatal(err)
	}
	checkPDF(t, readPDF(t, d))
}

func TestPDFBelowMinimum(t *testing.T) {
	if _, err := newPDF(1, "W1", "t", MinPDFSize-1); err == nil {
		t.Fatal("want an error below MinPDFSize")
	}
}

func TestPDFDeterministicAndDistinct(t *testing.T) {
	a1, _ := newPDF(5, "W1", "title", 50000)
	a2, _ := newPDF(5, "W1", "title", 50000)
	b, _ := newPDF(5, "W2", "title", 50000)
	c, _ := newPDF(6, "W1", "title", 50000)
	x, y := readPDF(t, a1), readPDF(t, a2)
	if !bytes.Equal(x, y) {
		t.Fatal("same inputs gave different bytes")
	}
	if bytes.Equal(x, readPDF(t, b)) || bytes.Equal(x, readPDF(t, c)) {
		t.Fatal("different work or seed gave identical bytes")
	}
}

func TestPDFRandomAccessMatchesSequential(t *testing.T) {
	d, _ := newPDF(9, "W3", "title", 70001)
	whole := readPDF(t, d)
	// Read it back in odd-sized chunks, as the server does.
	var got []byte
	buf := make([]byte, 777)
	for off := int64(0); ; {
		n, err := d.ReadAt(buf, off)
		got = append(got, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, whole) {
		t.Fatal("chunked reads differ from a whole read")
	}
	if n, err := d.ReadAt(buf, d.Size()); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read at end: n=%d err=%v", n, err)
	}
	if _, err := d.ReadAt(buf, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}
