package download

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

type entry struct {
	name string
	data []byte
}

func makeZip(t *testing.T, es ...entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	return b.Bytes()
}

func makeTgz(t *testing.T, es ...entry) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg})
		tw.Write(e.data)
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func testRunner(t *testing.T, maxBytes int64) *Runner {
	t.Helper()
	r := New(Options{Out: t.TempDir(), MaxBytes: maxBytes, MinPDFBytes: 1024}, Deps{})
	if err := r.store.prepare(); err != nil {
		t.Fatal(err)
	}
	return r
}

func extractBytes(t *testing.T, r *Runner, data []byte) (*kept, string) {
	t.Helper()
	f, err := r.store.createTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer discard(f)
	f.Write(data)
	return r.extract(f, sniffArchive(data), int64(len(data)))
}

func TestExtractPicksPDFThenXML(t *testing.T) {
	pdf := pdfBytes(4096)
	xml := []byte(`<?xml version="1.0"?><article/>`)
	for name, archive := range map[string][]byte{
		"zip": makeZip(t, entry{"pkg/article.nxml", xml}, entry{"pkg/cover.pdf", pdfBytes(2048)}, entry{"pkg/article.pdf", pdf}, entry{"pkg/fig1.jpg", []byte("jpg")}),
		"tgz": makeTgz(t, entry{"pkg/article.nxml", xml}, entry{"pkg/cover.pdf", pdfBytes(2048)}, entry{"pkg/article.pdf", pdf}),
	} {
		r := testRunner(t, 1<<20)
		k, reason := extractBytes(t, r, archive)
		if reason != "" || k == nil || k.kind != KindPDF || k.res.size != int64(len(pdf)) {
			t.Fatalf("%s: kept %+v reason %q, want the 4096-byte PDF", name, k, reason)
		}
		got, _ := os.ReadFile(k.tmp.Name())
		if !bytes.Equal(got, pdf) {
			t.Errorf("%s: extracted bytes differ", name)
		}
		k.discard()
	}
	r := testRunner(t, 1<<20)
	k, reason := extractBytes(t, r, makeTgz(t, entry{"a/article.xml", xml}))
	if reason != "" || k.kind != KindXML {
		t.Fatalf("xml-only package: %v %q", k, reason)
	}
	k.discard()
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	pdf := pdfBytes(4096)
	big := append(pdfBytes(4096), bytes.Repeat([]byte{0}, 1<<20)...)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"zip traversal":   {makeZip(t, entry{"../../etc/x.pdf", pdf}), "archive_unsafe_path"},
		"tgz absolute":    {makeTgz(t, entry{"/etc/x.pdf", pdf}), "archive_unsafe_path"},
		"no full text":    {makeZip(t, entry{"readme.txt", []byte("hi")}), "archive_no_fulltext"},
		"invalid pdf":     {makeZip(t, entry{"a.pdf", []byte("<html>nope</html>")}), "archive_no_fulltext"},
		"decompress bomb": {makeTgz(t, entry{"a.pdf", big}), "too_large"},
		"corrupt gzip":    {[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, "archive_invalid"},
	}
	for name, c := range cases {
		r := testRunner(t, 64<<10)
		k, reason := extractBytes(t, r, c.data)
		if k != nil || reason != c.want {
			t.Errorf("%s: kept=%v reason %q, want %q", name, k != nil, reason, c.want)
		}
		ents, _ := os.ReadDir(r.opts.Out + "/" + dirTmp)
		if len(ents) != 0 { // the archive temp is gone too; nothing half-extracted stays
			t.Errorf("%s: %d temp files left", name, len(ents))
		}
	}
}

func TestIsArchiveURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://x/oa_package/ab/cd/PMC1.tar.gz": true, "https://x/a.ZIP?dl=1": true, "https://x/a.tgz#x": true,
		"https://x/a.pdf": false, "https://x/zip": false,
	} {
		if isArchiveURL(u) != want {
			t.Errorf("isArchiveURL(%q) != %v", u, want)
		}
	}
	_ = io.EOF
}

func TestExtractSkipsOversizeAndSupplementaryMembers(t *testing.T) {
	article := pdfBytes(4096)
	huge := pdfBytes(80 << 10) // over the 64 KiB max_bytes below
	supp := pdfBytes(30 << 10)
	for name, archive := range map[string][]byte{
		"zip": makeZip(t, entry{"pkg/huge-scan.pdf", huge}, entry{"pkg/article.pdf", article}, entry{"pkg/suppl_data.pdf", supp}),
		"tgz": makeTgz(t, entry{"pkg/suppl_data.pdf", supp}, entry{"pkg/article.pdf", article}),
	} {
		r := testRunner(t, 64<<10)
		k, reason := extractBytes(t, r, archive)
		if reason != "" || k == nil || k.res.size != int64(len(article)) {
			t.Errorf("%s: kept %v reason %q; want the article (not the oversize or supplementary PDF)", name, k != nil, reason)
			continue
		}
		k.discard()
	}
}
