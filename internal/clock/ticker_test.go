package clock

import (
	"context"
	"testing"
	"time"
)

func noTick(t *testing.T, tk *Ticker) {
	t.Helper()
	select {
	case at := <-tk.C:
		t.Fatalf("ticked at %s before its time", at)
	default:
	}
}

func TestFakeTickerFollowsFakeTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tk := NewTicker(f, 10*time.Second)
	defer tk.Stop()
	f.Advance(9 * time.Second)
	noTick(t, tk)
	_ = f.Sleep(context.Background(), time.Second) // a sleeper moves the time too
	if at := <-tk.C; !at.Equal(start.Add(10 * time.Second)) {
		t.Errorf("tick at %s, want %s", at, start.Add(10*time.Second))
	}
	// A jump over three periods gives one tick (dropped, not queued), and the next
	// comes a period after the last one passed.
	f.Advance(35 * time.Second)
	<-tk.C
	noTick(t, tk)
	f.Advance(4 * time.Second) // t=49s: the next tick is at 50s
	noTick(t, tk)
	f.Advance(time.Second)
	<-tk.C
	tk.Stop()
	f.Advance(time.Minute)
	noTick(t, tk)
	if got := f.Now().Sub(start); got != 110*time.Second {
		t.Errorf("the ticker moved the fake time: %s", got)
	}
}

func TestManualTickerWaitsForAdvance(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(start)
	tk := NewTicker(m, time.Second)
	for m.Sleepers() == 0 { // the ticker's goroutine is waiting on the clock
		time.Sleep(time.Millisecond)
	}
	noTick(t, tk)
	m.Advance(time.Second)
	if at := <-tk.C; !at.Equal(start.Add(time.Second)) {
		t.Errorf("tick at %s", at)
	}
	tk.Stop()
	tk.Stop() // twice is fine
	if n := m.Sleepers(); n != 0 {
		t.Errorf("%d sleepers after Stop", n)
	}
}

func TestRealTickerTicks(t *testing.T) {
	tk := NewTicker(Real{}, time.Millisecond)
	defer tk.Stop()
	<-tk.C
}
