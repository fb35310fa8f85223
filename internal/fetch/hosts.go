package fetch

import (
	"context"
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
	Cooldown    time.Duration // base cooldown after a 429 without Retry-After
}

// host holds the per-host politeness state: a rate limiter whose limit may change
// while requests wait on it, a cooldown gate, and a concurrency cap.
type host struct {
	name     string
	provider string
	limit    HostLimit

	lim *rate.Limiter
	sem chan struct{}

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced whenever the limit changes or the gate closes
	cooldownUntil time.Time
	quota         bool          // cooldownUntil marks an exhausted quota, not congestion
	penalty       time.Duration // current 429-without-Retry-After cooldown, doubling
	stats         HostStats
	lat           latencies
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
		lim:      rate.NewLimiter(rate.Limit(l.RPS), l.Burst),
		sem:      make(chan struct{}, l.Concurrency),
		changed:  make(chan struct{}),
	}
}

// SetLimitAt changes the rate at once. When it drops, every request waiting on the old
// rate is woken to re-reserve at the new one, so none slips through at the old rate.
// A rise wakes nobody: waiters keep their earlier (later-than-needed) slots, which is
// polite, and cancelling queued reservations returns few tokens, so re-queueing on
// every rise would cost throughput. It satisfies learning.Limiter.
func (h *host) SetLimitAt(t time.Time, l rate.Limit) {
	old := h.lim.Limit()
	h.lim.SetLimitAt(t, l)
	if l < old {
		h.signal()
	}
}

// SetBurstAt changes the burst at once; see SetLimitAt.
func (h *host) SetBurstAt(t time.Time, b int) {
	old := h.lim.Burst()
	h.lim.SetBurstAt(t, b)
	if b < old {
		h.signal()
	}
}

func (h *host) signal() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// closeUntil closes the host to every worker until t. A later deadline wins.
func (h *host) closeUntil(t time.Time, quota bool) {
	h.mu.Lock()
	if t.After(h.cooldownUntil) {
		h.cooldownUntil = t
		h.quota = quota
		close(h.changed)
		h.changed = make(chan struct{})
	}
	h.mu.Unlock()
}

// gate reports when the host reopens and a channel closed on the next change.
func (h *host) gate() (time.Time, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cooldownUntil, h.quota, h.changed
}

// wait blocks until the host is open, the limiter grants a token and a concurrency slot
// is free. A cooldown longer than maxWait is not slept through: a *HostClosedError says
// when the host reopens. The caller must call release after the response body is closed.
func (h *host) wait(ctx context.Context, clk clock.Clock, maxWait time.Duration) error {
	for {
		if err := h.reserve(ctx, clk, maxWait); err != nil {
			return err
		}
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		// A response that arrived while this request queued for a slot may have closed
		// the host: give the slot back and queue again from the gate, for a fresh token
		// too, so the reopened host is not hit at once by every request that queued.
		if until, _, _ := h.gate(); !until.After(clk.Now()) {
			return nil
		}
		h.release()
	}
}

// reserve waits until the host is open and its limiter grants this request a token.
func (h *host) reserve(ctx context.Context, clk clock.Clock, maxWait time.Duration) error {
	for {
		now := clk.Now()
		until, quota, changed := h.gate()
		if d := until.Sub(now); d > 0 {
			if d > maxWait || quota {
				return &HostClosedError{Host: h.name, Until: until, Quota: quota}
			}
			if err := sleepOrChange(ctx, clk, d, changed); err != nil {
				return err
			}
			continue
		}
		r := h.lim.ReserveN(now, 1)
		if !r.OK() {
			return &HostClosedError{Host: h.name, Until: now.Add(maxWait)}
		}
		d := r.DelayFrom(now)
		if d == 0 {
			return nil
		}
		if err := sleepOrChange(ctx, clk, d, changed); err != nil {
			r.CancelAt(clk.Now())
			return err
		}
		select {
		case <-changed:
			// The limit fell or the gate closed while this request waited: give the
			// token back and queue again, so nothing slips through at the old rate or
			// into a Retry-After window.
			r.CancelAt(clk.Now())
			continue
		default:
		}
		return nil
	}
}

func (h *host) release() { <-h.sem }

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

// HostClosedError says that a host is in a cooldown longer than the caller may wait, or
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

// registry maps host[:port] to its state.
type registry struct {
	mu       sync.Mutex
	hosts    map[string]*host
	limitFor func(host string) HostLimit
	provider func(host string) string
	onNew    func(h *host)
}

func (r *registry) get(name string) *host {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.hosts[name]; ok {
		return h
	}
	h := newHost(name, r.provider(name), r.limitFor(name))
	r.hosts[name] = h
	if r.onNew != nil {
		r.onNew(h)
	}
	return h
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
