package learning

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Status is a host's learning state as shown by provider-learning-status.
type Status string

// The statuses a host can be in.
const (
	StatusNormal         Status = "normal"          // no reduction in force
	StatusReducing       Status = "reducing"        // the last change lowered the rate
	StatusRecovering     Status = "recovering"      // a reduction is in force and shrinking
	StatusQuotaExhausted Status = "quota_exhausted" // out of quota until QuotaResetAt
)

// maxRecoveryTimes is how many Retry-After values a host keeps.
const maxRecoveryTimes = 50

// ProviderBehavior is what the learner knows about one provider@host: the unit of the
// learning file, of Snapshot and of the status output.
type ProviderBehavior struct {
	Provider            string     `json:"provider"`
	Host                string     `json:"host"`
	Consecutive429s     int        `json:"consecutive_429s"`
	Total429s           int64      `json:"total_429s"`
	TotalRequests       int64      `json:"total_requests"`
	RecoveryTimes       []float64  `json:"recovery_times"` // the last 50 congestion Retry-After values, seconds
	AppliedReductionPct float64    `json:"applied_reduction_pct"`
	ConfiguredRPS       float64    `json:"configured_rps"`
	EffectiveRPS        float64    `json:"effective_rps"`
	CeilingRPS          float64    `json:"ceiling_rps,omitempty"`   // advertised by rate-limit headers
	LastGoodRPS         float64    `json:"last_good_rps,omitempty"` // the plateau recovery climbs back to, while a reduction is in force
	Last429At           *time.Time `json:"last_429_at,omitempty"`
	UpdatedAt           time.Time  `json:"updated_at"`
	QuotaResetAt        *time.Time `json:"quota_reset_at,omitempty"`
	Status              Status     `json:"status"`
}

// Key returns the learning file's key for a host: "provider@host".
func Key(provider, host string) string { return provider + "@" + host }

// SplitKey splits a "provider@host" key at its first '@'. ok is false when there is no
// '@' or either side is empty.
func SplitKey(key string) (provider, host string, ok bool) {
	provider, host, ok = strings.Cut(key, "@")
	if !ok || provider == "" || host == "" {
		return "", "", false
	}
	return provider, host, true
}

// Key returns b's "provider@host" key.
func (b ProviderBehavior) Key() string { return Key(b.Provider, b.Host) }

// clone returns a deep copy of b.
func (b ProviderBehavior) clone() ProviderBehavior {
	c := b
	if b.RecoveryTimes != nil {
		c.RecoveryTimes = append([]float64(nil), b.RecoveryTimes...)
	}
	if b.Last429At != nil {
		t := *b.Last429At
		c.Last429At = &t
	}
	if b.QuotaResetAt != nil {
		t := *b.QuotaResetAt
		c.QuotaResetAt = &t
	}
	return c
}

// RecoveryEstimate is the median of RecoveryTimes, or 2 s when there are none.
func (b ProviderBehavior) RecoveryEstimate() time.Duration {
	return medianSeconds(b.RecoveryTimes)
}

// defaultRecoveryEstimate is shown when a host never sent a usable Retry-After.
const defaultRecoveryEstimate = 2 * time.Second

func medianSeconds(v []float64) time.Duration {
	xs := make([]float64, 0, len(v))
	for _, x := range v {
		if x >= 0 && !math.IsNaN(x) && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return defaultRecoveryEstimate
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return time.Duration(m * float64(time.Second))
}

// StatusAt is b's status as of now: a quota mark whose reset has passed no longer
// holds, and the status falls back to what the reduction says.
func (b ProviderBehavior) StatusAt(now time.Time) Status {
	if b.QuotaResetAt != nil && now.Before(*b.QuotaResetAt) {
		return StatusQuotaExhausted
	}
	if b.Status == StatusQuotaExhausted || b.Status == "" {
		if b.AppliedReductionPct > 0 {
			return StatusRecovering
		}
		return StatusNormal
	}
	if b.AppliedReductionPct <= 0 {
		return StatusNormal
	}
	return b.Status
}

// Rows returns the file's entries sorted by key, each a deep copy whose Provider and
// Host are filled from the key when the entry lacks them.
func (f *File) Rows() []ProviderBehavior {
	if f == nil {
		return nil
	}
	keys := make([]string, 0, len(f.Providers))
	for k := range f.Providers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]ProviderBehavior, 0, len(keys))
	for _, k := range keys {
		b := f.Providers[k].clone()
		if p, h, ok := SplitKey(k); ok {
			if b.Provider == "" {
				b.Provider = p
			}
			if b.Host == "" {
				b.Host = h
			}
		}
		rows = append(rows, b)
	}
	return rows
}

