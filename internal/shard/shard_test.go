package shard

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	good := map[string]Shard{"1/3": {1, 3}, "3/3": {3, 3}, " 2 / 4 ": {2, 4}, "1/1": {1, 1}, "": {}}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"0/3": "between 1 and N", "4/3": "between 1 and N", "-1/3": "between 1 and N",
		"x": "must be I/N", "3": "must be I/N", "1/0": "at least 1", "a/b": "whole numbers",
		"1/3/5": "whole numbers", "1/": "whole numbers", "1/20000": "at most",
	}
	for in, want := range bad {
		if got, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, %v; want an error saying %q", in, got, err, want)
		}
	}
}

// TestHashIsTheDocumentedFNV1a pins the hash to values computed by the Python recipe
// in the package comment, so other tools can reproduce the partition.
func TestHashIsTheDocumentedFNV1a(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id       string
		hash     uint64
		of3, of4 int
	}{
		{"W2741809807", 0xff39fea311f15652, 1, 3},
		{"W1", 0x09380707b5c97365, 3, 2},
		{"W3123456789", 0xc9337fec6f611b42, 2, 3},
	} {
		if h := Hash(c.id); h != c.hash {
			t.Errorf("Hash(%s) = %#x, want %#x", c.id, h, c.hash)
		}
		if got := Of(c.id, 3); got != c.of3 {
			t.Errorf("Of(%s, 3) = %d, want %d", c.id, got, c.of3)
		}
		if got := Of(c.id, 4); got != c.of4 {
			t.Errorf("Of(%s, 4) = %d, want %d", c.id, got, c.of4)
		}
	}
}

func TestCanonicalFormsShareAShard(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"w2741809807", "https://openalex.org/W2741809807", "openalex.org/W2741809807",
		" W2741809807 ", "https://api.openalex.org/works/W2741809807"} {
		if c := Canonical(id); c != "W2741809807" {
			t.Errorf("Canonical(%q) = %q", id, c)
		}
		if Hash(id) != Hash("W2741809807") {
			t.Errorf("Hash(%q) differs from Hash(W2741809807)", id)
		}
	}
	if c := Canonical("10.1000/xyz"); c != "10.1000/xyz" {
		t.Errorf("a non-W id changed: %q", c)
	}
}

// TestPartition checks that every work is in exactly one shard of N, for several N,
// and that the shards are close to even.
func TestPartition(t *testing.T) {
	t.Parallel()
	const works = 30000
	for _, n := range []int{1, 2, 3, 4, 7, 16} {
		counts := make([]int, n+1)
		for w := 1; w <= works; w++ {
			id := fmt.Sprintf("W%d", 2000000000+w*7919)
			in := 0
			for i := 1; i <= n; i++ {
				if (Shard{I: i, N: n}).Contains(id) {
					in++
					counts[i]++
				}
			}
			if in != 1 {
				t.Fatalf("N=%d: %s is in %d shards", n, id, in)
			}
			if !(Shard{}).Contains(id) {
				t.Fatalf("the zero shard does not contain %s", id)
			}
		}
		even := float64(works) / float64(n)
		for i := 1; i <= n; i++ {
			if d := float64(counts[i]) - even; d > 0.05*even || d < -0.05*even {
				t.Errorf("N=%d: shard %d has %d works, want about %.0f", n, i, counts[i], even)
			}
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	s := Shard{I: 2, N: 3}
	if s.String() != "2/3" || s.Tag() != "shard-2-of-3" || s.FileName("manifest", ".jsonl") != "manifest.shard-2-of-3.jsonl" {
		t.Errorf("names of 2/3: %q %q %q", s.String(), s.Tag(), s.FileName("manifest", ".jsonl"))
	}
	var z Shard
	if z.Enabled() || z.String() != "" || z.Tag() != "" || z.FileName("manifest", ".jsonl") != "manifest.jsonl" {
		t.Errorf("names of the zero shard: %q %q %q", z.String(), z.Tag(), z.FileName("manifest", ".jsonl"))
	}
}

func TestFromName(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 12} {
		for i := 1; i <= n; i++ {
			s := Shard{I: i, N: n}
			if got, ok := FromName(s.FileName("manifest", ".jsonl"), "manifest", ".jsonl"); !ok || got != s {
				t.Errorf("FromName(%s) = %v, %v", s.FileName("manifest", ".jsonl"), got, ok)
			}
			if got, ok := FromName(s.FileName(".lock", ""), ".lock", ""); !ok || got != s {
				t.Errorf("FromName(%s) = %v, %v", s.FileName(".lock", ""), got, ok)
			}
		}
	}
	for _, name := range []string{"manifest.jsonl", "manifest.shard-0-of-3.jsonl", "manifest.shard-4-of-3.jsonl",
		"manifest.shard-1-of-3.summary.json", "manifest.shard-1-of-3.jsonl.tmp", "manifest.shard-x-of-3.jsonl",
		"manifest.shard- 1-of-3.jsonl", "other.shard-1-of-3.jsonl"} {
		if s, ok := FromName(name, "manifest", ".jsonl"); ok {
			t.Errorf("FromName(%q) = %v, want no shard", name, s)
		}
	}
}
