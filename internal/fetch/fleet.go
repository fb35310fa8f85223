package fetch

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fleet"
)

// Fleet shares each host's budget with the other processes of a fleet (a
// *fleet.Client). When Options.Fleet is set, admit asks it, after the local checks
// (window, probe, local concurrency), instead of the local rate limiter:
//
//   - the request budget is the fleet's reserving GCRA: a reservation ahead is kept
//     as the host's one pending reservation and claimed when its time comes;
//   - a window (Retry-After, pause, quota) this process opens is the fleet's, and the
//     fleet's windows close the host here;
//   - the concurrency cap is fleet-wide (leases);
//   - learning's rate changes are proposals to the fleet's learned rate: a cut once
//     per episode, a raise by compare-and-set.
//
// While the fleet is in fallback (Redis away), the local limiter answers at
// min(the local rate, the fleet's last rate) ÷ the last members' count.
type Fleet interface {
	Reserve(host string, rate float64, burst, conc int) (fleet.Grant, error)
	Claim(host string, conc int) (fleet.Grant, error)
	Release(host, lease string)
	CloseHost(host string, d time.Duration, quota bool) (time.Duration, error)
	Learn(host string, kind fleet.Kind, rate float64, version int64, episode time.Duration) (float64, int64, bool, error)
	Members() int
	Fallback() bool
	Watch(w fleet.Watcher)
}

// fleetPoll is how soon a request refused for the fleet's concurrency cap (or a failed
// Redis call) asks again: other members' releases are not signalled here.
const fleetPoll = 25 * time.Millisecond

// fleetHost is a host's fleet-wide side, guarded by its host's mu.
type fleetHost struct {
	f   Fleet
	clk clock.Clock

	local    float64   // this process's rate for the host (configured or learned), fleet-wide
	rate     float64   // the fleet's rate at its last answer; 0 = not known yet
	version  int64     // the fleet's learned-rate version at its last answer
	seeded   bool      // this process's learned rate has seeded the fleet's
	resv     time.Time // a reservation's time; zero = none
	leases   []string  // one per admitted request not yet released ("" = no lease)
	fallback bool      // the local limiter is at the fallback rate
}

// localLocked reports whether the local limiter answers for the host (the fleet is in
// fallback), switching its rate on the way in and out.
func (fh *fleetHost) localLocked(h *host, now time.Time) bool {
	if !fh.f.Fallback() {
		if fh.fallback {
			fh.fallback = false
			h.lim.SetLimitAt(now, limitOf(fh.local))
		}
		return false
	}
	if l := limitOf(fh.fallbackRate()); h.lim.Limit() != l {
		h.lim.SetLimitAt(now, l)
	}
	if !fh.fallback {
		fh.fallback = true
		fh.resv = time.Time{} // Redis may have lost it; the local limiter paces from here
		// The local bucket filled up while the fleet paced the host: start from empty,
		// or every member would send a burst at once.
		if t := h.lim.TokensAt(now); t >= 1 {
			h.lim.AllowN(now, int(t))
		}
	}
	return true
}

// fallbackRate is the host's local rate while the fleet is away: its share of the
// lower of this process's rate and the fleet's last one.
func (fh *fleetHost) fallbackRate() float64 {
	r := fh.local
	if fh.rate > 0 && fh.rate < r {
		r = fh.rate
	}
	if math.IsInf(r, 1) {
		return r
	}
	return r / float64(max(fh.f.Members(), 1))
}

// rateOf is a limiter's rate as a number, +Inf for rate.Inf.
func rateOf(l rate.Limit) float64 {
	if l == rate.Inf {
		return math.Inf(1)
	}
	return float64(l)
}

func limitOf(r float64) rate.Limit {
	if math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}

// admitFleetLocked is admit's rate decision when the fleet answers.
func (h *host) admitFleetLocked(now time.Time, maxWait time.Duration) (*Permit, time.Time, error) {
	fh := h.fl
	conc := h.limit.Concurrency
	if !fh.resv.IsZero() {
		if now.Before(fh.resv) {
			return nil, fh.resv, nil
		}
		g, err := fh.f.Claim(h.name, conc)
		if err != nil {
			return h.fleetFailedLocked(now, maxWait)
		}
		if g.Status == fleet.Busy {
			return nil, now.Add(fleetPoll), nil
		}
		fh.resv = time.Time{}
		if g.Status == fleet.Closed {
			h.closeUntilLocked(now.Add(g.Wait), g.Quota)
			return h.closedLocked(now, maxWait)
		}
		return h.grantLocked(g.Lease), time.Time{}, nil
	}
	g, err := fh.f.Reserve(h.name, fh.local, h.lim.Burst(), conc)
	if err != nil {
		return h.fleetFailedLocked(now, maxWait)
	}
	fh.rate, fh.version = g.Rate, g.Version
	switch {
	case g.Status == fleet.Closed:
		h.closeUntilLocked(now.Add(g.Wait), g.Quota)
		return h.closedLocked(now, maxWait)
	case g.Status == fleet.Busy:
		return nil, now.Add(fleetPoll), nil
	case g.Wait > 0:
		fh.resv = now.Add(g.Wait)
		return nil, fh.resv, nil
	}
	return h.grantLocked(g.Lease), time.Time{}, nil
}

