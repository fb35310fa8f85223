package clock

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestFakeAdvancesOnSleepAndIsShared(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := f.Now()
			if err := f.Sleep(context.Background(), time.Second); err != nil {
				t.Error(err)
			}
			if f.Now().Sub(before) < time.Second {
				t.Error("woke before its time")
			}
		}()
	}
	wg.Wait()
	if got := f.Now().Sub(start); got != 4*time.Second {
		t.Errorf("clock moved %s, want 4s", got)
	}
	if slept, naps := f.Slept(); slept != 4*time.Second || naps != 4 {
		t.Errorf("Slept() = %s, %d", slept, naps)
	}
	f.Advance(time.Minute)
	if got := f.Now().Sub(start); got != 4*time.Second+time.Minute {
		t.Errorf("after Advance: %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sleep: %v", err)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Real{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Real.Sleep on a cancelled context = %v", err)
	}
	if err := (Real{}).Sleep(context.Background(), 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
}

func TestManualSleepWaitsForAdvance(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- m.Sleep(context.Background(), 10*time.Second) }()
	for m.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	m.Advance(9 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Sleep(10s) returned after 9s: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	m.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- m.Sleep(ctx, time.Hour) }()
	for m.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil || m.Sleepers() != 0 {
		t.Fatalf("cancelled Sleep: err %v, sleepers %d", err, m.Sleepers())
	}
}

func TestManualAfterFuncFiresOnAdvanceInOrder(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	var got []string
	m.AfterFunc(3*time.Second, func() { got = append(got, "3s") })
	m.AfterFunc(time.Second, func() { got = append(got, "1s") })
	stopped := m.AfterFunc(2*time.Second, func() { got = append(got, "stopped") })
	if m.Timers() != 3 {
		t.Fatalf("Timers() = %d, want 3", m.Timers())
	}
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop: want true for a pending timer, then false")
	}
	m.Advance(999 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	m.Advance(5 * time.Second)
	if want := []string{"1s", "3s"}; !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if m.Timers() != 0 {
		t.Errorf("%d timers left after firing", m.Timers())
	}
}

func TestManualTimerResetPostpones(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	fired := 0
	tm := m.AfterFunc(2*time.Second, func() { fired++ })
	m.Advance(time.Second)
	if !tm.Reset(2 * time.Second) { // now due at 3s
		t.Error("Reset of a pending timer reported false")
	}
	m.Advance(time.Second + time.Second/2)
	if fired != 0 {
		t.Fatal("a reset timer fired at its old deadline")
	}
	m.Advance(time.Second)
	if fired != 1 {
		t.Fatalf("fired %d times, want 1", fired)
	}
	if tm.Reset(time.Second) { // fired: no longer pending, but armed again
		t.Error("Reset of a fired timer reported true")
	}
	m.Advance(time.Second)
	if fired != 2 {
		t.Errorf("re-armed timer fired %d times in all, want 2", fired)
	}
}

// A timer function may use the clock: Advance calls it without holding its lock.
func TestManualTimerMayUseTheClock(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	var at time.Time
	var again Timer
	m.AfterFunc(time.Second, func() {
		at = m.Now()
		again = m.AfterFunc(time.Second, func() {})
	})
	m.Advance(time.Second)
	if !at.Equal(time.Unix(1, 0)) || again == nil || m.Timers() != 1 {
		t.Errorf("timer saw %v, re-armed %v, pending %d", at, again != nil, m.Timers())
	}
}

func TestAfterFuncFallsBackToTheWallClock(t *testing.T) {
	var plain struct{ Clock } // a Clock without timers
	done := make(chan struct{})
	AfterFunc(plain, time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("fallback timer never fired")
	}
	var _ Timers = Real{}
	var _ Timers = (*Fake)(nil)
	var _ Timers = (*Manual)(nil)
}
