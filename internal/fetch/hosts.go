package fetch

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
)

// HostLimit is the politeness budget of one host.
type HostLimit struct {
	RPS         float64
	Burst       int
	Concurrency int
	Cooldown    time.Duration // base pause after a 429 without Retry-After
}

// host holds the per-host politeness state. Whether a request may go to the host now
// is decided in one place, admit, from four facts kept under mu:
//
//   - the window: closed until a Retry-After, a pause or an exhausted quota ends;
//   - the probe: a host not yet seen in this run (slow start), or one whose window has
//     just ended (half-open), gets exactly one request, and everything else for it
//     waits for that request's answer;
//   - the concurrency cap: requests in flight;
//   - the rate limiter (x/time/rate), whose limit learning may change at any time.
//
// Nothing waits inside host: admit answers "now" or "not before T" (or "when
// something changes"), and the caller decides how to wait. That is what lets the
// scheduler park a work instead of holding a worker on a closed host.
type host struct {
	name     string
	provider string
	limit    HostLimit
	reg      *registry // told of every change, for the scheduler
	maxPause time.Duration

	lim *rate.Limiter

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced on every change that may admit a waiter
	cooldownUntil time.Time
	quota         bool          // cooldownUntil marks an exhausted quota, not congestion
	penalty       time.Duration // current pause after a 429 without Retry-After, doubling
	inflight      int           // admitted requests whose slot is not yet released
	unproven      bool          // the next request is a probe (slow start or half-open)
	probing       bool          // a probe is out; nothing else goes until it is answered
	reopening     bool          // the probe follows a window: on success, ramp up from empty
	ramp          int           // answers still to see before the full burst returns; 0 = none
	windows       uint64        // windows closed so far: a permit from before one is stale
	burst         int           // the burst wanted (configured, or learned)
	stats         HostStats
	lat           latencies

	fl *fleetHost // the fleet-wide side, when a fleet is configured (fleet.go)
}

func newHost(name, provider string, l HostLimit) *host {
	if l.Burst < 1 {
		l.Burst = 1
	}
	if l.Concurrency < 1 {
		l.Concurrency = 1
	}
	return &host{
		name:     name,
		provider: provider,
		limit:    l,
		maxPause: defaultMaxPause,
		lim:      rate.NewLimiter(rate.Limit(l.RPS), l.Burst),
		changed:  make(chan struct{}),
		unproven: true,
		burst:    l.Burst,
	}
}

// defaultMaxPause bounds the doubling pause when the client is not told otherwise.
const defaultMaxPause = 30 * time.Second

// Permit is the right to send one request to a host now: a concurrency slot and a rate
// token, and for a probe the host's one probe. The request that uses it calls answered
// when the answer arrives and release when its body is closed; a permit never used is
// given back with Cancel.
type Permit struct {
	h      *host
	probe  bool
	window uint64 // the host's windows count when it was granted
	mu     sync.Mutex
	state  uint8 // permitHeld, permitSent, permitDone
}

const (
	permitHeld uint8 = iota
	permitSent
	permitDone
)

// Host names the host the permit is for.
func (p *Permit) Host() string { return p.h.name }

// Cancel gives back a permit that was never used. It does nothing once the permit's
// request was sent.
func (p *Permit) Cancel() {
	if p == nil {
		return
	}
	p.mu.Lock()
	held := p.state == permitHeld
	if held {
		p.state = permitDone
	}
	p.mu.Unlock()
	if held {
		p.h.unadmit(p.probe)
	}
}

// use marks the permit as sent; false if it was cancelled or used already.
func (p *Permit) use() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != permitHeld {
		return false
	}
	p.state = permitSent
	return true
}

// admit lets one request go now, or says when to ask again: at retryAt, or, when
// retryAt is zero, after the next change (a probe answered, a slot released). A window
// longer than maxWait, or an exhausted quota, is a *HostClosedError.
func (h *host) admit(now time.Time, maxWait time.Duration) (p *Permit, retryAt time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cooldownUntil.After(now) {
		return h.closedLocked(now, maxWait)
	}
	if h.probing {
		return nil, time.Time{}, nil
	}
	capacity := h.limit.Concurrency
	if h.unproven {
		capacity = 1
	}
	if h.inflight >= capacity {
		return nil, time.Time{}, nil
	}
	if h.fl != nil && !h.fl.localLocked(h, now) {
		return h.admitFleetLocked(now, maxWait)
	}
	if !h.lim.AllowN(now, 1) {
		return nil, now.Add(h.tokenDelay(now, maxWait)), nil
	}
	return h.grantLocked(""), time.Time{}, nil
}