// Relaxed returns b as the next run would start from it at now: the reduction relaxed
// linearly over cfg.ForgetAfter since b.UpdatedAt, the last good rate relaxed alike, the
// effective rate recomputed, and the status re-evaluated (an expired quota mark
// cleared). It is what Open applies, exposed so the status command can show it.
func Relaxed(b ProviderBehavior, cfg Config, now time.Time) ProviderBehavior {
	r := b.clone()
	frac := 1.0
	if cfg.ForgetAfter > 0 && !b.UpdatedAt.IsZero() {
		elapsed := now.Sub(b.UpdatedAt)
		if elapsed > 0 {
			frac = 1 - float64(elapsed)/float64(cfg.ForgetAfter)
		}
	}
	if frac < 0 {
		frac = 0
	}
	pct := clampPct(b.AppliedReductionPct, cfg.MaxReductionPct)
	r.AppliedReductionPct = roundPct(pct * frac)
	if b.LastGoodRPS > 0 && b.ConfiguredRPS > 0 && b.LastGoodRPS < b.ConfiguredRPS {
		r.LastGoodRPS = b.ConfiguredRPS - (b.ConfiguredRPS-b.LastGoodRPS)*frac
	}
	if frac == 0 {
		r.LastGoodRPS = 0
	}
	if r.QuotaResetAt != nil && !now.Before(*r.QuotaResetAt) {
		r.QuotaResetAt = nil
	}
	if r.ConfiguredRPS > 0 {
		r.EffectiveRPS = effectiveRPS(r.ConfiguredRPS, r.AppliedReductionPct, r.CeilingRPS, cfg.MinRPS)
	}
	r.Status = r.StatusAt(now)
	return r
}

// clampPct bounds a reduction to [0, max], mapping NaN to 0.
func clampPct(p, max float64) float64 {
	if math.IsNaN(p) || p < 0 {
		return 0
	}
	if p > max {
		return max
	}
	return p
}

// roundPct rounds a reduction to 1e-9 points so that float noise never leaves a
// host at 0.0000000001 % "recovering".
func roundPct(p float64) float64 {
	r := math.Round(p*1e9) / 1e9
	if r <= 0 {
		return 0
	}
	return r
}

// effectiveRPS is configured × (1 − pct/100), computed as configured × (100 − pct) / 100
// so that round percentages give exact results (10 rps at 80 % is 2.0), never truncated, with
// the floor min(configured, minRPS), then capped by an advertised ceiling.
func effectiveRPS(configured, pct, ceiling, minRPS float64) float64 {
	if configured <= 0 || math.IsInf(configured, 1) {
		if ceiling > 0 {
			return ceiling
		}
		return configured
	}
	eff := configured * (100 - pct) / 100
	floor := math.Min(configured, minRPS)
	if eff < floor {
		eff = floor
	}
	if ceiling > 0 && ceiling < eff {
		eff = ceiling
	}
	return eff
}

// FilterRows keeps the rows whose "provider@host" key contains substr, ignoring case.
// An empty substr keeps every row. The result is a new slice.
func FilterRows(rows []ProviderBehavior, substr string) []ProviderBehavior {
	out := make([]ProviderBehavior, 0, len(rows))
	needle := strings.ToLower(substr)
	for _, b := range rows {
		if needle == "" || strings.Contains(strings.ToLower(b.Key()), needle) {
			out = append(out, b)
		}
	}
	return out
}
