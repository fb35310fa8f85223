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
	mu      sync.Mutex
	now     time.Time
	slept   time.Duration
	naps    int
	tickers map[*fakeTicker]struct{} // ticker.go
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
		f.fireTickers()
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
		f.fireTickers()
	}
	return nil
}

// Slept reports the total time and the number of positive sleeps requested so far.
func (f *Fake) Slept() (time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slept, f.naps
}

// Manual is a clock that moves only when the test says so: Sleep blocks until Advance
// (or Set) moves the time past its deadline, or its context ends. Tests use it to hold
// time still while real requests run, and to watch what happens when a window ends.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	sleeper map[*manualSleep]struct{}
}

type manualSleep struct {
	until time.Time
	done  chan struct{}
}

// NewManual returns a Manual clock at start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, sleeper: map[*manualSleep]struct{}{}}
}

// Now returns the manual time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Sleep blocks until the clock reaches now+d or ctx ends.
func (m *Manual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	m.mu.Lock()
	s := &manualSleep{until: m.now.Add(d), done: make(chan struct{})}
	m.sleeper[s] = struct{}{}
	m.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		delete(m.sleeper, s)
		m.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock forward by d and wakes the sleepers that are due.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d <= 0 {
		return
	}
	m.now = m.now.Add(d)
	for s := range m.sleeper {
		if !s.until.After(m.now) {
			close(s.done)
			delete(m.sleeper, s)
		}
	}
}

// Sleepers reports how many Sleep calls are blocked.
func (m *Manual) Sleepers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sleeper)
}
