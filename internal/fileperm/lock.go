package fileperm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// LockMode is the kind of advisory lock: many processes may hold LockShared on one
// file at once, and LockExclusive excludes every other lock.
type LockMode int

// The lock modes.
const (
	LockExclusive LockMode = iota
	LockShared
)

// ErrHeld says another open file (of this process or another) holds a conflicting
// lock.
var ErrHeld = errors.New("another process holds the lock")

// Clock is what LockWait needs to pace its polls: internal/clock's clocks satisfy it
// (fileperm is a leaf and does not import them).
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// OpenLock opens the lock file at path for reading and writing, creating it with mode
// perm &^ umask. Lock it with TryLock or LockWait; close it to drop the lock.
func OpenLock(path string, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
}

// TryLock takes an advisory lock on f without waiting: ErrHeld when a conflicting lock
// is held. The kernel drops the lock when f is closed or the process dies, so a killed
// run never leaves one behind. Another failure is returned as the system gave it (the
// caller names the file). Where flock(2) does not exist TryLock does nothing and
// succeeds: two processes are then not kept apart.
func TryLock(f *os.File, how LockMode) error {
	for {
		err := flock(f, how)
		if !interrupted(err) {
			return err
		}
	}
}

// LockWait takes an advisory lock on f, polling with growing pauses (1 ms, doubling,
// at most 50 ms) measured on clk, so a stuck holder cannot hang the caller: after
// timeout it gives up with an error wrapping ErrHeld that says for how long it waited.
// It returns ctx.Err() when ctx ends first.
func LockWait(ctx context.Context, clk Clock, f *os.File, how LockMode, timeout time.Duration) error {
	deadline := clk.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := TryLock(f, how)
		if !errors.Is(err, ErrHeld) {
			return err
		}
		if clk.Now().After(deadline) {
			return fmt.Errorf("%w for more than %v", ErrHeld, timeout)
		}
		if err := clk.Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// Unlock releases f's lock; closing f releases it as well.
func Unlock(f *os.File) { unflock(f) }
