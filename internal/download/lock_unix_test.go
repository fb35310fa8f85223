//go:build unix

package download

import (
	"errors"
	"testing"

	"github.com/docstokg/contentdl/internal/shard"
)

// TestLockRule checks who may share OUT with whom: shards of one N together, but
// never the same shard twice, a run without a shard next to a shard, or shards of
// two different splits. flock locks belong to open files, so two locks taken in one
// process conflict as two processes' would.
func TestLockRule(t *testing.T) {
	out := t.TempDir()
	none := shard.Shard{}
	s13, s23, s33, s12 := shard.Shard{I: 1, N: 3}, shard.Shard{I: 2, N: 3}, shard.Shard{I: 3, N: 3}, shard.Shard{I: 1, N: 2}
	take := func(s shard.Shard) func() {
		t.Helper()
		unlock, err := lockDir(out, s)
		if err != nil {
			t.Fatalf("lock %q: %v", s, err)
		}
		return unlock
	}
	refused := func(s shard.Shard, why string) {
		t.Helper()
		unlock, err := lockDir(out, s)
		if err == nil {
			unlock()
			t.Fatalf("lock %q succeeded; want it refused (%s)", s, why)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("lock %q: %v, want ErrLocked", s, err)
		}
	}

	u := take(none)
	refused(none, "a second unsharded run")
	refused(s13, "a shard next to an unsharded run")
	u()

	a := take(s13)
	b := take(s23)
	refused(s13, "the same shard twice")
	refused(none, "an unsharded run next to shards")
	refused(s12, "a shard of another split")
	c := take(s33)
	a()
	refused(s12, "a shard of another split, while 2/3 and 3/3 still run")
	b()
	c()

	d := take(s12) // every 3-split shard has ended
	refused(s23, "a 3-split shard next to a 2-split one")
	d()
	take(none)()
}
