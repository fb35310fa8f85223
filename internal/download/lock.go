package download

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/shard"
)

// lockDir locks OUT for one run with advisory locks (fileperm.TryLock, flock(2)), which
// the kernel drops when the process dies, so a killed run never leaves one behind. The
// rule (docs/fleet.md):
//
//   - a run without a shard holds OUT/.lock exclusively: no other run may share OUT;
//   - a run of shard I/N holds OUT/.lock shared, so shards exclude a run without a
//     shard (and are excluded by it) but not each other, and OUT/.lock.shard-I-of-N
//     exclusively, so the same shard cannot run twice;
//   - a shard then checks that no shard of another split (another N) is running: its
//     works overlap this one's. It tries each other .lock.shard-J-of-M (M ≠ N) with a
//     shared lock and lets go at once; one that is held refuses the run.
//
// Every shard takes its own lock before it looks at the others, so of two runs of
// different splits starting together at least one sees the other (both may refuse;
// neither can miss the other). Where flock does not exist the lock files are still
// created (so an unwritable OUT fails here) but nothing is refused.
func lockDir(out string, s shard.Shard) (func(), error) {
	if !s.Enabled() {
		f, err := flockFile(filepath.Join(out, ".lock"), fileperm.LockExclusive)
		if err != nil {
			return nil, lockError(out, err, "another run is using it")
		}
		return func() { unflock(f) }, nil
	}
	dir, err := flockFile(filepath.Join(out, ".lock"), fileperm.LockShared)
	if err != nil {
		return nil, lockError(out, err, "a run without --shard is using it")
	}
	own, err := flockFile(filepath.Join(out, s.FileName(".lock", "")), fileperm.LockExclusive)
	if err != nil {
		unflock(dir)
		return nil, lockError(out, err, "shard "+s.String()+" is already running there")
	}
	others, _ := filepath.Glob(filepath.Join(out, ".lock.shard-*-of-*"))
	for _, p := range others {
		other, ok := shard.FromName(filepath.Base(p), ".lock", "")
		if !ok || other.N == s.N {
			continue
		}
		f, err := flockFile(p, fileperm.LockShared)
		if err != nil {
			unflock(own)
			unflock(dir)
			return nil, lockError(out, err, fmt.Sprintf("shard %s of another split is running there; shards of one OUT must share N", other))
		}
		unflock(f)
	}
	return func() { unflock(own); unflock(dir) }, nil
}

func lockError(out string, err error, why string) error {
	if errors.Is(err, fileperm.ErrHeld) {
		return fmt.Errorf("%w: %s: %s", ErrLocked, out, why)
	}
	return fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
}

// flockFile opens (creating) path and locks it without waiting; fileperm.ErrHeld
// when another run holds it.
func flockFile(path string, how fileperm.LockMode) (*os.File, error) {
	f, err := fileperm.OpenLock(path, fileperm.Shared)
	if err != nil {
		return nil, err
	}
	if err := fileperm.TryLock(f, how); err != nil {
		f.Close()
		if errors.Is(err, fileperm.ErrHeld) {
			return nil, err
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func unflock(f *os.File) {
	fileperm.Unlock(f)
	f.Close()
}