// grantLocked admits one request (holding the fleet lease, if any).
func (h *host) grantLocked(lease string) *Permit {
	h.inflight++
	if h.fl != nil {
		h.fl.leases = append(h.fl.leases, lease)
	}
	p := &Permit{h: h, window: h.windows}
	if h.unproven {
		h.probing, p.probe = true, true
	}
	return p
}

// closedLocked is admit's answer while the host's window runs: wait for its end, or,
// for a quota or a window longer than maxWait, a *HostClosedError.
func (h *host) closedLocked(now time.Time, maxWait time.Duration) (*Permit, time.Time, error) {
	if h.quota || h.cooldownUntil.Sub(now) > maxWait {
		return nil, time.Time{}, &HostClosedError{Host: h.name, Until: h.cooldownUntil, Quota: h.quota}
	}
	return nil, h.cooldownUntil, nil
}

// tokenDelay is how long until the limiter holds a whole token (at least 1 ms, so a
// caller never spins; at most maxWait when the limit is zero).
func (h *host) tokenDelay(now time.Time, maxWait time.Duration) time.Duration {
	l := h.lim.Limit()
	if l == rate.Inf {
		return time.Millisecond
	}
	if l <= 0 {
		return max(maxWait, time.Second)
	}
	need := 1 - h.lim.TokensAt(now)
	d := time.Duration(math.Ceil(need / float64(l) * float64(time.Second)))
	return max(d, time.Millisecond)
}

// current reports whether p may still be sent: no window has closed the host since
// it was granted (a permit from before a window would skip the half-open probe), and
// the host is open.
func (h *host) current(p *Permit, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return p.window == h.windows && !h.cooldownUntil.After(now)
}

// unadmit gives back an admission that sent nothing.
func (h *host) unadmit(probe bool) {
	h.mu.Lock()
	h.inflight--
	if probe {
		h.probing = false
	}
	h.releaseLeaseLocked()
	h.signalLocked()
	h.mu.Unlock()
}

// answered records the answer to a permit's request: status 0 is a transport error.
// A probe's answer other than 429/503 (or a transport error) proves the host: it gets
// its full concurrency back, and after a window it ramps up from an empty bucket with
// burst 1. Any answer other than 429 moves a ramp along.
func (h *host) answered(p *Permit, now time.Time, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	proof := status > 0 && status != 429 && status != 503
	if p != nil && p.probe {
		h.probing = false
		if proof && !h.cooldownUntil.After(now) {
			h.unproven = false
			if h.reopening {
				h.reopening = false
				h.startRampLocked(now)
			}
		}
		h.signalLocked()
		return
	}
	if proof && h.ramp > 0 {
		h.ramp--
		if h.ramp == 0 {
			h.lim.SetBurstAt(now, h.burst)
			h.signalLocked()
		}
	}
}

// startRampLocked empties the bucket and caps the burst at 1 until burst answers have
// come back, so a reopened host sees requests at its rate, not a burst.
func (h *host) startRampLocked(now time.Time) {
	h.lim.SetBurstAt(now, 1)
	if h.lim.TokensAt(now) >= 1 {
		h.lim.AllowN(now, 1)
	}
	h.ramp = h.burst
	if h.ramp <= 1 {
		h.ramp = 0
	}
}

// release frees the concurrency slot of a sent request.
func (h *host) release() {
	h.mu.Lock()
	h.inflight--
	h.releaseLeaseLocked()
	h.signalLocked()
	h.mu.Unlock()
}

// SetLimitAt changes the rate at once. Waiters ask admit again, so nothing goes out at
// an old rate. It satisfies learning.Limiter. With a fleet, the change is proposed to
// the fleet's learned rate (fleet.go).
func (h *host) SetLimitAt(t time.Time, l rate.Limit) {
	if h.fl != nil {
		h.learnFleet(t, l)
		return
	}
	old := h.lim.Limit()
	h.lim.SetLimitAt(t, l)
	if l != old {
		h.signal()
	}
}

// SetBurstAt changes the burst at once (while a reopened host ramps up, the new burst
// takes effect when the ramp ends); see SetLimitAt.
func (h *host) SetBurstAt(t time.Time, b int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b < 1 {
		b = 1
	}
	h.burst = b
	if h.ramp > 0 {
		return
	}
	if old := h.lim.Burst(); old != b {
		h.lim.SetBurstAt(t, b)
		h.signalLocked()
	}
}

func (h *host) signal() {
	h.mu.Lock()
	h.signalLocked()
	h.mu.Unlock()
}

func (h *host) signalLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
	if h.reg != nil {
		h.reg.signal()
	}
}

