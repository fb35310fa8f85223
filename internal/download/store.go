package download

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/docstokg/contentdl/internal/fileperm"
)

// Output folder names under OUT.
const (
	dirPDF  = "PDF"
	dirXML  = "XML"
	dirHTML = "HTML"
	dirTmp  = ".tmp"
)

func kindDir(k Kind) string {
	switch k {
	case KindPDF:
		return dirPDF
	case KindXML:
		return dirXML
	}
	return dirHTML
}

// maxSlug bounds the title part of a file name, in bytes.
const maxSlug = 80

// Slug turns a title into a safe, bounded file-name part: lower-case ASCII letters and
// digits joined by single hyphens, at most 80 bytes, never empty.
func Slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= maxSlug {
				break
			}
			continue
		}
		dash = true
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > maxSlug {
		s = strings.TrimRight(s[:maxSlug], "-")
	}
	if s == "" {
		return "untitled"
	}
	return s
}

// safeID keeps an identifier to ASCII letters and digits, at most 32 of them, so it
// cannot name a path. An id that had to be changed to fit (OpenAlex's W123 never
// does) gets a short hash of the original appended, so that two different ids never
// share a file name.
func safeID(id string) string {
	var b strings.Builder
	changed := false
	for _, r := range id {
		if r >= utf8.RuneSelf || (!unicode.IsLetter(r) && !unicode.IsDigit(r)) {
			changed = true
			continue
		}
		if b.Len() >= 32 {
			changed = true
			break
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		b.WriteString("unknown")
		changed = true
	}
	if changed {
		sum := sha256.Sum256([]byte(id))
		b.WriteString("-" + hex.EncodeToString(sum[:4]))
	}
	return b.String()
}

// FileName is {year|noyear}__{slug(title)}__{W-id}.{ext}.
func FileName(year int, title, workID string, k Kind) string {
	y := "noyear"
	if year > 0 && year < 10000 {
		y = strconv.Itoa(year)
	}
	return y + "__" + Slug(title) + "__" + safeID(workID) + "." + k.String()
}

// store owns OUT: its output folders and its temp folder.
type store struct {
	out string
	sub string // a shard's own folder under .tmp ("" = .tmp itself), so shards sharing OUT never clean each other's temp files

	// creating serializes the creation of temp files. The kernel creates files in one
	// folder one at a time anyway (under the folder's lock), and a thread waiting for
	// that lock spins on a CPU first; on ext4, where creating a file can take long
	// (it searches the inode bitmap), 16 workers spent a tenth of the run's CPU
	// spinning there (bench/profiles/README.md). A goroutine waiting here sleeps.
	creating sync.Mutex
	// dirs makes renames into PDF, XML and HTML durable, in groups (dirsync.go).
	dirs [3]dirSync
}

// dirSyncOf is the group sync of kind k's output folder.
func (s *store) dirSyncOf(k Kind) *dirSync {
	switch k {
	case KindPDF:
		return &s.dirs[0]
	case KindXML:
		return &s.dirs[1]
	}
	return &s.dirs[2]
}

func (s *store) tmpDir() string { return filepath.Join(s.out, dirTmp, s.sub) }

func (s *store) prepare() error {
	for _, d := range []string{"", dirPDF, dirXML, dirHTML, filepath.Join(dirTmp, s.sub)} {
		if err := os.MkdirAll(filepath.Join(s.out, d), 0o755); err != nil {
			return fmt.Errorf("output directory %s: %w", s.out, err)
		}
	}
	probe, err := os.CreateTemp(s.tmpDir(), "probe-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", s.out, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return err
	}
	// OUT and its output folders may be new: make them durable before a record can
	// name a file in them.
	syncDir(s.out)
	syncDir(filepath.Dir(s.out))
	return nil
}

// cleanTemp removes leftovers of an earlier run that was killed. It returns how many.
// A shard cleans its own folder; a run without a shard (which excludes every shard,
// lock_unix.go) cleans the whole of .tmp.
func (s *store) cleanTemp() (int, error) {
	dir := s.tmpDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		left := 1
		if e.IsDir() {
			// a shard's folder: what counts is the files left in it
			sub, _ := os.ReadDir(p)
			left = len(sub)
		}
		if err := os.RemoveAll(p); err == nil {
			n += left
		}
	}
	return n, nil
}

// createTemp makes the temp file a body is streamed into. It is created with
// fileperm.Shared, so the file renamed into place is 0666 &^ umask.
func (s *store) createTemp() (*os.File, error) {
	s.creating.Lock()
	defer s.creating.Unlock()
	return fileperm.CreateTemp(s.tmpDir(), "dl-*.part", fileperm.Shared)
}

// commit fsyncs and closes the temp file, renames it into place atomically, and syncs
// the folder it went to (with the other renames into that folder at the same moment:
// dirsync.go). When it returns, the file and its name are durable, so a manifest
// record written after it never names a file that a power cut could take away
// (docs/reliability.md). It returns the path relative to OUT.
func (s *store) commit(tmp *os.File, k Kind, name string) (string, error) {
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	rel := filepath.Join(kindDir(k), name)
	final := filepath.Join(s.out, rel)
	if err := rename(tmp.Name(), final); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	d := s.dirSyncOf(k)
	d.sync(filepath.Join(s.out, kindDir(k)))
	return filepath.ToSlash(rel), nil
}

// syncDirs syncs OUT and its output folders once more at the end of the run, for
// the manifest and the summary, which live in OUT.
func (s *store) syncDirs() {
	for _, d := range []string{dirPDF, dirXML, dirHTML, ""} {
		if f, err := os.Open(filepath.Join(s.out, d)); err == nil {
			f.Sync()
			f.Close()
		}
	}
}

func discard(tmp *os.File) {
	if tmp != nil {
		tmp.Close()
		os.Remove(tmp.Name())
	}
}

// verify reports whether OUT/rel exists with the given sha256.
func (s *store) verify(rel, sum string) bool {
	p, ok := s.resolve(rel)
	if !ok {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}

// resolve maps a manifest path to a file inside OUT, refusing anything that would
// escape it.
func (s *store) resolve(rel string) (string, bool) {
	if rel == "" || filepath.IsAbs(rel) || strings.ContainsRune(rel, 0) {
		return "", false
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if clean == "." || strings.HasPrefix(clean, "..") {
		return "", false
	}
	return filepath.Join(s.out, clean), true
}
