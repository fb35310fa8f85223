package learning

import (
	"math"
	"time"
)

// Tier is one step of the episode schedule: an episode (a run of 429s on a host with no
// success between them) that reaches Threshold consecutive 429s is worth StepPct
// points of reduction in total. An episode counts once, at the highest tier it reached.
type Tier struct {
	Threshold int     // consecutive 429s that reach this tier
	StepPct   float64 // reduction in percentage points the whole episode is worth at this tier
}

// Config tunes the learner. The zero value is not usable; start from DefaultConfig and
// override what the user set. internal/config validates the learning.* keys (the one
// place their bounds are written) before a Config reaches the tracker.
type Config struct {
	// MaxReductionPct caps the applied reduction (percentage points of the configured
	// rate).
	MaxReductionPct float64
	// MinRPS is the floor of the learned rate (a configured rate below it is kept as is).
	MinRPS float64
	// Tiers is the episode schedule, in increasing Threshold and StepPct order.
	Tiers []Tier
	// Window is the time constant of the windowed trigger's exponentially decaying
	// counts: events older than about one Window weigh little.
	Window time.Duration
	// WindowMinRequests is how many (decayed) responses the window must hold before its
	// 429 share is trusted. The window also needs two 429s since the last reduction.
	WindowMinRequests int
	// Window429Share is the 429 share of the window above which a 429 reduces the rate
	// to Beta × the host's estimated capacity (between the accepted rate it measured and
	// the rate we were sending at).
	Window429Share float64
	// Beta is the multiplicative decrease of the windowed trigger (AWS adaptive retry
	// uses 0.7). Beta² × the sending rate is also the deepest one cut of the measured
	// rule goes.
	Beta float64
	// RecoveryInterval is the length of one clean (429-free) interval. During the first
	// one after a reduction the rate climbs back to the last good rate along a concave
	// cubic; after it, it probes above that rate along a convex cubic.
	RecoveryInterval time.Duration
	// RecoveryStepPct caps the probe above the last good rate, in percentage points of
	// the configured rate per clean RecoveryInterval; it is also the additive step when
	// no last good rate is known.
	RecoveryStepPct float64
	// ForgetAfter is how long a persisted reduction takes to relax fully back to the
	// configured rate while nothing refreshes it.
	ForgetAfter time.Duration
	// MaxWait is retry.max_wait: a Retry-After or reset further away than this is a
	// quota, not congestion.
	MaxWait time.Duration
	// SaveEvery is the minimum interval between periodic saves (SaveIfDue).
	SaveEvery time.Duration
	// Share, when set, is the share of each host's traffic that this process sends:
	// 1/members in a fleet that shares the hosts' budgets (docs/fleet.md). The rates
	// the rules measure from this process's responses are divided by it, so that they
	// are the fleet's, as the rate the learner sets is. Nil means 1.
	Share func() float64
}

// scale is 1/Share: what a rate measured here is multiplied by to be the fleet's.
func (c *Config) scale() float64 {
	if c.Share == nil {
		return 1
	}
	s := c.Share()
	if s <= 0 || s > 1 || math.IsNaN(s) {
		return 1
	}
	return 1 / s
}

// DefaultConfig returns the documented defaults (see docs/provider-learning.md).
func DefaultConfig() Config {
	return Config{
		MaxReductionPct:   80,
		MinRPS:            0.05,
		Tiers:             []Tier{{Threshold: 3, StepPct: 10}, {Threshold: 5, StepPct: 20}, {Threshold: 10, StepPct: 30}},
		Window:            60 * time.Second,
		WindowMinRequests: 10,
		Window429Share:    0.05,
		Beta:              0.7,
		RecoveryInterval:  30 * time.Second,
		RecoveryStepPct:   10,
		ForgetAfter:       7 * 24 * time.Hour,
		MaxWait:           60 * time.Second,
		SaveEvery:         5 * time.Second,
	}
}

// tierStep returns the StepPct an episode of n consecutive 429s is worth (0 below the
// first threshold).
func (c Config) tierStep(n int) float64 {
	step := 0.0
	for _, tr := range c.Tiers {
		if n >= tr.Threshold {
			step = tr.StepPct
		}
	}
	return step
}