// fleetFailedLocked answers after a failed fleet call: the local limiter when that
// failure started fallback, otherwise ask again shortly (nothing goes out unpaced).
func (h *host) fleetFailedLocked(now time.Time, maxWait time.Duration) (*Permit, time.Time, error) {
	if !h.fl.localLocked(h, now) {
		return nil, now.Add(fleetPoll), nil
	}
	if !h.lim.AllowN(now, 1) {
		return nil, now.Add(h.tokenDelay(now, maxWait)), nil
	}
	return h.grantLocked(""), time.Time{}, nil
}

// releaseLeaseLocked gives back the fleet lease of one finished request.
func (h *host) releaseLeaseLocked() {
	fh := h.fl
	if fh == nil || len(fh.leases) == 0 {
		return
	}
	lease := fh.leases[len(fh.leases)-1]
	fh.leases = fh.leases[:len(fh.leases)-1]
	if lease != "" {
		fh.f.Release(h.name, lease)
	}
}

// closeFleet makes a window this process opened the fleet's. A failure is counted
// towards fallback; the window holds here either way.
func (h *host) closeFleet(until time.Time, quota bool) {
	if d := until.Sub(h.fl.clk.Now()); d > 0 {
		_, _ = h.fl.f.CloseHost(h.name, d, quota)
	}
}

// learnFleet is SetLimitAt with a fleet: learning's new rate for the host becomes a
// proposal to the fleet. The first is a seed (min of the two), a lower one a cut (once
// per episode for the whole fleet, the episode lasting at least a second and at least
// as long as the host's window), a higher one a raise (compare-and-set against the
// version this process last saw, so two members' recoveries do not both apply).
func (h *host) learnFleet(t time.Time, l rate.Limit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fh := h.fl
	prev := fh.local
	fh.local = rateOf(l)
	if fh.localLocked(h, t) {
		h.signalLocked()
		return
	}
	h.lim.SetLimitAt(t, l)
	if math.IsInf(fh.local, 1) || fh.local <= 0 {
		return // an unlimited host is not the fleet's to learn
	}
	var kind fleet.Kind
	switch {
	case !fh.seeded:
		kind = fleet.Seed
	case fh.local < prev:
		kind = fleet.Cut
	case fh.local > prev:
		kind = fleet.Raise
	default:
		return
	}
	episode := max(time.Second, h.cooldownUntil.Sub(t))
	r, ver, _, err := fh.f.Learn(h.name, kind, fh.local, fh.version, episode)
	if err != nil {
		return
	}
	fh.rate, fh.version = r, ver
	fh.seeded = true
	h.signalLocked()
}

// FleetFallback wakes every waiter, so that each host's next answer comes from its
// local limiter.
func (r *registry) FleetFallback(int) {
	for _, h := range r.all() {
		h.signal()
	}
}

// FleetBack writes what this process knows back into the fleet when Redis is back:
// windows still running (max-merge: a window is never shortened) and, for each host
// whose rate learning has given the fleet, the fleet's rate it last saw (min-merge,
// the owner kept), so a Redis that restarted empty does not forget what the fleet had
// learned. The fleet's last rate, not this process's own learner's rate: the members'
// learners differ (each cut what it saw), and the lowest of them would hold the whole
// fleet down.
func (r *registry) FleetBack(context.Context) {
	now := r.clk.Now()
	for _, h := range r.all() {
		h.mu.Lock()
		fh := h.fl
		until, quota := h.cooldownUntil, h.quota
		seed := fh.local
		if fh.rate > 0 {
			seed = fh.rate
		}
		seeded := fh.seeded
		h.mu.Unlock()
		if d := until.Sub(now); d > 0 {
			_, _ = fh.f.CloseHost(h.name, d, quota)
		}
		if seeded && seed > 0 && !math.IsInf(seed, 1) {
			if rr, ver, _, err := fh.f.Learn(h.name, fleet.Restore, seed, 0, 0); err == nil {
				h.mu.Lock()
				fh.rate, fh.version = rr, ver
				h.mu.Unlock()
			}
		}
		h.signal()
	}
}
