package download

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTailBuffer checks the ring buffer that keeps a body's last bytes for PDF
// validation against the obvious answer, whatever the write sizes.
func FuzzTailBuffer(f *testing.F) {
	f.Add(bytes.Repeat([]byte("x"), 3000), []byte{7, 200, 1, 0, 255})
	f.Add([]byte("%PDF-1.4\n%%EOF\n"), []byte{1})
	f.Fuzz(func(t *testing.T, data []byte, cuts []byte) {
		var tb tailBuffer
		var hb headBuffer
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, int(cuts[i%len(cuts)])*8+1)
			}
			tb.Write(rest[:n])
			hb.Write(rest[:n])
			rest = rest[n:]
		}
		want := data[max(0, len(data)-tailLen):]
		if got := tb.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("tail of %d bytes: got %d bytes, want the last %d", len(data), len(got), len(want))
		}
		if wantHead := data[:min(len(data), sniffLen)]; !bytes.Equal(hb.buf, wantHead) {
			t.Fatalf("head: got %d bytes, want %d", len(hb.buf), len(wantHead))
		}
	})
}

func zipOf(t testing.TB, members map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range members {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return b.Bytes()
}

func tgzOf(t testing.TB, members map[string][]byte) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, data := range members {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

// FuzzExtract feeds arbitrary bytes to the archive unpacker: it must not panic, must
// keep only a whole PDF or XML member within max_bytes, and must leave no temp file
// behind when it refuses.
func FuzzExtract(f *testing.F) {
	pdf := testPDF("member")
	f.Add(zipOf(f, map[string][]byte{"article.pdf": pdf, "suppl.xml": []byte("<?xml version='1.0'?><a/>")}))
	f.Add(zipOf(f, map[string][]byte{"../../evil.pdf": pdf}))
	f.Add(tgzOf(f, map[string][]byte{"pkg/article.pdf": pdf}))
	f.Add(tgzOf(f, map[string][]byte{"/abs.pdf": pdf}))
	f.Add([]byte("PK\x03\x04 not really a zip"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		format := sniffArchive(data)
		if format == archiveNone {
			return
		}
		out := t.TempDir()
		r := New(Options{Out: out, MaxBytes: 64 << 10, MinPDFBytes: 100}, Deps{})
		if err := r.store.prepare(); err != nil {
			t.Fatal(err)
		}
		src, err := os.CreateTemp(t.TempDir(), "src-*")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		src.Write(data)
		k, reason := r.extract(src, format, int64(len(data)))
		if k == nil {
			if reason == "" {
				t.Fatal("refused without a reason")
			}
		} else {
			if reason != "" {
				t.Fatalf("kept a member and gave reason %q", reason)
			}
			if k.kind != KindPDF && k.kind != KindXML {
				t.Fatalf("kept a member of kind %s", k.kind)
			}
			if k.res.size > 64<<10 {
				t.Fatalf("kept %d bytes, over max_bytes", k.res.size)
			}
			k.discard()
		}
		if ents, _ := os.ReadDir(filepath.Join(out, dirTmp)); len(ents) != 0 {
			t.Fatalf("%d temp files left (reason %q)", len(ents), reason)
		}
	})
}

// FuzzContainsFoldASCII checks the tail-marker search against the search it replaced
// (bytes.ToLower, then bytes.Contains), for every input without the two characters
// whose lower case is ASCII.
func FuzzContainsFoldASCII(f *testing.F) {
	f.Add([]byte("xx</HTML>\n%%EOF"), []byte("</html"))
	f.Add([]byte("<ScRiPt>"), []byte("<script"))
	f.Add([]byte("\xff<bo\xe2\x80dy"), []byte("</body"))
	f.Fuzz(func(t *testing.T, s, marker []byte) {
		marker = bytes.ToLower(marker)
		for _, c := range marker {
			if c >= 0x80 {
				t.Skip("markers are ASCII")
			}
		}
		if bytes.ContainsRune(s, 'İ') || bytes.ContainsRune(s, 'K') {
			t.Skip("lower-cases to ASCII")
		}
		want := bytes.Contains(bytes.ToLower(s), marker)
		if got := containsFoldASCII(s, marker); got != want {
			t.Fatalf("containsFoldASCII(%q, %q) = %t, want %t", s, marker, got, want)
		}
	})
}
