// Package clock abstracts time so that rate limiting, backoff and learning can be
// tested without sleeping. Production code uses Real; tests use Fake.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits. Sleep returns ctx.Err() when the context ends first.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fake is an auto-advancing clock for tests: Sleep returns at once and moves the
// clock forward so that the sleeper wakes no earlier than it asked. Time is shared by
// every goroutine and only moves forward, so a wait that one goroutine observes is
// honoured from every other goroutine's point of view as well.
type Fake struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
	naps  int
}

// NewFake returns a Fake clock that starts at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.now = f.now.Add(d)
	}
}

// Sleep advances the clock by d (measured from now) and returns at once.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.now = f.now.Add(d)
		f.slept += d
		f.naps++
	}
	return nil
}

// Slept reports the total time and the number of positive sleeps requested so far.
func (f *Fake) Slept() (time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slept, f.naps
}
