package download

import (
	"strings"
	"testing"
)

// Different work ids never share a file name, however hostile: otherwise the second
// work's file replaces the first's and the first's manifest record points at bytes
// with another sha256 (found by the CLI hostile-input test with the ids ".." and ".",
// which both became "unknown").
func TestFileNameDistinctForDistinctIDs(t *testing.T) {
	ids := []string{"", ".", "..", "/", "W1", "W-1", "W1/", "w1", "../W1", "W1\x00",
		"W" + strings.Repeat("9", 40), "W" + strings.Repeat("9", 41), "Wü1", "CON", "con"}
	seen := map[string]string{}
	for _, id := range ids {
		name := FileName(2020, "Same title", id, KindPDF)
		if other, dup := seen[name]; dup {
			t.Errorf("ids %q and %q share the file name %s", other, id, name)
		}
		seen[name] = id
		if strings.ContainsAny(name, "/\\\x00") || len(name) > 255 {
			t.Errorf("id %q: unsafe name %q", id, name)
		}
	}
	// A well-formed OpenAlex id is kept as it is.
	if got := FileName(2020, "T", "W2741809807", KindPDF); got != "2020__t__W2741809807.pdf" {
		t.Errorf("FileName = %q", got)
	}
}

func FuzzFileName(f *testing.F) {
	for _, s := range []string{"W1", "..", "../../etc/passwd", "W1\x00", strings.Repeat("é", 100)} {
		f.Add(2020, s, s)
	}
	f.Fuzz(func(t *testing.T, year int, title, id string) {
		name := FileName(year, title, id, KindPDF)
		if strings.ContainsAny(name, "/\\\x00") || len(name) > 255 || strings.HasPrefix(name, ".") {
			t.Fatalf("FileName(%d, %q, %q) = %q is not a safe name", year, title, id, name)
		}
		if name != FileName(year, title, id, KindPDF) {
			t.Fatal("FileName is not deterministic")
		}
	})
}
