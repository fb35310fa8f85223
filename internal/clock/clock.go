// Package clock abstracts time so that rate limiting, backoff, learning and the fetch
// path's timers can be tested without sleeping. Production code uses Real; tests use
// Fake or Manual. Code that takes a Clock (internal/fetch all through) leaves
// time.Now, time.NewTimer and time.AfterFunc to this package.
package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock tells the time and waits. Sleep returns ctx.Err() when the context ends first.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Timer is a pending call made by AfterFunc.
type Timer interface {
	// Stop cancels the call. It reports whether the call was still pending.
	Stop() bool
	// Reset makes the call due d from now, pending again even if it had fired or had
	// been stopped. It reports whether the call was still pending.
	Reset(d time.Duration) bool
}

// Timers is a Clock that can also call a function later, on its own time.
type Timers interface {
	Clock
	// AfterFunc calls f in its own goroutine (Real, Fake) or from Advance (Manual)
	// once d has passed on the clock.
	AfterFunc(d time.Duration, f func()) Timer
}

// AfterFunc calls f once d has passed on c, when c has timers (Real, Fake and Manual
// do), and on the wall clock otherwise.
func AfterFunc(c Clock, d time.Duration, f func()) Timer {
	if t, ok := c.(Timers); ok {
		return t.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}

// Real is the wall clock.
type Real struct{}

// AfterFunc is time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

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

// AfterFunc calls f after d of wall-clock time. Fake time jumps whenever any goroutine
// sleeps, so a deadline measured on it would fire in the middle of unrelated work (a
// body read cut off because another request backed off for 30s); the timers that guard
// I/O therefore keep real time under Fake. Use Manual to step a timer.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer { return time.AfterFunc(d, fn) }

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
	timers  map[*manualTimer]struct{}
}

type manualSleep struct {
	until time.Time
	done  chan struct{}
}

// NewManual returns a Manual clock at start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, sleeper: map[*manualSleep]struct{}{}, timers: map[*manualTimer]struct{}{}}
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

// Advance moves the clock forward by d, wakes the sleepers that are due, and then
// calls the functions of the timers that are due, earliest first, before it returns.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	if d <= 0 {
		m.mu.Unlock()
		return
	}
	m.now = m.now.Add(d)
	for s := range m.sleeper {
		if !s.until.After(m.now) {
			close(s.done)
			delete(m.sleeper, s)
		}
	}
	var due []*manualTimer
	for t := range m.timers {
		if !t.at.After(m.now) {
			due = append(due, t)
			delete(m.timers, t)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(due, func(a, b *manualTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f() // outside the lock: f may use the clock
	}
}

// AfterFunc calls f from the Advance that moves the clock to now+d or past it. A
// non-positive d is due at the next Advance.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	t := &manualTimer{m: m, f: f}
	t.Reset(d)
	return t
}

// Timers reports how many AfterFunc calls are pending.
func (m *Manual) Timers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

type manualTimer struct {
	m  *Manual
	f  func()
	at time.Time // guarded by m.mu
}

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	_, pending := t.m.timers[t]
	delete(t.m.timers, t)
	return pending
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	_, pending := t.m.timers[t]
	t.at = t.m.now.Add(d)
	t.m.timers[t] = struct{}{}
	return pending
}

// Sleepers reports how many Sleep calls are blocked.
func (m *Manual) Sleepers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sleeper)
}
