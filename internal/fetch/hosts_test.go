package fetch

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// These tests drive a host's admission with explicit times: no goroutines, no sleeping.

func mustAdmit(t *testing.T, h *host, now time.Time) *Permit {
	t.Helper()
	p, at, err := h.admit(now, time.Minute)
	if err != nil || p == nil {
		t.Fatalf("admit at +%s: permit %v, retry at %v, err %v; want a permit", now.Sub(start()), p, at, err)
	}
	p.use()
	return p
}

func mustWait(t *testing.T, h *host, now time.Time) time.Time {
	t.Helper()
	p, at, err := h.admit(now, time.Minute)
	if err != nil || p != nil {
		t.Fatalf("admit at +%s: permit %v, err %v; want to wait", now.Sub(start()), p, err)
	}
	return at
}

func TestSlowStartOneRequestUntilFirstAnswer(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 100, Burst: 10, Concurrency: 4})
	first := mustAdmit(t, h, now)
	if !first.probe {
		t.Fatal("the first request to a new host is not its probe")
	}
	// Tokens and slots are free, but nothing else goes before the probe's answer.
	if at := mustWait(t, h, now); !at.IsZero() {
		t.Fatalf("second request waits until %v, want 'until the probe is answered'", at)
	}
	h.answered(first, now, 200)
	// Then the configured concurrency: three more at once (4 in flight), not a fifth.
	for range 3 {
		mustAdmit(t, h, now)
	}
	if at := mustWait(t, h, now); !at.IsZero() {
		t.Fatalf("fifth request waits until %v, want until a slot is released", at)
	}
	h.release()
	mustAdmit(t, h, now)
}

func TestSlowStartProbeFailureKeepsProbing(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 100, Burst: 10, Concurrency: 4})
	p := mustAdmit(t, h, now)
	h.answered(p, now, 0) // a transport error proves nothing
	h.release()
	p2 := mustAdmit(t, h, now)
	if !p2.probe {
		t.Fatal("after a failed probe the next request is not a probe")
	}
	mustWait(t, h, now)
}

func TestHalfOpenAfterWindow(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 6, Burst: 2, Concurrency: 4})
	p := mustAdmit(t, h, now)
	h.answered(p, now, 200)
	h.release()
	// Two requests out; the first answer is a 429 with a 10 s window.
	a, b := mustAdmit(t, h, now), mustAdmit(t, h, now.Add(200*time.Millisecond))
	h.closeUntil(now.Add(10*time.Second), false)
	h.answered(a, now, 429)
	h.release()
	if at := mustWait(t, h, now.Add(time.Second)); !at.Equal(now.Add(10 * time.Second)) {
		t.Fatalf("inside the window: ask again at +%s, want +10s", at.Sub(now))
	}
	// b is still in flight when the window ends: nothing goes until it is answered
	// (at most one request in flight from the window's end to the probe's answer).
	end := now.Add(10 * time.Second)
	if at := mustWait(t, h, end); !at.IsZero() {
		t.Fatalf("with a request in flight at the window's end: ask at %v, want after a change", at)
	}
	h.answered(b, end, 200) // an old request's success does not prove the host
	h.release()
	probe := mustAdmit(t, h, end)
	if !probe.probe {
		t.Fatal("the first request after the window is not a probe")
	}
	for range 3 {
		if at := mustWait(t, h, end); !at.IsZero() {
			t.Fatalf("while the probe is out: ask again at %v, want after its answer", at)
		}
	}
	// Another 429 closes the window again, and the next request after it is a probe.
	h.closeUntil(end.Add(2*time.Second), false)
	h.answered(probe, end, 429)
	h.release()
	end2 := end.Add(2 * time.Second)
	mustWait(t, h, end2.Add(-time.Millisecond))
	probe = mustAdmit(t, h, end2)
	if !probe.probe {
		t.Fatal("after the second window the first request is not a probe")
	}
	h.answered(probe, end2, 200)
	h.release()
	// Success: ramp up from an empty bucket with burst 1, at the host's rate (6/s).
	at := mustWait(t, h, end2)
	if d := at.Sub(end2); d < 150*time.Millisecond || d > 170*time.Millisecond {
		t.Fatalf("first request after the probe waits %s, want one token at 6/s (≈167ms)", d)
	}
	t1 := end2.Add(time.Second) // a second later the bucket holds at most 1 (burst 1)
	r1 := mustAdmit(t, h, t1)
	mustWait(t, h, t1)
	// After `burst` answers the full burst returns.
	h.answered(r1, t1, 200)
	h.release()
	r2 := mustAdmit(t, h, t1.Add(200*time.Millisecond))
	h.answered(r2, t1, 200)
	h.release()
	if got := h.lim.Burst(); got != 2 {
		t.Fatalf("burst after the ramp = %d, want 2", got)
	}
}

