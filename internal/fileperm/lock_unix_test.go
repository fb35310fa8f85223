//go:build unix

package fileperm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
)

// open opens the lock file at path; flock locks belong to open files, so two files
// opened in one process conflict as two processes' would.
func openLock(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := OpenLock(path, Shared)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestTryLockModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	a, b := openLock(t, path), openLock(t, path)

	if err := TryLock(a, LockExclusive); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, LockExclusive); !errors.Is(err, ErrHeld) {
		t.Fatalf("second exclusive lock: %v, want ErrHeld", err)
	}
	if err := TryLock(b, LockShared); !errors.Is(err, ErrHeld) {
		t.Fatalf("shared next to exclusive: %v, want ErrHeld", err)
	}
	Unlock(a)
	if err := TryLock(a, LockShared); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, LockShared); err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	c := openLock(t, path)
	if err := TryLock(c, LockExclusive); !errors.Is(err, ErrHeld) {
		t.Fatalf("exclusive next to shared: %v, want ErrHeld", err)
	}
	a.Close() // closing drops the lock as Unlock does
	Unlock(b)
	if err := TryLock(c, LockExclusive); err != nil {
		t.Fatalf("after every holder left: %v", err)
	}
}

// TestLockWaitTimesOutOnItsClock: the wait for a held lock is measured on the injected
// clock, so a test sees the timeout at once, and the error says how long it waited.
func TestLockWaitTimesOutOnItsClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	holder, waiter := openLock(t, path), openLock(t, path)
	if err := TryLock(holder, LockExclusive); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	start := time.Now()
	err := LockWait(context.Background(), clk, waiter, LockExclusive, 10*time.Second)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "another process holds the lock for more than 10s") {
		t.Fatalf("LockWait on a held lock: %v", err)
	}
	if slept, naps := clk.Slept(); slept < 10*time.Second || naps < 2 {
		t.Errorf("waited %v in %d pauses on the clock, want at least the 10s timeout", slept, naps)
	}
	if real := time.Since(start); real > 5*time.Second {
		t.Errorf("LockWait slept for real: %v", real)
	}
}

// releasingClock lets the holder go on the waiter's third pause.
type releasingClock struct {
	*clock.Fake
	holder *os.File
	naps   int
}

func (c *releasingClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.naps++; c.naps == 3 {
		Unlock(c.holder)
	}
	return c.Fake.Sleep(ctx, d)
}

func TestLockWaitGetsTheLockWhenReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	holder, waiter := openLock(t, path), openLock(t, path)
	if err := TryLock(holder, LockExclusive); err != nil {
		t.Fatal(err)
	}
	clk := &releasingClock{Fake: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)), holder: holder}
	if err := LockWait(context.Background(), clk, waiter, LockExclusive, 10*time.Second); err != nil {
		t.Fatalf("LockWait after the holder left: %v", err)
	}
	if clk.naps != 3 {
		t.Errorf("%d pauses, want 3 (the lock is taken on the poll after the release)", clk.naps)
	}
	// Pauses grow: 1 ms, 2 ms, 4 ms.
	if slept, _ := clk.Slept(); slept != 7*time.Millisecond {
		t.Errorf("slept %v, want 7ms", slept)
	}
	if err := TryLock(holder, LockExclusive); !errors.Is(err, ErrHeld) {
		t.Fatalf("the waiter does not hold the lock: %v", err)
	}
}

func TestLockWaitEndsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	holder, waiter := openLock(t, path), openLock(t, path)
	if err := TryLock(holder, LockExclusive); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := LockWait(ctx, clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)), waiter, LockExclusive, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("LockWait with an ended context: %v", err)
	}
}

func TestOpenLockInAMissingFolderFails(t *testing.T) {
	if _, err := OpenLock(filepath.Join(t.TempDir(), "missing", ".lock"), Shared); err == nil {
		t.Fatal("OpenLock in a missing folder succeeded")
	}
}
