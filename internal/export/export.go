// Package export turns an output directory's manifest into what people take elsewhere:
// a CSV of every work's outcome, JSON Lines, BibTeX or RIS for a reference manager,
// or a list of ids to feed back to `contentdl run --input -`.
//
// Each work appears once, with its latest manifest record across manifest.jsonl and
// any manifest.shard-I-of-N.jsonl (a later record replaces an earlier one; a
// resume's "skipped" record keeps the saved file's kind). Works are sorted by W-id.
package export

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/docstokg/contentdl/internal/manifest"
)

// Format is an export format.
type Format string

// The formats.
const (
	CSV    Format = "csv"
	JSONL  Format = "jsonl"
	BibTeX Format = "bibtex"
	RIS    Format = "ris"
	IDs    Format = "ids"
)

// Formats lists every format, in the order help text names them.
func Formats() []Format { return []Format{CSV, JSONL, BibTeX, RIS, IDs} }

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("format %q: want one of csv, jsonl, bibtex, ris, ids", s)
}

// Statuses are the outcomes --status selects.
var Statuses = []string{manifest.ClassPDF, manifest.ClassXML, manifest.ClassHTML, manifest.ClassMiss, manifest.ClassDeferred}

// ParseStatus checks a comma-separated --status value; "" selects every work.
func ParseStatus(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	set := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		if !slices.Contains(Statuses, p) {
			return nil, fmt.Errorf("status %q: want a comma-separated list of %s", p, strings.Join(Statuses, ", "))
		}
		set[p] = true
	}
	return set, nil
}

// Work is one exported work: its latest manifest record and its outcome.
type Work struct {
	manifest.Record
	// Outcome is pdf, xml, html, miss, deferred or dry_run. A resume's "skipped"
	// record counts as the kind of the file it kept.
	Outcome string
	// File is the saved file's path joined to the output directory ("" if none).
	File string
}

// ManifestFiles lists OUT's manifest files: manifest.jsonl first (if present), then
// the shard manifests in name order (manifest.Files).
func ManifestFiles(out string) ([]string, error) { return manifest.Files(out) }

// ErrNoManifest says OUT holds no manifest file.
var ErrNoManifest = errors.New("no manifest.jsonl or manifest.shard-*-of-*.jsonl")

// Load reads every manifest of out and returns each work's latest record, sorted by
// W-id. base is joined to each record's path for Work.File (use the absolute OUT).
// Unreadable lines are skipped with a warning on log.
func Load(out, base string, log *slog.Logger) ([]Work, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	files, err := ManifestFiles(out)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: %w", out, ErrNoManifest)
	}
	latest := map[string]manifest.Record{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		err = manifest.Read(f, log.With("file", name), func(r *manifest.Record) error {
			if r.RecordType != manifest.TypeManifest {
				return nil
			}
			if prev, ok := latest[r.WorkID]; ok && r.Timestamp.Before(prev.Timestamp) {
				return nil // shards interleave in time: the later record wins
			}
			latest[r.WorkID] = *r
			return nil
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	works := make([]Work, 0, len(latest))
	for _, r := range latest {
		w := Work{Record: r, Outcome: outcome(&r)}
		if r.Path != "" {
			w.File = filepath.Join(base, filepath.FromSlash(r.Path))
		}
		works = append(works, w)
	}
	slices.SortFunc(works, func(a, b Work) int { return compareIDs(a.WorkID, b.WorkID) })
	return works, nil
}

// outcome is the record's classification, with a skipped (already saved) work counted
// as the kind of its file.
func outcome(r *manifest.Record) string {
	if r.Classification != manifest.ClassSkipped {
		return r.Classification
	}
	switch strings.ToLower(filepath.Ext(r.Path)) {
	case ".xml":
		return manifest.ClassXML
	case ".html", ".htm":
		return manifest.ClassHTML
	}
	return manifest.ClassPDF
}

// Filter keeps the works whose outcome is in statuses (nil keeps all).
func Filter(works []Work, statuses map[string]bool) []Work {
	if statuses == nil {
		return works
	}
	out := works[:0:0]
	for _, w := range works {
		if statuses[w.Outcome] {
			out = append(out, w)
		}
	}
	return out
}

// compareIDs orders W-ids by number (W2 before W10), other ids as text after them.
func compareIDs(a, b string) int {
	na, oka := idNumber(a)
	nb, okb := idNumber(b)
	switch {
	case oka && okb && na != nb:
		if na < nb {
			return -1
		}
		return 1
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func idNumber(id string) (uint64, bool) {
	if len(id) < 2 || id[0] != 'W' {
		return 0, false
	}
	n, err := strconv.ParseUint(id[1:], 10, 64)
	return n, err == nil
}

// Write writes works in format f to w.
func Write(w io.Writer, f Format, works []Work) error {
	switch f {
	case CSV:
		return writeCSV(w, works)
	case JSONL:
		return writeJSONL(w, works)
	case BibTeX:
		return writeBibTeX(w, works)
	case RIS:
		return writeRIS(w, works)
	case IDs:
		return writeIDs(w, works)
	}
	return fmt.Errorf("format %q: unknown", f)
}
