package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIndexOverShardManifests builds the resume index from manifest.jsonl and two
// shard manifests: every work is found, the later record wins across files, and a
// later line of the same file wins even with an earlier timestamp (a clock that
// stepped back).
func TestIndexOverShardManifests(t *testing.T) {
	out := t.TempDir()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	write := func(name string, recs ...*Record) {
		w, err := OpenWriter(filepath.Join(out, name), 0o666)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			r.RecordType = TypeManifest
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName,
		&Record{WorkID: "W1", RunID: "main-old", Timestamp: t0, Classification: ClassMiss},
		&Record{WorkID: "W2", RunID: "main-new", Timestamp: t0.Add(3 * time.Hour), Classification: ClassMiss})
	write("manifest.shard-1-of-2.jsonl",
		&Record{WorkID: "W1", RunID: "s1", Timestamp: t0.Add(time.Hour), Classification: ClassPDF, Path: "PDF/a.pdf", SHA256: "x"},
		&Record{WorkID: "W3", RunID: "s1-a", Timestamp: t0.Add(2 * time.Hour), Classification: ClassMiss},
		&Record{WorkID: "W3", RunID: "s1-b", Timestamp: t0.Add(time.Hour), Classification: ClassMiss})
	write("manifest.shard-2-of-2.jsonl",
		&Record{WorkID: "W2", RunID: "s2", Timestamp: t0.Add(time.Hour), Classification: ClassPDF},
		&Record{WorkID: "W4", RunID: "s2", Timestamp: t0, Classification: ClassXML})
	if err := os.WriteFile(filepath.Join(out, "manifest.summary.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	files, err := Files(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{FileName, "manifest.shard-1-of-2.jsonl", "manifest.shard-2-of-2.jsonl"}
	if len(files) != len(want) {
		t.Fatalf("Files = %v", files)
	}
	for i := range want {
		if filepath.Base(files[i]) != want[i] {
			t.Errorf("Files[%d] = %s, want %s", i, files[i], want[i])
		}
	}
	idx, err := LoadIndexFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, run := range map[string]string{"W1": "s1", "W2": "main-new", "W3": "s1-b", "W4": "s2"} {
		if r, ok := idx.Latest(id); !ok || r.RunID != run {
			t.Errorf("latest %s = %+v, want run %s", id, r, run)
		}
	}
	if idx.Len() != 4 {
		t.Errorf("index holds %d works, want 4", idx.Len())
	}
	if files, err := Files(t.TempDir()); err != nil || len(files) != 0 {
		t.Errorf("Files of an empty OUT = %v, %v", files, err)
	}
}
