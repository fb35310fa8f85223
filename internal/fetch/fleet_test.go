package fetch

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fleet"
)

// fakeFleet answers the host layer's fleet questions from a script, and records them.
// The scripts' arithmetic is tested against a real Redis in internal/fleet; these
// tests check what admission does with the answers, at explicit times.
type fakeFleet struct {
	mu       sync.Mutex
	reserve  []fleet.Grant // next Reserve answers, in order
	claim    []fleet.Grant
	fallback bool
	members  int
	calls    []string
	learned  []string
	closed   []time.Duration
	released []string
}

func (f *fakeFleet) pop(q *[]fleet.Grant, name string) fleet.Grant {
	f.calls = append(f.calls, name)
	if len(*q) == 0 {
		return fleet.Grant{Status: fleet.Reserved, Rate: 10}
	}
	g := (*q)[0]
	*q = (*q)[1:]
	return g
}

func (f *fakeFleet) Reserve(string, float64, int, int) (fleet.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pop(&f.reserve, "reserve"), nil
}

func (f *fakeFleet) Claim(string, int) (fleet.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pop(&f.claim, "claim"), nil
}

func (f *fakeFleet) Release(_, lease string) {
	f.mu.Lock()
	f.released = append(f.released, lease)
	f.mu.Unlock()
}

func (f *fakeFleet) CloseHost(_ string, d time.Duration, _ bool) (time.Duration, error) {
	f.mu.Lock()
	f.closed = append(f.closed, d)
	f.mu.Unlock()
	return d, nil
}

func (f *fakeFleet) Learn(_ string, kind fleet.Kind, r float64, version int64, _ time.Duration) (float64, int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.learned = append(f.learned, fmt.Sprintf("%s %g v%d", kind, r, version))
	return r, version + 1, true, nil
}

func (f *fakeFleet) Members() int        { return max(f.members, 1) }
func (f *fakeFleet) Fallback() bool      { f.mu.Lock(); defer f.mu.Unlock(); return f.fallback }
func (f *fakeFleet) Watch(fleet.Watcher) {}
func (f *fakeFleet) setFallback(on bool) { f.mu.Lock(); f.fallback = on; f.mu.Unlock() }
func (f *fakeFleet) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
func (f *fakeFleet) learnLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.learned...)
}
func (f *fakeFleet) releaseLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.released...)
}

func fleetHostFor(t *testing.T, f *fakeFleet, l HostLimit) (*host, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(start())
	reg := &registry{hosts: map[string]*host{}, fleet: f, clk: clk,
		limitFor: func(string) HostLimit { return l }, provider: func(string) string { return "web" }}
	h := reg.get("pub.example")
	h.unproven = false // past slow start: these tests are about the fleet's answers
	return h, clk
}

// TestFleetReservationIsKeptAndClaimed: a reservation ahead is the host's answer
// until its time (no second ask of the fleet), then it is claimed; the lease the claim
// took goes back when the request's slot does.
func TestFleetReservationIsKeptAndClaimed(t *testing.T) {
	f := &fakeFleet{
		reserve: []fleet.Grant{{Status: fleet.Reserved, Wait: 150 * time.Millisecond, Rate: 10, Version: 3}},
		claim:   []fleet.Grant{{Status: fleet.Busy}, {Status: fleet.Reserved, Lease: "L1"}},
	}
	h, _ := fleetHostFor(t, f, HostLimit{RPS: 25, Burst: 2, Concurrency: 4})
	now := start()
	if at := mustWait(t, h, now); !at.Equal(now.Add(150 * time.Millisecond)) {
		t.Fatalf("retry at %v, want the reservation's time", at.Sub(now))
	}
	if at := mustWait(t, h, now.Add(100*time.Millisecond)); !at.Equal(now.Add(150 * time.Millisecond)) {
		t.Fatalf("before its time: retry at %v, want the same reservation", at.Sub(now))
	}
	// At its time the claim finds every lease taken: ask again shortly, keep the slot.
	if at := mustWait(t, h, now.Add(150*time.Millisecond)); !at.Equal(now.Add(150*time.Millisecond + fleetPoll)) {
		t.Fatalf("busy claim: retry at %v", at.Sub(now))
	}
	p := mustAdmit(t, h, now.Add(175*time.Millisecond))
	if got := f.callLog(); len(got) != 3 || got[0] != "reserve" || got[1] != "claim" || got[2] != "claim" {
		t.Fatalf("fleet calls %v, want one reserve and two claims", got)
	}
	h.answered(p, now, 200)
	h.release()
	if got := f.releaseLog(); len(got) != 1 || got[0] != "L1" {
		t.Fatalf("released %v, want the claimed lease L1", got)
	}
}