// closeUntil closes the host until t. A later deadline wins; a window is never
// shortened. When it ends, the host reopens half-open: one probe first. With a fleet,
// the window is the whole fleet's (fleet.go).
func (h *host) closeUntil(t time.Time, quota bool) {
	h.mu.Lock()
	h.closeUntilLocked(t, quota)
	h.mu.Unlock()
	if h.fl != nil {
		h.closeFleet(t, quota)
	}
}

func (h *host) closeUntilLocked(t time.Time, quota bool) {
	if t.After(h.cooldownUntil) {
		h.cooldownUntil = t
		h.quota = quota
		h.unproven, h.reopening = true, true
		h.windows++
		h.signalLocked()
	}
}

// nextPause is the pause after a 429 without Retry-After: the host's cooldown, doubled
// on each such 429 in a row, at most maxPause.
func (h *host) nextPause() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.penalty == 0 {
		h.penalty = h.limit.Cooldown
	} else {
		h.penalty = 2 * h.penalty
	}
	h.penalty = min(h.penalty, h.maxPause)
	return h.penalty
}

func (h *host) resetPause() {
	h.mu.Lock()
	h.penalty = 0
	h.mu.Unlock()
}

// gate reports when the host reopens and a channel closed on the next change.
func (h *host) gate() (time.Time, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cooldownUntil, h.quota, h.changed
}

// acquire waits until admit lets a request go. While it waits, the request's worker
// is given back (the Yielder in ctx, if any) and taken again before admit is asked, so
// a request waiting on a host never holds a worker.
func (h *host) acquire(ctx context.Context, clk clock.Clock, maxWait time.Duration) (*Permit, error) {
	y := yielderFrom(ctx)
	parked := false
	for {
		if parked {
			parked = false
			if err := y.Unpark(ctx); err != nil {
				return nil, err
			}
		}
		now := clk.Now()
		_, _, changed := h.gate()
		p, at, err := h.admit(now, maxWait)
		if err != nil || p != nil {
			return p, err
		}
		if y != nil {
			y.Park()
			parked = true
		}
		var werr error
		if at.IsZero() {
			select {
			case <-changed:
			case <-ctx.Done():
				werr = ctx.Err()
			}
		} else {
			werr = sleepOrChange(ctx, clk, at.Sub(now), changed)
		}
		if werr != nil {
			if parked {
				// Take the worker back (at once, the context being done) so that
				// every Park is matched by an Unpark.
				_ = y.Unpark(ctx)
			}
			return nil, werr
		}
	}
}

// sleepOrChange sleeps d on clk, returning early (nil) when changed is closed.
func sleepOrChange(ctx context.Context, clk clock.Clock, d time.Duration, changed <-chan struct{}) error {
	select {
	case <-changed:
		return nil
	default:
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-changed:
			cancel()
		case <-stop:
		}
	}()
	err := clk.Sleep(sctx, d)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// HostClosedError says that a host is in a window longer than the caller may wait, or
// that its quota is exhausted. Nothing was sent.
type HostClosedError struct {
	Host  string
	Until time.Time
	Quota bool
}

func (e *HostClosedError) Error() string {
	what := "cooling down"
	if e.Quota {
		what = "out of quota"
	}
	return "host " + e.Host + " is " + what + " until " + e.Until.UTC().Format(time.RFC3339)
}

// registry maps host[:port] to its state, and tells the scheduler when any host
// changed.
type registry struct {
	mu       sync.Mutex
	hosts    map[string]*host
	fleet    Fleet       // nil without a fleet
	clk      clock.Clock // for the fleet's durations
	limitFor func(host string) HostLimit
	provider func(host string) string
	maxPause time.Duration
	onNew    func(h *host)

	sigMu   sync.Mutex
	changed chan struct{}
}

func (r *registry) get(name string) *host {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.hosts[name]; ok {
		return h
	}
	h := newHost(name, r.provider(name), r.limitFor(name))
	if r.maxPause > 0 {
		h.maxPause = r.maxPause
	}
	h.reg = r
	if r.fleet != nil {
		h.fl = &fleetHost{f: r.fleet, clk: r.clk, local: rateOf(h.lim.Limit())}
	}
	r.hosts[name] = h
	if r.onNew != nil {
		r.onNew(h)
	}
	return h
}

func (r *registry) lookup(name string) (*host, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.hosts[name]
	return h, ok
}

func (r *registry) all() []*host {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*host, 0, len(r.hosts))
	for _, h := range r.hosts {
		out = append(out, h)
	}
	return out
}

// signal wakes whoever waits on Changed.
func (r *registry) signal() {
	r.sigMu.Lock()
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.sigMu.Unlock()
}

// watch returns a channel closed at the next change of any host.
func (r *registry) watch() <-chan struct{} {
	r.sigMu.Lock()
	defer r.sigMu.Unlock()
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}
