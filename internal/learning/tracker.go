package learning

import (
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/providers"
)

// Limiter is what the tracker drives; *rate.Limiter satisfies it. The fetch layer passes
// a wrapper that also wakes requests already waiting so they re-reserve at the new rate.
type Limiter interface {
	SetLimitAt(t time.Time, l rate.Limit)
	SetBurstAt(t time.Time, b int)
}

// Observation is one response (or transport error) from a host.
type Observation struct {
	Host   string      // host[:port]
	Status int         // HTTP status; 0 for a transport error
	Header http.Header // response headers; may be nil
}

// Effect tells the fetch layer what to do to the host gate after an observation.
type Effect struct {
	CooldownUntil  time.Time // zero if none: from Remaining: 0 + reset, or a quota
	QuotaExhausted bool      // out of quota until CooldownUntil: defer its works, send nothing more this run
}

// Tracker learns each host's rate limit from the responses it observes. It is safe for
// concurrent use; every method is cheap except Open, Save and SaveIfDue, which do I/O.
// It starts no goroutines: recovery is evaluated lazily against the injected clock.
type Tracker struct {
	cfg Config
	clk clock.Clock
	log *slog.Logger

	mu     sync.RWMutex
	byKey  map[string]*hostState // every entry: loaded from the file or seen in this process
	byHost map[string]*hostState // the entry that Observe updates for a host
	path   string                // set by Open

	gen atomic.Uint64 // bumped on every change; Save records the generation it wrote

	saveMu   sync.Mutex // serialises Save
	savedGen uint64     // guarded by saveMu
	lastSave time.Time  // guarded by saveMu
	hasSaved bool       // guarded by saveMu
	asideSeq int        // guarded by saveMu: tells apart aside names made within one second
}

// NewTracker returns an empty tracker. cfg should be valid (internal/config validates
// it). clk tells the time of every observation and save, and paces the wait for another
// process's lock on the learning file (fileperm.LockWait); nil means the wall clock.
// log nil discards.
func NewTracker(cfg Config, clk clock.Clock, log *slog.Logger) *Tracker {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Tracker{
		cfg:    cfg,
		clk:    clk,
		log:    log,
		byKey:  make(map[string]*hostState),
		byHost: make(map[string]*hostState),
	}
}

// Config returns the tracker's configuration.
func (t *Tracker) Config() Config { return t.cfg }

// Register attaches a host's limiter and its configured rate and burst. Learned state
// for the host (loaded earlier by Open) is applied to lim immediately, so the first
// request already goes out at the learned rate. Registering a host again replaces its
// limiter and configuration. A nil lim is allowed: the host is then tracked but not
// controlled.
func (t *Tracker) Register(provider, host string, configuredRPS float64, burst int, lim Limiter) {
	if provider == "" {
		provider = providers.Web
	}
	now := t.clk.Now()
	key := Key(provider, host)

	t.mu.Lock()
	hs := t.byKey[key]
	if hs == nil {
		hs = newHostState(provider, host)
		t.byKey[key] = hs
	}
	// A host observed before it was registered was filed under the default label;
	// fold those observations into the registered entry.
	if prev := t.byHost[host]; prev != nil && prev != hs && prev.createdUnregistered && !prev.loaded {
		prev.mu.Lock()
		hs.mu.Lock()
		hs.absorb(prev)
		hs.mu.Unlock()
		prev.mu.Unlock()
		delete(t.byKey, prev.key())
	}
	t.byHost[host] = hs
	t.mu.Unlock()

	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.active = true
	hs.createdUnregistered = false
	hs.setConfigured(configuredRPS, t.cfg.MaxReductionPct)
	hs.burst = burst
	hs.lim = lim
	hs.refresh(&t.cfg, now, t.log)
	hs.apply(&t.cfg, now, true)
	t.gen.Add(1)
}

// Observe records one response or transport error and adapts the host's limit. It is
// safe for concurrent use and cheap (no I/O, no allocation on the common path).
func (t *Tracker) Observe(o Observation) Effect {
	now := t.clk.Now()
	hs := t.hostFor(o.Host)
	hs.mu.Lock()
	eff := hs.observe(&t.cfg, now, o, t.log)
	hs.mu.Unlock()
	t.gen.Add(1)
	return eff
}

// hostFor returns the entry Observe updates for host, creating an unregistered one
// (labelled providers.Web, "web") when the host is unknown.
func (t *Tracker) hostFor(host string) *hostState {
	t.mu.RLock()
	hs := t.byHost[host]
	t.mu.RUnlock()
	if hs != nil {
		return hs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if hs = t.byHost[host]; hs != nil {
		return hs
	}
	key := Key(providers.Web, host)
	if hs = t.byKey[key]; hs == nil {
		hs = newHostState(providers.Web, host)
		hs.createdUnregistered = true
		t.byKey[key] = hs
	}
	t.byHost[host] = hs
	return hs
}

// lookup returns the entry for host without creating one.
func (t *Tracker) lookup(host string) *hostState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byHost[host]
}

// QuotaExhausted reports whether the host is out of quota (from this run or a persisted
// mark of an earlier one) and until when.
func (t *Tracker) QuotaExhausted(host string) (until time.Time, ok bool) {
	hs := t.lookup(host)
	if hs == nil {
		return time.Time{}, false
	}
	now := t.clk.Now()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.quotaUntil != 0 && now.UnixNano() < hs.quotaUntil {
		return time.Unix(0, hs.quotaUntil).UTC(), true
	}
	return time.Time{}, false
}

// Snapshot returns the hosts registered or observed by this process, sorted by key, as
// deep copies with recovery evaluated at the current time.
func (t *Tracker) Snapshot() []ProviderBehavior {
	now := t.clk.Now()
	t.mu.RLock()
	states := make([]*hostState, 0, len(t.byKey))
	for _, hs := range t.byKey {
		states = append(states, hs)
	}
	t.mu.RUnlock()
	out := make([]ProviderBehavior, 0, len(states))
	for _, hs := range states {
		hs.mu.Lock()
		if hs.active {
			if hs.refresh(&t.cfg, now, t.log) {
				t.gen.Add(1)
			}
			hs.apply(&t.cfg, now, false)
			out = append(out, hs.behavior(&t.cfg, now))
		}
		hs.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Behavior returns a deep copy of what is known about host, with recovery evaluated at
// the current time. It also answers for hosts only loaded from the file.
func (t *Tracker) Behavior(host string) (ProviderBehavior, bool) {
	hs := t.lookup(host)
	if hs == nil {
		return ProviderBehavior{}, false
	}
	now := t.clk.Now()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.refresh(&t.cfg, now, t.log) {
		t.gen.Add(1)
	}
	hs.apply(&t.cfg, now, false)
	return hs.behavior(&t.cfg, now), true
}
