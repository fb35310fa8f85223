// Package manifest writes and reads OUT/manifest.jsonl (manifest.shard-I-of-N.jsonl for
// a sharded run), the append-only record of every attempt and of each work's outcome
// per run, and builds the resume index from them.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// SchemaVersion is written into every record.
const SchemaVersion = 1

// Record types.
const (
	TypeAttempt  = "attempt"
	TypeManifest = "manifest"
)

// Classifications of a manifest record.
const (
	ClassPDF      = "pdf"
	ClassXML      = "xml"
	ClassHTML     = "html"
	ClassMiss     = "miss"
	ClassDeferred = "deferred"
	ClassSkipped  = "skipped"
	ClassDryRun   = "dry_run"
)

// Record is one line of manifest.jsonl.
type Record struct {
	RecordType      string    `json:"record_type"`
	SchemaVersion   int       `json:"schema_version"`
	RunID           string    `json:"run_id"`
	Timestamp       time.Time `json:"timestamp"`
	WorkID          string    `json:"work_id"`
	DOI             string    `json:"doi,omitempty"`
	Title           string    `json:"title,omitempty"`
	Authors         []string  `json:"authors,omitempty"` // display names, in order (OpenAlex authorships)
	PublicationYear int       `json:"publication_year,omitempty"`
	Resolver        string    `json:"resolver,omitempty"`
	URL             string    `json:"url,omitempty"`
	HTTPStatus      int       `json:"http_status,omitempty"`
	Classification  string    `json:"classification"`
	Reason          string    `json:"reason,omitempty"`
	Path            string    `json:"path,omitempty"`
	SHA256          string    `json:"sha256,omitempty"`
	ContentLength   int64     `json:"content_length,omitempty"`
	ElapsedMS       int64     `json:"elapsed_ms"`
	Operation       string    `json:"operation,omitempty"`
	Decision        string    `json:"decision,omitempty"`
	ETag            string    `json:"etag,omitempty"`
	LastModified    string    `json:"last_modified,omitempty"`
	// PreviousPath, PreviousClassification and PreviousSHA256 name the XML or HTML
	// file that an upgrade to PDF left in place (reason "upgraded").
	PreviousPath           string `json:"previous_path,omitempty"`
	PreviousClassification string `json:"previous_classification,omitempty"`
	PreviousSHA256         string `json:"previous_sha256,omitempty"`
}

// Saved reports whether the record points at a file that a run stored.
func (r *Record) Saved() bool {
	return r.Path != "" && r.SHA256 != "" && r.Classification != ClassMiss
}

// Writer appends records to a manifest file. Each record is written with one write
// call so that a crash leaves at most one torn last line. It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	f   *os.File
	buf bytes.Buffer
	enc *json.Encoder // writes into buf; made once, not per record
	err error
}

// OpenWriter opens path for appending, creating it with mode perm &^ umask (the
// downloader passes fileperm.Shared, the mode of every file under OUT). If the file
// ends in a torn line, a newline is written first so that the next record starts on
// its own line.
func OpenWriter(path string, perm os.FileMode) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, perm)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	if st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil {
			f.Close()
			return nil, fmt.Errorf("open manifest: %w", err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, fmt.Errorf("open manifest: %w", err)
			}
		}
	}
	w := &Writer{f: f}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	return w, nil
}

// Write appends one record. The first error sticks and is returned by every later call.
func (w *Writer) Write(r *Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	r.SchemaVersion = SchemaVersion
	w.buf.Reset()
	if err := w.enc.Encode(r); err != nil {
		return fmt.Errorf("encode manifest record: %w", err)
	}
	if _, err := w.f.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write manifest: %w", err)
	}
	return w.err
}

// Close syncs and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.err
	}
	serr := w.f.Sync()
	cerr := w.f.Close()
	w.f = nil
	return errors.Join(w.err, serr, cerr)
}

// maxLine bounds one manifest line; longer lines are skipped as corrupt.
const maxLine = 1 << 20

// Read calls fn for every well-formed record in r, in order. Lines that do not parse
// (a torn last line after a crash, or damage elsewhere) are skipped with a warning.
func Read(r io.Reader, log *slog.Logger, fn func(*Record) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	lineNo := 0
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			lineNo++
			var rec Record
			if jerr := json.Unmarshal(line, &rec); jerr != nil || rec.RecordType == "" || rec.WorkID == "" {
				log.Warn("skipping unreadable manifest line", "line", lineNo, "bytes", len(line))
			} else if ferr := fn(&rec); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
	}
}

// readLine returns the next line without its newline; an over-long line is returned
// truncated (and so fails to parse) while the rest of it is discarded.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out)+len(chunk) <= maxLine {
			out = append(out, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(out, "\r\n"), err
	}
}

// Index is the resume view of a manifest: the latest manifest record of each work.
type Index struct {
	latest map[string]*Record
}

// Latest returns the most recent manifest record for a work.
func (x *Index) Latest(workID string) (*Record, bool) {
	if x == nil {
		return nil, false
	}
	r, ok := x.latest[workID]
	return r, ok
}

// Len is the number of works with a manifest record.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.latest)
}

// Each calls fn for every work's latest record, in no particular order.
func (x *Index) Each(fn func(*Record)) {
	if x == nil {
		return
	}
	for _, r := range x.latest {
		fn(r)
	}
}

// LoadIndex reads the manifest at path. A missing file gives an empty index.
func LoadIndex(path string, log *slog.Logger) (*Index, error) {
	return LoadIndexFiles([]string{path}, log)
}

// LoadIndexFiles reads several manifests (an output directory's manifest.jsonl and
// its shard manifests, see Files) into one index. Within a file a later line replaces
// an earlier one; across files the record with the later timestamp wins, and of two
// equal timestamps the one in the later file. Missing files are skipped.
func LoadIndexFiles(paths []string, log *slog.Logger) (*Index, error) {
	x := &Index{latest: map[string]*Record{}}
	from := map[string]int{} // work id → index of the file its latest record came from
	for i, path := range paths {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open manifest: %w", err)
		}
		flog := log
		if len(paths) > 1 && log != nil {
			flog = log.With("file", filepath.Base(path))
		}
		err = Read(f, flog, func(r *Record) error {
			if r.RecordType != TypeManifest {
				return nil
			}
			if prev, ok := x.latest[r.WorkID]; ok && from[r.WorkID] != i && r.Timestamp.Before(prev.Timestamp) {
				return nil
			}
			x.latest[r.WorkID], from[r.WorkID] = r, i
			return nil
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return x, nil
}

// FileName is the manifest of an unsharded run, in OUT.
const FileName = "manifest.jsonl"

// ShardGlob matches the manifests of sharded runs (manifest.shard-I-of-N.jsonl).
const ShardGlob = "manifest.shard-*-of-*.jsonl"

// Files lists OUT's manifest files: manifest.jsonl first (if present), then the shard
// manifests in name order.
func Files(out string) ([]string, error) {
	var files []string
	main := filepath.Join(out, FileName)
	if _, err := os.Stat(main); err == nil {
		files = append(files, main)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	shards, err := filepath.Glob(filepath.Join(out, ShardGlob))
	if err != nil {
		return nil, err
	}
	slices.Sort(shards)
	return append(files, shards...), nil
}
