package fetch

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/policy"
)

// HostStats counts what happened on one host.
type HostStats struct {
	Host          string           `json:"host"`
	Provider      string           `json:"provider"`
	Requests      int64            `json:"requests"`
	Successes     int64            `json:"successes"`
	Status        map[int]int64    `json:"status,omitempty"`
	Errors        map[string]int64 `json:"errors,omitempty"`
	Count429      int64            `json:"429s"`
	Retries       int64            `json:"retries"`
	Bytes         int64            `json:"bytes"`
	ConfiguredRPS float64          `json:"configured_rps"`
	EffectiveRPS  float64          `json:"effective_rps"`
	P50MS         float64          `json:"p50_ms"`
	P95MS         float64          `json:"p95_ms"`
}

// maxLatencySamples bounds the per-host latency reservoir.
const maxLatencySamples = 4096

// latencies keeps a bounded, evenly thinned sample of request latencies.
type latencies struct {
	samples []time.Duration
	seen    int64
}

func (l *latencies) add(d time.Duration) {
	l.seen++
	if len(l.samples) < maxLatencySamples {
		l.samples = append(l.samples, d)
		return
	}
	// Deterministic thinning: overwrite a slot chosen by the sequence number.
	l.samples[l.seen%maxLatencySamples] = d
}

func (l *latencies) quantiles() (p50, p95 time.Duration) {
	if len(l.samples) == 0 {
		return 0, 0
	}
	s := slices.Clone(l.samples)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return at(0.50), at(0.95)
}

// OpStats counts retry decisions per operation.
type OpStats struct {
	Retries   int64 `json:"retries"`
	Defers    int64 `json:"defers"`
	Failovers int64 `json:"failovers"`
	Fails     int64 `json:"fails"`
}

type opCounters struct {
	mu sync.Mutex
	m  [8]OpStats
}

func (c *opCounters) add(op policy.OperationType, a policy.Action) {
	if int(op) >= len(c.m) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.m[op]
	switch a {
	case policy.Retry:
		s.Retries++
	case policy.Defer:
		s.Defers++
	case policy.Failover:
		s.Failovers++
	case policy.Fail:
		s.Fails++
	}
}

func (c *opCounters) snapshot() map[string]OpStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]OpStats{}
	for _, op := range policy.Operations() {
		if s := c.m[op]; s != (OpStats{}) {
			out[op.String()] = s
		}
	}
	return out
}

func (h *host) record(status int, errKind policy.ErrKind, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Requests++
	if errKind != policy.ErrNone {
		if h.stats.Errors == nil {
			h.stats.Errors = map[string]int64{}
		}
		h.stats.Errors[errKind.String()]++
		return
	}
	if h.stats.Status == nil {
		h.stats.Status = map[int]int64{}
	}
	h.stats.Status[status]++
	if status == 429 {
		h.stats.Count429++
	}
	if status < 400 {
		h.stats.Successes++
	}
	h.lat.add(d)
}

func (h *host) addRetry() {
	h.mu.Lock()
	h.stats.Retries++
	h.mu.Unlock()
}

func (h *host) addBytes(n int64) {
	h.mu.Lock()
	h.stats.Bytes += n
	h.mu.Unlock()
}

func (h *host) snapshot() HostStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Host, s.Provider = h.name, h.provider
	s.Status = cloneMap(h.stats.Status)
	s.Errors = cloneMap(h.stats.Errors)
	s.ConfiguredRPS = h.limit.RPS
	s.EffectiveRPS = float64(h.lim.Limit())
	p50, p95 := h.lat.quantiles()
	s.P50MS, s.P95MS = ms(p50), ms(p95)
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortHostStats(s []HostStats) {
	sort.Slice(s, func(i, j int) bool { return s[i].Host < s[j].Host })
}