func TestWindowBeyondMaxWaitIsClosed(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 1, Burst: 1, Concurrency: 1})
	h.closeUntil(now.Add(2*time.Minute), false)
	_, _, err := h.admit(now, time.Minute)
	var hc *HostClosedError
	if !errors.As(err, &hc) || !hc.Until.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("err = %v, want HostClosedError until +2m", err)
	}
	h.closeUntil(now.Add(time.Minute), false) // never shortened
	if until, _, _ := h.gate(); !until.Equal(now.Add(2 * time.Minute)) {
		t.Fatalf("window shortened to +%s", until.Sub(now))
	}
}

func TestLimitChangeAppliesToWaiters(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 1, Burst: 1, Concurrency: 10})
	h.answered(mustAdmit(t, h, now), now, 200)
	_, _, changed := h.gate()
	h.SetLimitAt(now, rate.Limit(0.1))
	select {
	case <-changed:
	default:
		t.Fatal("a limit change did not wake waiters")
	}
	if at := mustWait(t, h, now); at.Sub(now) < 9*time.Second {
		t.Fatalf("after the limit dropped to 0.1/s the next token is at +%s, want ≈10s", at.Sub(now))
	}
}

func TestPauseDoublesUpToCapAndResets(t *testing.T) {
	h := newHost("h", "web", HostLimit{RPS: 1, Burst: 1, Concurrency: 1, Cooldown: 2 * time.Second})
	h.maxPause = 10 * time.Second
	var got []time.Duration
	for range 5 {
		got = append(got, h.nextPause())
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pauses %v, want %v", got, want)
		}
	}
	h.resetPause()
	if d := h.nextPause(); d != 2*time.Second {
		t.Fatalf("after a success the pause is %s, want 2s again", d)
	}
}

func TestCancelledPermitFreesProbeAndSlot(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 100, Burst: 10, Concurrency: 1})
	p, _, _ := h.admit(now, time.Minute)
	p.Cancel()
	p.Cancel() // twice is harmless
	p2 := mustAdmit(t, h, now)
	if !p2.probe {
		t.Fatal("a cancelled probe left the host proven")
	}
	p2.Cancel() // a sent permit is not cancelled
	if _, _, err := h.admit(now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if h.inflight != 1 {
		t.Fatalf("inflight = %d after a cancel of a sent permit, want 1", h.inflight)
	}
}

// countingYielder records how often a waiting request gave its worker back.
type countingYielder struct{ parks, unparks int }

func (c *countingYielder) Park()                            { c.parks++ }
func (c *countingYielder) Unpark(ctx context.Context) error { c.unparks++; return ctx.Err() }

func TestAcquireParksWhileWaiting(t *testing.T) {
	now := start()
	clk := &blockingClock{now: now, slept: make(chan time.Duration, 4), release: make(chan struct{})}
	close(clk.release)
	h := newHost("h", "web", HostLimit{RPS: 1, Burst: 1, Concurrency: 1})
	h.answered(mustAdmit(t, h, now), now, 200)
	h.release()
	y := &countingYielder{}
	p, err := h.acquire(WithYielder(context.Background(), y), clk, time.Minute)
	if err != nil || p == nil {
		t.Fatal(err)
	}
	if d := <-clk.slept; d < 900*time.Millisecond {
		t.Fatalf("waited %s for the next token at 1/s", d)
	}
	if y.parks != 1 || y.unparks != 1 {
		t.Fatalf("parks %d, unparks %d; want the worker given back once while waiting", y.parks, y.unparks)
	}
}

// A permit granted before a window is stale once the window closed the host, even
// after the window ended: sending it would skip the half-open probe.
func TestPermitFromBeforeAWindowIsStale(t *testing.T) {
	now := start()
	h := newHost("h", "web", HostLimit{RPS: 100, Burst: 10, Concurrency: 4})
	h.answered(mustAdmit(t, h, now), now, 200)
	h.release()
	p, _, err := h.admit(now, time.Minute)
	if err != nil || p == nil {
		t.Fatal("no permit")
	}
	if !h.current(p, now) {
		t.Fatal("a fresh permit is not current")
	}
	h.closeUntil(now.Add(time.Second), false)
	if h.current(p, now.Add(2*time.Second)) {
		t.Fatal("a permit from before the window is current after it")
	}
	p.Cancel()
	if probe := mustAdmit(t, h, now.Add(2*time.Second)); !probe.probe {
		t.Fatal("after the window the next request is not a probe")
	}
}
