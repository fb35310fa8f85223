package download

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path"
	"strings"
)

// Archive formats a candidate may arrive in, such as an Open Access package.
const (
	archiveNone = ""
	archiveZip  = "zip"
	archiveTgz  = "tar.gz"
)

// maxArchiveEntries bounds how many members an archive may list.
const maxArchiveEntries = 10000

// sniffArchive recognises a zip or gzip body by its magic bytes.
func sniffArchive(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return archiveZip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return archiveTgz
	}
	return archiveNone
}

// isArchiveURL says whether a candidate URL names a package to unpack; such fetches
// run under the EXTRACT operation's retry rules.
func isArchiveURL(raw string) bool {
	p := strings.ToLower(raw)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return strings.HasSuffix(p, ".zip") || strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// member is an archive entry worth keeping.
type member struct {
	name string
	kind Kind
	size int64
}

// safeMemberName rejects names that would escape a folder if anyone unpacked them
// naively; such archives are refused whole.
func safeMemberName(name string) bool {
	if name == "" || strings.ContainsRune(name, 0) || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func memberKind(name string) Kind {
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		return KindPDF
	case ".xml", ".nxml":
		return KindXML
	}
	return KindUnknown
}

// better prefers a PDF to XML, then a member whose name does not mark it as
// supplementary material, then the larger one (the article rather than a cover page).
func better(a, b member) bool {
	if a.kind != b.kind {
		return a.kind == KindPDF
	}
	if sa, sb := supplementary(a.name), supplementary(b.name); sa != sb {
		return sb
	}
	return a.size > b.size
}

// supplementary guesses from a member's name that it is not the article itself.
func supplementary(name string) bool {
	base := strings.ToLower(path.Base(name))
	for _, w := range []string{"supp", "suppl", "supplement", "appendix", "figure", "fig"} {
		if strings.Contains(base, w) {
			return true
		}
	}
	return false
}

// extract unpacks the archive in src (size bytes) and returns its best PDF or XML
// member as a new kept body. Members are never written under their own names; only
// the chosen one is copied, bounded by maxBytes, into a fresh temp file.
func (r *Runner) extract(src *os.File, format string, size int64) (*kept, string) {
	var pick member
	found := false
	consider := func(name string, sz int64) string {
		if !safeMemberName(name) {
			return "archive_unsafe_path"
		}
		k := memberKind(name)
		if k == KindUnknown || sz > r.opts.MaxBytes {
			return "" // not full text, or too large to keep: look for another member
		}
		m := member{name: name, kind: k, size: sz}
		if !found || better(m, pick) {
			pick, found = m, true
		}
		return ""
	}
	switch format {
	case archiveZip:
		zr, err := zip.NewReader(src, size)
		if err != nil {
			return nil, "archive_invalid"
		}
		if len(zr.File) > maxArchiveEntries {
			return nil, "archive_too_many_entries"
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			if reason := consider(f.Name, int64(f.UncompressedSize64)); reason != "" {
				return nil, reason
			}
		}
		if !found {
			return nil, "archive_no_fulltext"
		}
		for _, f := range zr.File {
			if f.Name == pick.name {
				rc, err := f.Open()
				if err != nil {
					return nil, "archive_invalid"
				}
				defer rc.Close()
				return r.keepMember(rc, pick)
			}
		}
	case archiveTgz:
		// First pass lists the members, second pass copies the chosen one: a tar
		// stream cannot seek back.
		tr, cr, closeFn, reason := openTgz(src, r.opts.MaxBytes)
		if reason != "" {
			return nil, reason
		}
		n := 0
		for {
			h, err := tr.Next()
			if cr.hit {
				closeFn()
				return nil, "too_large"
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				closeFn()
				return nil, "archive_invalid"
			}
			if n++; n > maxArchiveEntries {
				closeFn()
				return nil, "archive_too_many_entries"
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			if reason := consider(h.Name, h.Size); reason != "" {
				closeFn()
				return nil, reason
			}
		}
		closeFn()
		if !found {
			return nil, "archive_no_fulltext"
		}
		tr, _, closeFn, reason = openTgz(src, r.opts.MaxBytes)
		if reason != "" {
			return nil, reason
		}
		defer closeFn()
		for {
			h, err := tr.Next()
			if err != nil {
				return nil, "archive_invalid"
			}
			if h.Name == pick.name && h.Typeflag == tar.TypeReg {
				return r.keepMember(tr, pick)
			}
		}
	}
	return nil, "archive_invalid"
}

// maxArchiveRatio bounds a tar stream's decompressed size as a multiple of max_bytes.
const maxArchiveRatio = 4

func openTgz(src *os.File, maxBytes int64) (*tar.Reader, *capReader, func(), string) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, nil, func() {}, "archive_invalid"
	}
	gz, err := gzip.NewReader(src)
	if err != nil {
		return nil, nil, func() {}, "archive_invalid"
	}
	// Bound the whole decompressed stream, not only the member kept: listing a
	// decompression bomb would otherwise burn CPU without limit.
	cr := &capReader{r: gz, n: maxArchiveRatio * maxBytes}
	return tar.NewReader(cr), cr, func() { gz.Close() }, ""
}

// capReader ends a stream after n bytes and remembers whether there was more.
type capReader struct {
	r   io.Reader
	n   int64
	hit bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		var one [1]byte
		if k, _ := c.r.Read(one[:]); k > 0 {
			c.hit = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

// keepMember copies one member into a temp file, bounded by max_bytes (a decompression
// bomb stops there), and validates it like any downloaded body.
func (r *Runner) keepMember(rd io.Reader, m member) (*kept, string) {
	sp, err := r.spool(rd)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, "too_large"
	case err != nil:
		return nil, "archive_invalid"
	}
	kind := Sniff(sp.head, "", m.name)
	reason := ""
	switch kind {
	case KindPDF:
		reason = ValidatePDF(sp.n, sp.head, sp.tail, r.opts.MinPDFBytes)
	case KindXML:
	default:
		reason = "archive_no_fulltext"
	}
	if reason != "" {
		discard(sp.tmp)
		return nil, reason
	}
	return &kept{kind: kind, tmp: sp.tmp, res: result{sha: sp.sum, size: sp.n}}, ""
}
