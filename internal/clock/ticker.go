package clock

import (
	"context"
	"sync"
	"time"
)

// Ticker delivers the clock's time on C every period, like time.Ticker: a tick the
// reader is not ready for is dropped, not queued. Stop ends it; C is not closed.
type Ticker struct {
	C    <-chan time.Time
	stop func()
}

// Stop ends the ticker. It is safe to call more than once.
func (t *Ticker) Stop() { t.stop() }

// ticking is a clock that makes its own tickers.
type ticking interface {
	newTicker(d time.Duration) *Ticker
}

// NewTicker returns a ticker that follows c: the wall clock for Real, the moves of
// the test's time for Fake and Manual. A clock of another kind ticks through its
// Sleep. d must be positive.
func NewTicker(c Clock, d time.Duration) *Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period")
	}
	if tc, ok := c.(ticking); ok {
		return tc.newTicker(d)
	}
	return sleepTicker(c, d)
}

func (Real) newTicker(d time.Duration) *Ticker {
	t := time.NewTicker(d)
	return &Ticker{C: t.C, stop: t.Stop}
}

// sleepTicker ticks through c.Sleep in a goroutine, for a clock whose Sleep blocks
// until its time has come (Manual, or a caller's own clock).
func sleepTicker(c Clock, d time.Duration) *Ticker {
	ch := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c.Sleep(ctx, d) == nil {
			select {
			case ch <- c.Now():
			default:
			}
		}
	}()
	var once sync.Once
	return &Ticker{C: ch, stop: func() { once.Do(func() { cancel(); <-done }) }}
}

func (m *Manual) newTicker(d time.Duration) *Ticker { return sleepTicker(m, d) }

// fakeTicker is a ticker on a Fake clock: it fires when the fake time passes next.
type fakeTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Time
}

// newTicker on a Fake ticks as the fake time moves (by Sleep or Advance); it never
// moves the time itself, so a ticker alone cannot make a Fake clock run away.
func (f *Fake) newTicker(d time.Duration) *Ticker {
	ft := &fakeTicker{c: make(chan time.Time, 1), period: d}
	f.mu.Lock()
	ft.next = f.now.Add(d)
	if f.tickers == nil {
		f.tickers = map[*fakeTicker]struct{}{}
	}
	f.tickers[ft] = struct{}{}
	f.mu.Unlock()
	return &Ticker{C: ft.c, stop: func() {
		f.mu.Lock()
		delete(f.tickers, ft)
		f.mu.Unlock()
	}}
}

// fireTickers sends one tick to each ticker whose time has come and sets its next
// one after the current time. Called with f.mu held.
func (f *Fake) fireTickers() {
	for ft := range f.tickers {
		if f.now.Before(ft.next) {
			continue
		}
		select {
		case ft.c <- f.now:
		default:
		}
		for !f.now.Before(ft.next) {
			ft.next = ft.next.Add(ft.period)
		}
	}
}
