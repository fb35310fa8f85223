package download

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func readCheckpoint(t *testing.T, out string) checkpointData {
	t.Helper()
	var d checkpointData
	data, err := os.ReadFile(filepath.Join(out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// The checkpoint points at the earliest page with unfinished works, never past a
// page whose works are not all delivered and finished.
func TestCheckpointCursorFollowsUnfinishedWorks(t *testing.T) {
	out := t.TempDir()
	now := func() time.Time { return time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) }
	cp, from := openCheckpoint(filepath.Join(out, CheckpointFile), "q=1", now)
	if from != "" {
		t.Fatalf("fresh checkpoint resumes from %q", from)
	}
	cp.onPage("*", 1, "c2")
	cp.delivered("W1")
	cp.delivered("W2")
	cp.onPage("c2", 2, "c4")
	cp.delivered("W3")
	if d := readCheckpoint(t, out); d.Cursor != "*" {
		t.Fatalf("page 1 unfinished, checkpoint at %q", d.Cursor)
	}
	cp.finished("W2")
	cp.finished("W1")
	if d := readCheckpoint(t, out); d.Cursor != "c2" || d.Page != 2 {
		t.Fatalf("page 1 finished, checkpoint %+v, want c2", d)
	}
	cp.finished("W3")
	// Page 2 is finished, but page 3 was not fetched: resume re-reads page 2.
	if d := readCheckpoint(t, out); d.Cursor != "c2" {
		t.Fatalf("checkpoint %+v, want c2", d)
	}
	cp.finished("W-unknown") // ignored
	_, from = openCheckpoint(filepath.Join(out, CheckpointFile), "q=1", now)
	if from != "c2" {
		t.Fatalf("resume from %q, want c2", from)
	}
	// Another query, or a complete search, starts from the beginning.
	if _, from := openCheckpoint(filepath.Join(out, CheckpointFile), "q=2", now); from != "" {
		t.Fatalf("another query resumes from %q", from)
	}
	cp.complete()
	if _, from := openCheckpoint(filepath.Join(out, CheckpointFile), "q=1", now); from != "" {
		t.Fatalf("a complete search resumes from %q", from)
	}
	// A damaged file is ignored.
	os.WriteFile(filepath.Join(out, CheckpointFile), []byte("{torn"), 0o644)
	if _, from := openCheckpoint(filepath.Join(out, CheckpointFile), "q=1", now); from != "" {
		t.Fatalf("a damaged checkpoint resumes from %q", from)
	}
}
