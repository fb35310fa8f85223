package download

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docstokg/contentdl/internal/shard"
)

// TestResumeManifests: a run reads every manifest in OUT except its own split's
// siblings (which hold none of its works and may be mid-write), and its own file
// comes first even before it exists.
func TestResumeManifests(t *testing.T) {
	out := t.TempDir()
	for _, n := range []string{"manifest.jsonl", "manifest.shard-1-of-3.jsonl", "manifest.shard-2-of-3.jsonl",
		"manifest.shard-3-of-3.jsonl", "manifest.shard-1-of-2.jsonl", "manifest.shard-1-of-3.summary.json"} {
		if err := os.WriteFile(filepath.Join(out, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		s    shard.Shard
		want []string
	}{
		{shard.Shard{}, []string{"manifest.jsonl", "manifest.shard-1-of-2.jsonl", "manifest.shard-1-of-3.jsonl",
			"manifest.shard-2-of-3.jsonl", "manifest.shard-3-of-3.jsonl"}},
		{shard.Shard{I: 2, N: 3}, []string{"manifest.shard-2-of-3.jsonl", "manifest.jsonl", "manifest.shard-1-of-2.jsonl"}},
		{shard.Shard{I: 2, N: 2}, []string{"manifest.shard-2-of-2.jsonl", "manifest.jsonl", "manifest.shard-1-of-3.jsonl",
			"manifest.shard-2-of-3.jsonl", "manifest.shard-3-of-3.jsonl"}},
	} {
		r := New(Options{Out: out, Shard: c.s}, Deps{})
		files, err := r.resumeManifests()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range files {
			got = append(got, filepath.Base(f))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("shard %q reads %v, want %v", c.s, got, c.want)
		}
	}
}

// TestShardTempFolder: a shard spools into and cleans only its own folder under .tmp.
func TestShardTempFolder(t *testing.T) {
	out := t.TempDir()
	other := &store{out: out, sub: "shard-2-of-3"}
	mine := &store{out: out, sub: "shard-1-of-3"}
	for _, s := range []*store{other, mine} {
		if err := s.prepare(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := other.createTemp()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if filepath.Dir(f.Name()) != filepath.Join(out, ".tmp", "shard-2-of-3") {
		t.Errorf("temp file %s is not in its shard's folder", f.Name())
	}
	if n, err := mine.cleanTemp(); err != nil || n != 0 {
		t.Errorf("shard 1 cleaned %d, %v", n, err)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Errorf("shard 1 removed shard 2's temp file: %v", err)
	}
	if n, err := (&store{out: out}).cleanTemp(); err != nil || n != 1 {
		t.Errorf("an unsharded run cleaned %d files, %v; want shard 2's one file", n, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, ".tmp")); len(ents) != 0 {
		t.Errorf(".tmp still holds %d entries after an unsharded run cleaned it", len(ents))
	}
}
