package fleet

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fleet/fleettest"
)

// open connects a member to r with a manual clock: its heartbeat and reconnect loop
// only move when the test advances the clock.
func open(t *testing.T, r *fleettest.Redis, member string) (*Client, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	c, err := Open(context.Background(), Options{URL: r.URL(), Name: "t", Member: member, Clock: clk, LeaseTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, clk
}

func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

// TestReserveSpacesRequestsInArrivalOrder: at 10 rps and burst 1, the reservations
// two members make in turn are 100ms apart, whoever makes them; the fleet's rate
// (none learned) is the rate given.
func TestReserveSpacesRequestsInArrivalOrder(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := open(t, r, "a")
	b, _ := open(t, r, "b")
	for i := range 6 {
		c := a
		if i%2 == 1 {
			c = b
		}
		g, err := c.Reserve("pub.example", 10, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration(i) * 100 * time.Millisecond
		if g.Status != Reserved || !near(g.Wait, want, 30*time.Millisecond) || g.Rate != 10 {
			t.Fatalf("reservation %d: %+v, want reserved after about %v at rate 10", i, g, want)
		}
	}
	// Burst 3: the next host takes three at once, then one per 100ms.
	for i, want := range []time.Duration{0, 0, 0, 100 * time.Millisecond} {
		g, err := a.Reserve("burst.example", 10, 3, 0)
		if err != nil || !near(g.Wait, want, 30*time.Millisecond) {
			t.Fatalf("burst reservation %d: %+v %v, want wait about %v", i, g, err, want)
		}
	}
}

// TestWindowsAreFleetWideAndNeverShortened: a window one member opens closes the host
// for the other; a shorter one does not shorten it; a quota is told apart; a
// reservation claimed inside a window is refused.
func TestWindowsAreFleetWideAndNeverShortened(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := open(t, r, "a")
	b, _ := open(t, r, "b")
	if left, err := a.CloseHost("pub.example", 3*time.Second, false); err != nil || !near(left, 3*time.Second, 50*time.Millisecond) {
		t.Fatalf("close: %v %v", left, err)
	}
	if left, _ := b.CloseHost("pub.example", time.Second, false); !near(left, 3*time.Second, 50*time.Millisecond) {
		t.Fatalf("a shorter window shortened the fleet's: %v left", left)
	}
	g, err := b.Reserve("pub.example", 10, 1, 4)
	if err != nil || g.Status != Closed || g.Quota || !near(g.Wait, 3*time.Second, 50*time.Millisecond) {
		t.Fatalf("reserve in a window: %+v %v", g, err)
	}
	if g, _ := b.Claim("pub.example", 4); g.Status != Closed {
		t.Fatalf("claim in a window: %+v", g)
	}
	if _, err := a.CloseHost("quota.example", time.Hour, true); err != nil {
		t.Fatal(err)
	}
	if g, _ := b.Reserve("quota.example", 10, 1, 0); g.Status != Closed || !g.Quota || g.Wait < 59*time.Minute {
		t.Fatalf("quota: %+v", g)
	}
}

// TestLeasesCapConcurrencyAcrossTheFleet: with a cap of 2, a third request anywhere
// in the fleet is busy until a lease is given back; a member that goes away without
// giving its leases back loses them when they expire.
func TestLeasesCapConcurrencyAcrossTheFleet(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := open(t, r, "a")
	b, _ := open(t, r, "b")
	g1, _ := a.Reserve("pub.example", 0, 1, 2)
	g2, _ := b.Reserve("pub.example", 0, 1, 2)
	if g1.Status != Reserved || g2.Status != Reserved || g1.Lease == "" || g2.Lease == "" || g1.Lease == g2.Lease {
		t.Fatalf("two leases: %+v %+v", g1, g2)
	}
	if g, _ := a.Reserve("pub.example", 0, 1, 2); g.Status != Busy {
		t.Fatalf("third request: %+v, want busy", g)
	}
	b.Release("pub.example", g2.Lease)
	waitFor(t, func() bool { g, _ := a.Reserve("pub.example", 0, 1, 2); return g.Status == Reserved })

	// Short-lived leases from a member that then vanishes.
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	c, err := Open(context.Background(), Options{URL: r.URL(), Name: "t", Member: "c", Clock: clk, LeaseTTL: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g, _ := c.Reserve("short.example", 0, 1, 1); g.Status != Reserved {
		t.Fatalf("short lease: %+v", g)
	}
	if g, _ := a.Reserve("short.example", 0, 1, 1); g.Status != Busy {
		t.Fatalf("while the lease lives: %+v, want busy", g)
	}
	// Redis's own clock expires it (the heartbeat that would renew it never runs).
	waitFor(t, func() bool { g, _ := a.Reserve("short.example", 0, 1, 1); return g.Status == Reserved })
}

// waitFor polls cond for up to 3s: for effects of a real server's clock or of an
// asynchronous release.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLearnCutsOncePerEpisodeAndRaisesByCompareAndSet: the seed is a min-merge; of
// four members cutting on the same burst only the first cut applies; only the member
// that made it raises; a raise on a stale version is refused and one on the current
// version applies.
func TestLearnCutsOncePerEpisodeAndRaisesByCompareAndSet(t *testing.T) {
	r := fleettest.Start(t)
	var cs []*Client
	for _, m := range []string{"a", "b", "c", "d"} {
		c, _ := open(t, r, m)
		cs = append(cs, c)
	}
	const h = "pub.example"
	learn := func(c *Client, k Kind, rate float64, ver int64) (float64, int64, bool) {
		t.Helper()
		got, v, applied, err := c.Learn(h, k, rate, ver, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return got, v, applied
	}
	if got, _, _ := learn(cs[0], Seed, 25, 0); got != 25 {
		t.Fatalf("seed: %v", got)
	}
	if got, _, applied := learn(cs[1], Seed, 30, 0); got != 25 || applied {
		t.Fatalf("a higher seed changed the fleet's rate: %v", got)
	}
	got, ver, applied := learn(cs[0], Cut, 17.5, 0)
	if got != 17.5 || !applied {
		t.Fatalf("first cut: %v %v", got, applied)
	}
	for _, c := range cs[1:] { // the same burst, seen by the others
		if got, _, applied := learn(c, Cut, 12.25, 0); got != 17.5 || applied {
			t.Fatalf("a second cut in one episode applied: %v", got)
		}
	}
	if got, _, applied := learn(cs[2], Raise, 19, ver); got != 17.5 || applied {
		t.Fatalf("a raise by a member that does not own the rate applied: %v", got)
	}
	if got, _, applied := learn(cs[0], Raise, 19, ver-1); got != 17.5 || applied {
		t.Fatalf("a raise on a stale version applied: %v", got)
	}
	got, ver2, applied := learn(cs[0], Raise, 19, ver)
	if got != 19 || !applied || ver2 != ver+1 {
		t.Fatalf("raise: %v %v %v", got, ver2, applied)
	}
	if got, _, applied := learn(cs[0], Raise, 21, ver); got != 19 || applied {
		t.Fatalf("a second raise on the old version applied too: %v", got)
	}
	if g, _ := cs[3].Reserve(h, 25, 1, 0); g.Rate != 19 || g.Version != ver2 {
		t.Fatalf("reserve paces at %v (version %d), want the learned 19 (version %d)", g.Rate, g.Version, ver2)
	}
	// A member writing back the fleet's rate after Redis returned: min-merge, and the
	// owner stays the owner.
	got, ver3, applied := learn(cs[1], Restore, 18, 0)
	if got != 18 || !applied || ver3 != ver2+1 {
		t.Fatalf("restore: %v %v %v", got, ver3, applied)
	}
	if got, _, applied := learn(cs[1], Raise, 20, ver3); got != 18 || applied {
		t.Fatalf("a restore made its member the owner: raise applied (%v)", got)
	}
	if got, _, applied := learn(cs[0], Raise, 20, ver3); got != 20 || !applied {
		t.Fatalf("the owner's raise after a restore: %v %v", got, applied)
	}
}

// TestMembersAreCounted: each member's heartbeat counts the live ones; a member that
// leaves is no longer counted.
func TestMembersAreCounted(t *testing.T) {
	r := fleettest.Start(t)
	a, _ := open(t, r, "a")
	b, _ := open(t, r, "b")
	c, _ := open(t, r, "c")
	if err := a.beat(); err != nil || a.Members() != 3 {
		t.Fatalf("members %d (%v), want 3", a.Members(), err)
	}
	_ = c.Close()
	_ = b.beat()
	if b.Members() != 2 {
		t.Fatalf("members after one left: %d, want 2", b.Members())
	}
}

type watcher struct {
	down, back atomic.Int32
	members    atomic.Int32
	during     func()
}

func (w *watcher) FleetFallback(n int) { w.members.Store(int32(n)); w.down.Add(1) }
func (w *watcher) FleetBack(context.Context) {
	if w.during != nil {
		w.during()
	}
	w.back.Add(1)
}

// TestFallbackAndReconnect: with Redis stopped, calls fail within the timeout; after
// three in a row the client is in fallback (told once, with the last members' count)
// and answers at once without the network; when Redis is back the reconnect loop
// lets the watcher write back, through Redis, and leaves fallback.
func TestFallbackAndReconnect(t *testing.T) {
	r := fleettest.Start(t)
	a, clk := open(t, r, "a")
	b, _ := open(t, r, "b")
	_ = a.beat()
	w := &watcher{}
	w.during = func() {
		if _, err := a.CloseHost("pub.example", 5*time.Second, false); err != nil {
			t.Errorf("write-back during FleetBack: %v", err)
		}
	}
	a.Watch(w)
	r.Stop()
	for i := range 3 {
		start := time.Now()
		if _, err := a.Reserve("pub.example", 10, 1, 0); err == nil {
			t.Fatalf("call %d succeeded with redis stopped", i)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a failed call took %v; the timeout is 100ms", d)
		}
	}
	if !a.Fallback() {
		t.Fatal("not in fallback after 3 failures")
	}
	waitFor(t, func() bool { return w.down.Load() == 1 })
	if w.members.Load() != 2 {
		t.Fatalf("fallback told %d members, want the last count 2", w.members.Load())
	}
	if _, err := a.Reserve("pub.example", 10, 1, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("in fallback: %v, want ErrUnavailable", err)
	}
	r.Restart()
	// The reconnect loop sleeps on the manual clock: move it until the loop is back.
	waitFor(t, func() bool { clk.Advance(6 * time.Second); return !a.Fallback() && w.back.Load() == 1 })
	if w.down.Load() != 1 {
		t.Fatalf("fallback told %d times", w.down.Load())
	}
	if g, err := b.Reserve("pub.example", 10, 1, 0); err != nil || g.Status != Closed {
		t.Fatalf("the window written back on reconnect is not the fleet's: %+v %v", g, err)
	}
	if st := a.Stats(); st.Fallbacks != 1 || st.Errors < 3 || st.Fallback {
		t.Fatalf("stats %+v", st)
	}
}

// TestOpenErrors: a wrong URL, a server that is not there and refused credentials are
// ConfigErrors with a one-line message that never shows the password.
func TestOpenErrors(t *testing.T) {
	r := fleettest.Start(t, "requirepass s3cret-pw")
	dead := fleettest.Start(t)
	deadURL := dead.URL()
	dead.Stop()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"scheme", "http://127.0.0.1:1/0", "not a Redis URL"},
		{"nothing listening", deadURL, "cannot reach redis at " + dead.Addr()},
		{"wrong password", "redis://:wrong-pw@" + r.Addr() + "/0", "refused the credentials"},
		{"no password", r.URL(), "refused the credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), Options{URL: tc.url})
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a ConfigError with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("message shows the password or spans lines: %q", err)
			}
		})
	}
	c, err := Open(context.Background(), Options{URL: "redis://:s3cret-pw@" + r.Addr() + "/0"})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	_ = c.Close()
}
