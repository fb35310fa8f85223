package learning

import (
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// settleMin is how long after a reduction further 429s are taken as answers to
// requests sent before it (they were already in flight), so they cannot trigger the
// windowed rule again or lower the last good rate. A Retry-After pause running at the
// time of the reduction extends it.
const settleMin = time.Second

// A 429 that no rule turns into a reduction (an isolated push-back while a reduction
// is in force) drops the rate to pushBackDrop × the rate that was pushed back and sets
// the plateau of the next climb to pushBackPlateau × it: a small, short dip, because a
// lone 429 at a learned rate says the rate is about right, not that it is far off.
// Tuned with the simulated benchmark in sim_test.go and the bench suite.
const (
	pushBackDrop    = 0.95
	pushBackPlateau = 0.98
)

// The measured rule: when the host accepted less than (1 − measuredSlack) × the
// sending rate between two congestion signals, the rate drops to measuredMargin × the
// accepted rate (AWS adaptive retry's "β × the measured rate", with the rate measured
// between throttles, where the host's bucket is empty at both ends, so it is the
// host's refill rate). measuredMinSpan and measuredMinOK are the least evidence it
// needs.
const (
	measuredSlack   = 0.1
	measuredMargin  = 0.95
	measuredMinSpan = 500 * time.Millisecond
	measuredMinOK   = 5
)

// reducedBurstShare scales the burst while a reduction is in force: half of the burst
// scaled with the rate, so that after a Retry-After pause the requests saved up do not
// empty the host's refilled bucket at once and come back as a run of 429s.
const reducedBurstShare = 0.5

// A host that has not yet shown what it accepts (no learned state, and no clean
// RecoveryInterval at the configured rate in this run) gets at most coldBurst worth of
// its configured rate as a burst: a slow start, like TCP's initial window. Eight
// workers emptying a full configured burst into an unknown host at once come back as
// a run of 429s before the first of them can close the host gate.
const coldBurst = 200 * time.Millisecond

// minRateStep is the smallest relative rate increase recovery applies to the limiter;
// smaller steps wait, so the limiter is not touched on every response.
const minRateStep = 0.05

// direction of the last change of the reduction, for the status.
const (
	dirNone int8 = iota
	dirReducing
	dirRecovering
)

// retryAfterRing holds the last maxRecoveryTimes Retry-After values of a host (float32 is
// exact for whole seconds and keeps a host's memory small).
type retryAfterRing struct {
	buf  [maxRecoveryTimes]float32
	n    uint8 // values held
	next uint8 // index of the next write
}

func (r *retryAfterRing) add(v float64) {
	r.buf[r.next] = float32(v)
	r.next = (r.next + 1) % maxRecoveryTimes
	if r.n < maxRecoveryTimes {
		r.n++
	}
}

// values returns the held values, oldest first.
func (r *retryAfterRing) values() []float64 {
	if r == nil || r.n == 0 {
		return []float64{}
	}
	out := make([]float64, 0, r.n)
	start := (int(r.next) - int(r.n) + maxRecoveryTimes) % maxRecoveryTimes
	for i := 0; i < int(r.n); i++ {
		out = append(out, float64(r.buf[(start+i)%maxRecoveryTimes]))
	}
	return out
}

// last returns the newest k values, oldest first.
func (r *retryAfterRing) last(k int) []float64 {
	v := r.values()
	if k < len(v) {
		v = v[len(v)-k:]
	}
	return v
}

// hostState is the per-host learning state. Times are Unix nanoseconds (0 = none) to
// keep it small: see TestMemory1000Hosts.
type hostState struct {
	mu sync.Mutex

	provider, host string
	lim            Limiter
	burst          int

	configuredRPS float64 // configured rps; <= 0 or +Inf: not controlled
	ceilingRPS    float64 // advertised by headers; 0 = none
	reductionPct  float64 // applied reduction, percentage points
	lastGoodRPS   float64 // the rate the host last pushed back at (CUBIC's W_max); 0 = unknown

	total429s, totalRequests int64
	saved429s, savedRequests int64 // what the file already held at the last save or load
	retryAfters              *retryAfterRing
	retryAftersUnsaved       uint8 // how many of retryAfters' newest values are not saved yet

	consecutive429s int32   // the current episode's length
	episodeStep     float64 // points the current episode has been worth so far
	episodeBase     float64 // the reduction in force when the current episode began

	// The measured rule: accepted responses since the last congestion signal (a 429
	// that was not a straggler), or since the first response of this process.
	lastSignalAt, firstResponseAt, signalPauseEnd int64
	acceptedSinceSignal, responsesSinceSignal     int32 // accepted and all (non-5xx) responses since then

	last429At, updatedAt, quotaUntil int64
	cleanSince                       int64   // start of the current clean stretch
	cleanSinceRPS                    float64 // learned rate at cleanSince
	pauseUntil                       int64   // a Retry-After pause (or reset cooldown) runs until then
	settleUntil                      int64   // 429s before then answer requests sent before the last reduction

	// The windowed trigger's exponentially decaying counts (time constant cfg.Window).
	windowResponses, window429s, windowAccepted float64
	windowUpdatedAt, windowStartedAt            int64
	raw429sInWindow                             uint32 // raw 429s since the window was reset

	appliedRate  float64 // last rate given to lim
	appliedBurst int

	direction           int8 // the last change: dirNone, dirReducing or dirRecovering
	proven              bool // the host has shown what it accepts: no cold-start burst cap
	active              bool // registered or observed by this process
	observed            bool // observed by this process: only such entries are saved
	loaded              bool // came from the file
	createdUnregistered bool // created by Observe for a host never registered
}

func newHostState(provider, host string) *hostState {
	return &hostState{provider: provider, host: host}
}

func (hs *hostState) key() string { return Key(hs.provider, hs.host) }

// controlled reports whether the host has a finite configured rate to reduce.
func (hs *hostState) controlled() bool {
	return hs.configuredRPS > 0 && !math.IsInf(hs.configuredRPS, 1)
}

// learned is configuredRPS × (1 − reductionPct/100) before the floor and the ceiling.
func (hs *hostState) learned() float64 { return hs.configuredRPS * (100 - hs.reductionPct) / 100 }

func (hs *hostState) effective(cfg *Config) float64 {
	return effectiveRPS(hs.configuredRPS, hs.reductionPct, hs.ceilingRPS, cfg.MinRPS)
}

// setConfigured changes the configured rate, keeping the learned absolute rate: a
// reduction learned against 25 rps that allowed 10 rps still allows 10 rps (0 %
// reduction) when the user now configures 8. The cap still bounds the reduction.
func (hs *hostState) setConfigured(c, maxPct float64) {
	if hs.configuredRPS > 0 && !math.IsInf(hs.configuredRPS, 1) && c > 0 && !math.IsInf(c, 1) && c != hs.configuredRPS && hs.reductionPct > 0 {
		abs := hs.learned()
		hs.reductionPct = roundPct(clampPct(100*(1-abs/c), maxPct))
		hs.cleanSinceRPS = c * (100 - hs.reductionPct) / 100
	}
	hs.configuredRPS = c
}

// absorb folds the counts of an entry created before registration into hs.
func (hs *hostState) absorb(prev *hostState) {
	hs.totalRequests += prev.totalRequests
	hs.total429s += prev.total429s
	if prev.last429At > hs.last429At {
		hs.last429At = prev.last429At
	}
	if prev.quotaUntil > hs.quotaUntil {
		hs.quotaUntil = prev.quotaUntil
	}
	if prev.retryAfters != nil {
		for _, v := range prev.retryAfters.values() {
			hs.addRecoveryTime(v)
		}
	}
	hs.consecutive429s, hs.episodeStep, hs.episodeBase = prev.consecutive429s, prev.episodeStep, prev.episodeBase
	hs.lastSignalAt, hs.firstResponseAt, hs.signalPauseEnd, hs.acceptedSinceSignal, hs.responsesSinceSignal = prev.lastSignalAt, prev.firstResponseAt, prev.signalPauseEnd, prev.acceptedSinceSignal, prev.responsesSinceSignal
	if prev.ceilingRPS > 0 {
		hs.ceilingRPS = prev.ceilingRPS
	}
	hs.windowResponses, hs.window429s, hs.windowAccepted, hs.windowUpdatedAt, hs.windowStartedAt, hs.raw429sInWindow = prev.windowResponses, prev.window429s, prev.windowAccepted, prev.windowUpdatedAt, prev.windowStartedAt, prev.raw429sInWindow
	if prev.pauseUntil > hs.pauseUntil {
		hs.pauseUntil = prev.pauseUntil
	}
}

func (hs *hostState) addRecoveryTime(v float64) {
	if hs.retryAfters == nil {
		hs.retryAfters = &retryAfterRing{}
	}
	hs.retryAfters.add(v)
	if hs.retryAftersUnsaved < maxRecoveryTimes {
		hs.retryAftersUnsaved++
	}
}

// observe is Observe for one host, with hs.mu held.
func (hs *hostState) observe(cfg *Config, now time.Time, o Observation, log *slog.Logger) Effect {
	nowNS := now.UnixNano()
	hs.active, hs.observed = true, true
	hs.totalRequests++
	hs.updatedAt = nowNS
	if hs.firstResponseAt == 0 {
		hs.firstResponseAt = nowNS
	}
	hs.refresh(cfg, now, log)

	var eff Effect
	var info RateInfo
	if len(o.Header) > 0 {
		info = ParseRateLimitHeaders(o.Header, now)
		if info.HasLimit && info.LimitRPS != hs.ceilingRPS {
			if hs.ceilingRPS == 0 {
				log.Info("provider advertises a rate limit", "provider", hs.provider, "host", hs.host, "rps", info.LimitRPS)
			}
			hs.ceilingRPS = info.LimitRPS
		}
	}

	switch {
	case o.Status == http.StatusTooManyRequests:
		hs.on429(cfg, now, o.Header, info, log)
	case o.Status >= 100 && o.Status < 500:
		// The server answered without throttling: the episode ends.
		hs.consecutive429s, hs.episodeStep = 0, 0
		hs.windowAdd(cfg, nowNS, false)
		if hs.acceptedSinceSignal < math.MaxInt32 {
			hs.acceptedSinceSignal++
			hs.responsesSinceSignal++
		}
	default:
		// 5xx and transport errors neither end nor extend an episode and say nothing
		// about the rate the host accepts.
	}

	if info.HasRemaining && info.Remaining <= 0 && info.HasReset {
		wait := info.Reset.Sub(now)
		switch {
		case wait > cfg.MaxWait:
			hs.markQuota(now, info.Reset, log)
		case wait > 0:
			eff.CooldownUntil = info.Reset
			if r := info.Reset.UnixNano(); r > hs.pauseUntil {
				hs.pauseUntil = r
			}
		}
	}

	if hs.quotaUntil != 0 && nowNS < hs.quotaUntil {
		eff.QuotaExhausted = true
		eff.CooldownUntil = time.Unix(0, hs.quotaUntil)
	}
	hs.apply(cfg, now, false)
	return eff
}

// on429 handles a 429: a quota if its wait is beyond MaxWait, congestion otherwise.
func (hs *hostState) on429(cfg *Config, now time.Time, h http.Header, info RateInfo, log *slog.Logger) {
	nowNS := now.UnixNano()
	hs.total429s++
	hs.last429At = nowNS

	ra, hasRA := time.Duration(0), false
	if h != nil {
		ra, hasRA = parseRetryAfter(h.Get("Retry-After"), now)
	}
	wait, hasWait := ra, hasRA
	if !hasWait && info.HasReset {
		wait, hasWait = info.Reset.Sub(now), true
	}
	if hasWait && wait > cfg.MaxWait {
		hs.markQuota(now, now.Add(wait), log)
		return
	}

	// Congestion.
	straggler := nowNS < hs.settleUntil
	if hasRA {
		hs.addRecoveryTime(ra.Seconds())
		if p := now.Add(ra).UnixNano(); p > hs.pauseUntil {
			hs.pauseUntil = p
		}
	}
	if hs.responsesSinceSignal < math.MaxInt32 {
		hs.responsesSinceSignal++
	}
	hs.consecutive429s++
	if hs.consecutive429s == 1 {
		hs.episodeBase = hs.reductionPct
	}
	if !straggler {
		hs.windowAdd(cfg, nowNS, true)
	}
	if !hs.controlled() {
		if !straggler {
			hs.signal(nowNS)
		}
		return
	}

	sending := hs.effective(cfg) // the rate the host pushed back at
	capacity := hs.capacityEstimate(cfg, nowNS, sending)
	good := capacity // the last good rate, should a rule reduce
	newPct := hs.reductionPct
	reason := ""
	// The episode is worth its tier over the reduction in force when it began, so the
	// 429s of one episode never compound with each other, nor with a cut another rule
	// made during the episode.
	if step := cfg.tierStep(int(hs.consecutive429s)); step > hs.episodeStep {
		hs.episodeStep = step
		if tp := hs.episodeBase + step; tp > newPct {
			newPct, reason = tp, "episode"
		}
	}
	if !straggler {
		measured, demand, ok := hs.measuredRate(nowNS, cfg.scale())
		hs.signal(nowNS)
		switch {
		case ok && measured < (1-measuredSlack)*math.Min(sending, demand):
			// Over-driven: drop to just below what the host took. It took at least
			// that (a host whose bucket filled up during a pause took less than it
			// could), and less than we sent: the climb heads for the midpoint.
			target := math.Max(measuredMargin*measured, cfg.Beta*cfg.Beta*sending)
			if tp := 100 * (1 - target/hs.configuredRPS); tp > newPct {
				newPct, reason, good = tp, "measured", math.Sqrt(math.Max(measured, target)*math.Min(sending, demand))
			}
		case hs.windowTriggered(cfg):
			target := cfg.Beta * capacity
			if tp := 100 * (1 - target/hs.configuredRPS); tp > newPct {
				newPct, reason = tp, "window"
			}
		}
	}
	newPct = roundPct(math.Min(newPct, cfg.MaxReductionPct))

	if newPct > hs.reductionPct {
		if !straggler {
			hs.lastGoodRPS = good
		}
		old := hs.reductionPct
		hs.reductionPct = newPct
		hs.direction = dirReducing
		hs.settle(nowNS)
		hs.cleanSince, hs.cleanSinceRPS = nowNS, hs.learned()
		hs.windowReset(nowNS)
		log.Info("provider rate reduced", "provider", hs.provider, "host", hs.host, "trigger", reason,
			"reduction_pct", newPct, "was_pct", old, "effective_rps", hs.effective(cfg), "consecutive_429s", hs.consecutive429s)
		return
	}
	if straggler || hs.reductionPct <= 0 {
		// At the configured rate an isolated 429 is tolerated: only the episode,
		// measured and window rules reduce from there.
		return
	}
	// Pushed back while recovering, without a rule firing: the host took about what we
	// sent, so the rate is about right. Dip a little (a token-bucket host needs a spell
	// below its rate to refill before it accepts a burst again) and make a new plateau
	// a little below the rate that was pushed back. When that rate was a probe above
	// the last good rate, the plateau is at most the geometric midpoint of the two, so
	// repeated probes bisect the gap on a log scale. The climb to the plateau and the
	// probing after it then start again.
	plateau := sending * pushBackPlateau
	if w := hs.lastGoodRPS; w > 0 && w < plateau {
		plateau = min(plateau, math.Sqrt(w*sending))
	}
	drop := sending * pushBackDrop
	hs.lastGoodRPS = plateau
	if bp := roundPct(math.Min(100*(1-drop/hs.configuredRPS), cfg.MaxReductionPct)); bp > hs.reductionPct {
		hs.reductionPct = bp
		hs.direction = dirReducing
		hs.settle(nowNS)
	}
	hs.cleanSince, hs.cleanSinceRPS = nowNS, hs.learned()
}

// signal starts a new measuring interval at a congestion signal. The Retry-After pause
// it started (known by now) is left out of the demand.
func (hs *hostState) signal(nowNS int64) {
	hs.lastSignalAt, hs.acceptedSinceSignal, hs.responsesSinceSignal = nowNS, 0, 0
	hs.signalPauseEnd = max(hs.pauseUntil, nowNS)
}

// measuredRate measures the interval since the last congestion signal (or, before the
// first one, since the first response of this process). measured is the host's
// accepted rate over it: between two throttles the host's bucket is empty at both
// ends, so what it accepted in between is what it refilled. demand is the rate we sent
// at while not paused by a Retry-After; a host that accepted far less than that was
// over-driven, while one that accepted about all of it was merely lightly used. Both
// are scaled by scale (Config.Share) to the fleet's, as is the evidence counted. ok is
// false without measuredMinSpan of time and measuredMinOK acceptances.
func (hs *hostState) measuredRate(nowNS int64, scale float64) (measured, demand float64, ok bool) {
	since, pauseEnd := hs.lastSignalAt, hs.signalPauseEnd
	if since == 0 {
		since, pauseEnd = hs.firstResponseAt, hs.firstResponseAt
	}
	span := time.Duration(nowNS - since)
	// One acceptance and then a refusal, across a Retry-After pause: the host rested
	// through the whole pause, took exactly one request (the half-open probe) and
	// refused the next. That is the plainest evidence of over-driving there is, and it
	// is all that a host with a small bucket and long windows ever shows: waiting for
	// five acceptances would cost five windows.
	rested := hs.lastSignalAt != 0 && pauseEnd > since && nowNS >= pauseEnd && hs.acceptedSinceSignal == 1
	if since == 0 || (!rested && (span < measuredMinSpan || float64(hs.acceptedSinceSignal)*scale < measuredMinOK)) {
		return 0, 0, false
	}
	active := span - time.Duration(min(max(pauseEnd-since, 0), int64(span)))
	if active < measuredMinSpan/2 {
		active = measuredMinSpan / 2
	}
	return scale * float64(hs.acceptedSinceSignal) / span.Seconds(), scale * float64(hs.responsesSinceSignal) / active.Seconds(), true
}

// windowTriggered reports whether the window holds enough responses, at least two 429s
// (one is an anecdote, not a share) and a 429 share above the threshold.
func (hs *hostState) windowTriggered(cfg *Config) bool {
	return hs.raw429sInWindow >= 2 && hs.windowResponses >= float64(cfg.WindowMinRequests) && hs.window429s > cfg.Window429Share*hs.windowResponses
}

// settle starts the period after a reduction during which further 429s are taken as
// answers to requests sent before it: at least settleMin, and as long as the
// Retry-After pause that is running.
func (hs *hostState) settle(nowNS int64) {
	hs.settleUntil = max(nowNS+int64(settleMin), hs.pauseUntil)
}

// markQuota records a quota exhausted until until (the rate is left alone).
func (hs *hostState) markQuota(now, until time.Time, log *slog.Logger) {
	u := until.UnixNano()
	if u <= hs.quotaUntil {
		return
	}
	if hs.quotaUntil == 0 || hs.quotaUntil <= now.UnixNano() {
		log.Warn("provider quota exhausted; deferring its works until the reset", "provider", hs.provider,
			"host", hs.host, "until", until.UTC().Format(time.RFC3339))
	}
	hs.quotaUntil = u
}

// refresh expires a passed quota mark and applies the recovery due at now. It reports
// whether anything changed.
func (hs *hostState) refresh(cfg *Config, now time.Time, log *slog.Logger) (changed bool) {
	nowNS := now.UnixNano()
	if hs.quotaUntil != 0 && nowNS >= hs.quotaUntil {
		hs.quotaUntil = 0
		changed = true
		log.Info("provider quota reset has passed", "provider", hs.provider, "host", hs.host)
	}
	if !hs.proven && hs.reductionPct <= 0 && hs.firstResponseAt != 0 && hs.last429At < hs.firstResponseAt &&
		nowNS-hs.firstResponseAt >= int64(cfg.RecoveryInterval) {
		hs.proven = true // a clean interval at the configured rate
	}
	if !hs.controlled() || hs.reductionPct <= 0 {
		return changed
	}
	if hs.cleanSince == 0 {
		hs.cleanSince, hs.cleanSinceRPS = nowNS, hs.learned()
		return changed
	}
	target := hs.recoveryTarget(cfg, nowNS)
	cur := hs.learned()
	if target <= cur {
		return changed
	}
	var newPct float64
	if target >= hs.configuredRPS {
		newPct = 0
	} else {
		if (target-cur)/cur < minRateStep && !(hs.lastGoodRPS > cur && target >= hs.lastGoodRPS) {
			return changed
		}
		newPct = roundPct(100 * (1 - target/hs.configuredRPS))
	}
	if newPct >= hs.reductionPct {
		return changed
	}
	hs.reductionPct = newPct
	hs.direction = dirRecovering
	if newPct == 0 {
		hs.lastGoodRPS = 0
		hs.proven = true
		log.Info("provider rate recovered", "provider", hs.provider, "host", hs.host, "effective_rps", hs.effective(cfg))
	}
	return true
}

// recoveryTarget is the learned rate the clean stretch since cleanSince allows, in the
// manner of TCP CUBIC with T = RecoveryInterval and W = lastGoodRPS, the rate the host last
// pushed back at:
//
//   - during the first T, a concave cubic climb from anchorRate back to W: fast at
//     first, flat on arrival, so the rate lingers where the host pushed back (or a
//     hold, when the rate is at W already);
//   - after it, a convex cubic probe above W, W + D·((t−T)/T)³ where D is the depth of
//     the last drop (at least minRateStep·W): slow at first, faster the longer the
//     host stays clean, and never faster than RecoveryStepPct points of the
//     configured rate per T;
//   - with no W known, RecoveryStepPct points per T after one clean T.
func (hs *hostState) recoveryTarget(cfg *Config, nowNS int64) float64 {
	T := float64(cfg.RecoveryInterval)
	s := float64(nowNS - hs.cleanSince)
	r0 := hs.cleanSinceRPS
	if s <= 0 {
		return r0
	}
	stepRate := hs.configuredRPS * cfg.RecoveryStepPct / 100 // per T
	w := hs.lastGoodRPS
	if w <= 0 || w >= hs.configuredRPS {
		if s <= T {
			return r0
		}
		return r0 + stepRate*(s-T)/T
	}
	if s <= T {
		if w <= r0 {
			return r0
		}
		x := 1 - s/T
		return w - (w-r0)*x*x*x
	}
	base := math.Max(w, r0)
	d := math.Max(w-r0, minRateStep*base)
	x := (s - T) / T
	return base + math.Min(d*x*x*x, stepRate*x)
}

// apply gives the current effective rate and scaled burst to the limiter when they
// changed (or always, when force is set).
func (hs *hostState) apply(cfg *Config, now time.Time, force bool) {
	if hs.lim == nil {
		return
	}
	eff := hs.effective(cfg)
	if eff <= 0 || math.IsNaN(eff) {
		return
	}
	share := 1.0
	if hs.reductionPct > 0 {
		share = reducedBurstShare
	}
	b := scaledBurst(hs.burst, eff*share, hs.configuredRPS)
	if hs.reductionPct <= 0 && !hs.proven && hs.controlled() {
		b = min(b, max(1, int(math.Ceil(eff*coldBurst.Seconds()))))
	}
	if force || eff != hs.appliedRate {
		hs.lim.SetLimitAt(now, rate.Limit(eff))
		hs.appliedRate = eff
	}
	if force || b != hs.appliedBurst {
		hs.lim.SetBurstAt(now, b)
		hs.appliedBurst = b
	}
}

// scaledBurst scales the configured burst with the rate, rounding, never below 1 and
// never above the configured burst.
func scaledBurst(burst int, eff, configured float64) int {
	if burst < 1 {
		burst = 1
	}
	if configured <= 0 || math.IsInf(configured, 1) || eff >= configured {
		return burst
	}
	b := int(math.Round(float64(burst) * eff / configured))
	if b < 1 {
		b = 1
	}
	if b > burst {
		b = burst
	}
	return b
}

// windowAdd records one response in the decaying window.
func (hs *hostState) windowAdd(cfg *Config, nowNS int64, throttled bool) {
	hs.windowDecay(cfg, nowNS)
	if hs.windowStartedAt == 0 {
		hs.windowStartedAt = nowNS
	}
	hs.windowResponses++
	if throttled {
		hs.window429s++
		if hs.raw429sInWindow < math.MaxUint32 {
			hs.raw429sInWindow++
		}
	} else {
		hs.windowAccepted++
	}
}

func (hs *hostState) windowDecay(cfg *Config, nowNS int64) {
	if hs.windowUpdatedAt != 0 && nowNS > hs.windowUpdatedAt {
		f := math.Exp(-float64(nowNS-hs.windowUpdatedAt) / float64(cfg.Window))
		hs.windowResponses *= f
		hs.window429s *= f
		hs.windowAccepted *= f
	}
	if nowNS > hs.windowUpdatedAt {
		hs.windowUpdatedAt = nowNS
	}
}

func (hs *hostState) windowReset(nowNS int64) {
	hs.windowResponses, hs.window429s, hs.windowAccepted, hs.raw429sInWindow = 0, 0, 0, 0
	hs.windowUpdatedAt, hs.windowStartedAt = nowNS, nowNS
}

// capacityEstimate brackets the host's capacity between the rate it accepted over the
// window (a lower bound: it took at least that much) and the rate we were sending at
// when it pushed back (an upper bound), and returns their geometric mean, the midpoint
// on a log scale. Retry-After pauses make the accepted rate understate the capacity when
// the host's own burst is small, and the sending rate overstates it when we over-drive
// it, so neither bound alone is a good estimate. It is never below Beta × the sending
// rate, so one windowed reduction at most about halves the rate (Beta²). Without
// enough window data it is the sending rate.
func (hs *hostState) capacityEstimate(cfg *Config, nowNS int64, sending float64) float64 {
	if hs.windowResponses < float64(cfg.WindowMinRequests) {
		return sending
	}
	accepted, ok := hs.acceptedRate(cfg, nowNS)
	if !ok || accepted >= sending {
		return sending
	}
	return math.Max(math.Sqrt(accepted*sending), cfg.Beta*sending)
}

// acceptedRate is the host's measured accepted (non-429) rate over the window: the
// decayed count divided by the decayed length of time the window has covered.
func (hs *hostState) acceptedRate(cfg *Config, nowNS int64) (float64, bool) {
	if hs.windowStartedAt == 0 || nowNS <= hs.windowStartedAt {
		return 0, false
	}
	hs.windowDecay(cfg, nowNS)
	tau := float64(cfg.Window)
	span := tau * -math.Expm1(-float64(nowNS-hs.windowStartedAt)/tau) // ∫ e^{-a/τ} da over the age
	if span <= 0 {
		return 0, false
	}
	return cfg.scale() * hs.windowAccepted / (span / float64(time.Second)), true
}

// status is the host's status at now.
func (hs *hostState) status(nowNS int64) Status {
	switch {
	case hs.quotaUntil != 0 && nowNS < hs.quotaUntil:
		return StatusQuotaExhausted
	case hs.reductionPct <= 0:
		return StatusNormal
	case hs.direction == dirReducing:
		return StatusReducing
	default:
		return StatusRecovering
	}
}

// behavior renders the state as a ProviderBehavior (a fresh deep copy).
func (hs *hostState) behavior(cfg *Config, now time.Time) ProviderBehavior {
	nowNS := now.UnixNano()
	b := ProviderBehavior{
		Provider:            hs.provider,
		Host:                hs.host,
		Consecutive429s:     int(hs.consecutive429s),
		Total429s:           hs.total429s,
		TotalRequests:       hs.totalRequests,
		RecoveryTimes:       hs.retryAfters.values(),
		AppliedReductionPct: hs.reductionPct,
		ConfiguredRPS:       hs.configuredRPS,
		EffectiveRPS:        hs.effective(cfg),
		CeilingRPS:          hs.ceilingRPS,
		Status:              hs.status(nowNS),
	}
	if hs.reductionPct > 0 {
		b.LastGoodRPS = hs.lastGoodRPS
	}
	if math.IsInf(b.ConfiguredRPS, 0) {
		b.ConfiguredRPS, b.EffectiveRPS = 0, hs.ceilingRPS
	}
	if hs.last429At != 0 {
		t := time.Unix(0, hs.last429At).UTC()
		b.Last429At = &t
	}
	if hs.updatedAt != 0 {
		b.UpdatedAt = time.Unix(0, hs.updatedAt).UTC()
	}
	if hs.quotaUntil != 0 && nowNS < hs.quotaUntil {
		t := time.Unix(0, hs.quotaUntil).UTC()
		b.QuotaResetAt = &t
	}
	return b
}
