package manifest

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriterReaderRoundTripAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.jsonl")
	w, err := OpenWriter(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Write(&Record{RecordType: TypeManifest, RunID: "r1", Timestamp: ts, WorkID: "W" + string(rune('A'+i%26)),
				Classification: ClassPDF, Path: "PDF/x.pdf", SHA256: "ab"})
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash leaves a torn last line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"record_type":"manifest","work_id":"W9","classif`)
	f.Close()

	var logs bytes.Buffer
	n := 0
	f2, _ := os.Open(path)
	err = Read(f2, slog.New(slog.NewTextHandler(&logs, nil)), func(r *Record) error {
		n++
		if r.SchemaVersion != SchemaVersion || r.RunID != "r1" || !r.Saved() {
			t.Errorf("bad record %+v", r)
		}
		return nil
	})
	f2.Close()
	if err != nil || n != 50 {
		t.Fatalf("read %d records, err %v; want 50", n, err)
	}
	if !strings.Contains(logs.String(), "skipping unreadable manifest line") {
		t.Errorf("no warning for the torn line: %q", logs.String())
	}

	// Appending after the torn line starts a fresh line, so the new record survives.
	w2, err := OpenWriter(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	w2.Write(&Record{RecordType: TypeManifest, RunID: "r2", WorkID: "W9", Classification: ClassMiss, Reason: "no_oa_candidates"})
	w2.Close()
	idx, err := LoadIndex(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := idx.Latest("W9")
	if !ok || r.RunID != "r2" || r.Saved() {
		t.Errorf("latest W9 = %+v %v", r, ok)
	}
	if idx.Len() != 27 {
		t.Errorf("index has %d works, want 27", idx.Len())
	}
}

func TestLoadIndexMissingFile(t *testing.T) {
	idx, err := LoadIndex(filepath.Join(t.TempDir(), "none.jsonl"), nil)
	if err != nil || idx.Len() != 0 {
		t.Fatalf("missing manifest: %v, %d", err, idx.Len())
	}
}

func TestReadSkipsOverlongAndGarbageLines(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(strings.Repeat("x", maxLine+10) + "\n")
	b.WriteString("not json\n")
	b.WriteString(`{"record_type":"attempt","work_id":"W1","classification":"miss"}` + "\n")
	b.WriteString(`{"record_type":"attempt"}` + "\n") // no work id
	n := 0
	if err := Read(&b, nil, func(*Record) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"record_type":"manifest","work_id":"W1","classification":"pdf"}` + "\n{\"x"))
	f.Add([]byte("\n\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Read(bytes.NewReader(data), nil, func(r *Record) error {
			if r.RecordType == "" || r.WorkID == "" {
				t.Fatalf("Read passed an incomplete record: %+v", r)
			}
			return nil
		})
	})
}