// TestFleetWindowClosesTheHost: a window another member opened closes the host here
// (and a long one defers, as a local one would); a window this process opens is sent
// to the fleet.
func TestFleetWindowClosesTheHost(t *testing.T) {
	f := &fakeFleet{reserve: []fleet.Grant{
		{Status: fleet.Closed, Wait: 2 * time.Second},
		{Status: fleet.Closed, Wait: 2 * time.Hour, Quota: true},
	}}
	h, clk := fleetHostFor(t, f, HostLimit{RPS: 25, Burst: 2, Concurrency: 4})
	now := clk.Now()
	if at := mustWait(t, h, now); !at.Equal(now.Add(2 * time.Second)) {
		t.Fatalf("fleet window: retry at %v, want its end", at.Sub(now))
	}
	later := now.Add(2 * time.Second)
	if _, _, err := h.admit(later, time.Minute); err == nil {
		t.Fatal("a fleet quota did not close the host")
	} else if hc, ok := err.(*HostClosedError); !ok || !hc.Quota {
		t.Fatalf("err %v, want a quota HostClosedError", err)
	}
	h.closeUntil(clk.Now().Add(3*time.Hour), false)
	if len(f.closed) != 1 || f.closed[0] != 3*time.Hour {
		t.Fatalf("windows sent to the fleet: %v, want one of 3h", f.closed)
	}
}

// TestFleetFallbackPacesLocallyFromEmpty: in fallback the local limiter answers at the
// fleet's last rate ÷ members, starting from an empty bucket (no burst from every
// member at once), and the fleet is not asked.
func TestFleetFallbackPacesLocallyFromEmpty(t *testing.T) {
	f := &fakeFleet{members: 4, reserve: []fleet.Grant{{Status: fleet.Reserved, Rate: 8, Version: 1}}}
	h, clk := fleetHostFor(t, f, HostLimit{RPS: 25, Burst: 5, Concurrency: 4})
	now := clk.Now()
	p := mustAdmit(t, h, now) // learns the fleet's rate, 8 rps
	h.answered(p, now, 200)
	h.release()
	f.setFallback(true)
	now = now.Add(10 * time.Second) // the local bucket is full by now
	at := mustWait(t, h, now)
	if want := now.Add(500 * time.Millisecond); !at.Equal(want) { // 8 rps ÷ 4 = 2 rps, from empty
		t.Fatalf("fallback: first request at +%v, want +500ms", at.Sub(now))
	}
	if got := h.lim.Limit(); got != 2 {
		t.Fatalf("fallback limit %v, want 8 ÷ 4 = 2", got)
	}
	mustAdmit(t, h, at)
	if got := f.callLog(); len(got) != 1 {
		t.Fatalf("the fleet was asked in fallback: %v", got)
	}
	f.setFallback(false)
	h.release()
	mustAdmit(t, h, at)
	if got := h.lim.Limit(); got != 25 {
		t.Fatalf("back from fallback: local limit %v, want the process's own 25 again", got)
	}
}

// TestFleetLearningProposals: learning's first rate seeds the fleet, a lower one cuts,
// a higher one raises on the version the last answer carried.
func TestFleetLearningProposals(t *testing.T) {
	f := &fakeFleet{reserve: []fleet.Grant{{Status: fleet.Reserved, Rate: 20, Version: 7}}}
	h, clk := fleetHostFor(t, f, HostLimit{RPS: 25, Burst: 2, Concurrency: 4})
	now := clk.Now()
	h.SetLimitAt(now, 25) // registration
	p := mustAdmit(t, h, now)
	h.answered(p, now, 200)
	h.release()
	h.SetLimitAt(now, 12)
	h.SetLimitAt(now, 12) // no change, no proposal
	h.SetLimitAt(now, 13)
	h.SetLimitAt(now, rate.Inf) // an unlimited host is not the fleet's to learn
	// The seed carries no version; the cut and the raise carry the last one seen
	// (7 from the reservation, then 8 from the cut's own answer).
	want := []string{"seed 25 v0", "cut 12 v7", "raise 13 v8"}
	got := f.learnLog()
	if len(got) != len(want) {
		t.Fatalf("proposals %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("proposals %v, want %v", got, want)
		}
	}
}
