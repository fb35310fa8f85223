package policy

import (
	"net/http"
	"time"
)

// Outcome is what one attempt produced: an HTTP response (Status and Header, Err ==
// ErrNone) or a transport error (Err != ErrNone, Status 0, Header nil).
type Outcome struct {
	Status int         // HTTP status code; 0 when Err != ErrNone
	Header http.Header // response headers; may be nil
	Err    ErrKind     // transport error kind, see ClassifyError
}

// Action tells the caller what to do after an attempt.
type Action uint8

// The actions a policy can decide on.
const (
	ActionNone Action = iota // success: use the response
	Retry                    // wait Decision.Wait, then try the same request again
	Defer                    // give up for now; retry after the host cooldown (Wait) ends
	Failover                 // give up on this source; try the next candidate or resolver
	Fail                     // give up for good on this request
	numActions
)

var actionNames = [numActions]string{"none", "retry", "defer", "failover", "fail"}

// String returns the snake_case name used in logs and the manifest.
func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "unknown"
}

// Decision is a policy's verdict on one outcome.
type Decision struct {
	Action Action
	// Wait is the pause before the retry (Retry), or how long the host asked to be left
	// alone (Defer). It is 0 for the other actions.
	Wait time.Duration
	// Reason is a short static snake_case code for logs and the manifest, for example
	// "backoff", "retry_after", "retry_after_over_cap", "max_attempts", "deadline",
	// "rate_limited", "canceled", "tls" or "status_404".
	Reason string
}

// OpRule holds the contextual policy's limits for one operation.
type OpRule struct {
	MaxAttempts int           // attempts before giving up; non-positive means the default
	Deadline    time.Duration // total retry budget since the first attempt; 0 = none
}

// Config parameterises both policies.
type Config struct {
	// MaxAttempts is the legacy policy's attempt limit (default 5).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the full-jitter exponential backoff (defaults 1s and
	// 30s). MaxDelay is capped at MaxWait; BaseDelay at MaxDelay.
	BaseDelay, MaxDelay time.Duration
	// MaxWait caps an in-line Retry-After wait (default 60s). A longer Retry-After turns
	// into Defer.
	MaxWait time.Duration
	// Ops holds the contextual policy's per-operation rules, indexed by OperationType.
	Ops [numOperations]OpRule
}

// Default configuration values.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = time.Second
	DefaultMaxDelay    = 30 * time.Second
	DefaultMaxWait     = 60 * time.Second
)

// DefaultConfig returns the default configuration: 5 legacy attempts, 1s..30s backoff, a
// 60s Retry-After cap, and per-operation rules Download{6, 60s}, Validate{3, 0},
// Resolve{3, 0}, Extract{5, 0}, ManifestFetch{5, 0}.
func DefaultConfig() Config {
	var c Config
	c.MaxAttempts = DefaultMaxAttempts
	c.BaseDelay = DefaultBaseDelay
	c.MaxDelay = DefaultMaxDelay
	c.MaxWait = DefaultMaxWait
	c.Ops[Download] = OpRule{MaxAttempts: 6, Deadline: 60 * time.Second}
	c.Ops[Validate] = OpRule{MaxAttempts: 3}
	c.Ops[Resolve] = OpRule{MaxAttempts: 3}
	c.Ops[Extract] = OpRule{MaxAttempts: 5}
	c.Ops[ManifestFetch] = OpRule{MaxAttempts: 5}
	return c
}

// normalized replaces non-positive fields with their defaults, drops negative deadlines
// and orders the delays so that BaseDelay <= MaxDelay <= MaxWait.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = d.BaseDelay
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = d.MaxDelay
	}
	if c.MaxWait <= 0 {
		c.MaxWait = d.MaxWait
	}
	c.MaxDelay = min(c.MaxDelay, c.MaxWait)
	c.BaseDelay = min(c.BaseDelay, c.MaxDelay)
	for i := range c.Ops {
		if c.Ops[i].MaxAttempts <= 0 {
			c.Ops[i].MaxAttempts = d.Ops[i].MaxAttempts
		}
		c.Ops[i].Deadline = max(c.Ops[i].Deadline, 0)
	}
	return c
}

// Input is everything Decide needs to judge one outcome. It carries the time and the
// randomness so that Decide stays a pure function.
type Input struct {
	Op      OperationType
	Outcome Outcome
	// Attempt counts the attempts made so far, including the one that produced Outcome
	// (1-based; values below 1 count as 1). Defer rounds are not attempts.
	Attempt int
	// Elapsed is the time since the first attempt of this request began.
	Elapsed time.Duration
	// Now is the current time, used to evaluate an HTTP-date Retry-After.
	Now time.Time
	// Jitter is a uniform random number in [0, 1) drawn by the caller for the backoff.
	Jitter float64
}

// Policy decides what to do after each attempt. Implementations are pure, safe for
// concurrent use, never panic and never allocate in Decide.
type Policy interface {
	// Name returns "legacy" or "contextual".
	Name() string
	// Decide judges one outcome. It never fails: malformed input is sanitised.
	Decide(in Input) Decision
}

// NewLegacy returns the legacy policy: the same rules for every operation, cfg.MaxAttempts
// attempts, no deadline, no Failover, and Defer only for a Retry-After over cfg.MaxWait.
// Non-positive Config fields take their defaults.
func NewLegacy(cfg Config) Policy {
	cfg = cfg.normalized()
	return &legacyPolicy{d: decider{cfg: cfg, rules: standardRules(cfg.MaxAttempts, 0)}}
}

// NewContextual returns the contextual policy, whose rules depend on the operation (see
// the package documentation). Non-positive Config fields take their defaults. An
// operation outside the known set gets the legacy rules.
func NewContextual(cfg Config) Policy {
	cfg = cfg.normalized()
	p := &contextualPolicy{d: decider{cfg: cfg, rules: standardRules(cfg.MaxAttempts, 0)}}
	for _, op := range Operations() {
		r := standardRules(cfg.Ops[op].MaxAttempts, cfg.Ops[op].Deadline)
		switch op {
		case ManifestFetch:
			r.onRateLimited, r.onUnavailable = Defer, Defer
		case Resolve:
			r.onRateLimited, r.exhausted = Failover, Failover
		case Validate:
			r.onRateLimited, r.onTimeout = Defer, Defer
		case Download, Extract:
			// standard exponential retries
		}
		p.ops[op] = decider{cfg: cfg, rules: r}
	}
	return p
}

type legacyPolicy struct{ d decider }

func (p *legacyPolicy) Name() string { return "legacy" }

func (p *legacyPolicy) Decide(in Input) Decision { return p.d.decide(in) }

type contextualPolicy struct {
	ops [numOperations]decider
	d   decider // fallback for an unknown operation
}

func (p *contextualPolicy) Name() string { return "contextual" }

func (p *contextualPolicy) Decide(in Input) Decision {
	if in.Op < numOperations {
		return p.ops[in.Op].decide(in)
	}
	return p.d.decide(in)
}

// rules is one operation's behaviour, as data. Each on* field is Retry (count the attempt
// and back off), Defer or Failover (stop at once, whatever the attempt count).
type rules struct {
	maxAttempts   int
	deadline      time.Duration // 0 = none
	exhausted     Action        // Fail or Failover, when attempts or the deadline run out
	onRateLimited Action        // 429
	onUnavailable Action        // 503
	onTimeout     Action        // ErrTimeout
}

func standardRules(maxAttempts int, deadline time.Duration) rules {
	return rules{
		maxAttempts:   maxAttempts,
		deadline:      deadline,
		exhausted:     Fail,
		onRateLimited: Retry,
		onUnavailable: Retry,
		onTimeout:     Retry,
	}
}

// decider applies one rules value under a normalised Config.
type decider struct {
	cfg   Config
	rules rules
}

func (d *decider) decide(in Input) Decision {
	c, reason := classify(in.Outcome)
	switch c {
	case classSuccess:
		return Decision{Action: ActionNone, Reason: reasonOK}
	case classFatal:
		return Decision{Action: Fail, Reason: reason}
	}

	cfg := &d.cfg
	attempt := max(in.Attempt, 1)
	elapsed := max(in.Elapsed, 0)
	backoff := Backoff(attempt, cfg.BaseDelay, cfg.MaxDelay, in.Jitter)

	var ra time.Duration
	hasRA := false
	if in.Outcome.Err == ErrNone {
		ra, hasRA = RetryAfter(in.Outcome.Header, in.Now)
	}
	overCap := hasRA && ra > cfg.MaxWait

	action := Retry
	switch c {
	case classRateLimited:
		action = d.rules.onRateLimited
	case classUnavailable:
		action = d.rules.onUnavailable
	case classTimeout:
		action = d.rules.onTimeout
	}
	switch action {
	case Failover:
		return Decision{Action: Failover, Reason: reason}
	case Defer:
		switch {
		case overCap:
			return Decision{Action: Defer, Wait: ra, Reason: reasonOverCap}
		case hasRA:
			return Decision{Action: Defer, Wait: ra, Reason: reason}
		default:
			return Decision{Action: Defer, Wait: backoff, Reason: reason}
		}
	}

	// A retryable outcome.
	if overCap {
		return Decision{Action: Defer, Wait: ra, Reason: reasonOverCap}
	}
	if attempt >= d.rules.maxAttempts {
		return Decision{Action: d.rules.exhausted, Reason: reasonMaxAttempts}
	}
	wait, why := backoff, reasonBackoff
	if hasRA {
		// Honour the server, but never retry sooner than the backoff floor.
		wait, why = max(ra, min(cfg.BaseDelay/10, cfg.MaxDelay)), reasonRetryAfter
	}
	if dl := d.rules.deadline; dl > 0 && (elapsed >= dl || wait > dl-elapsed) {
		return Decision{Action: d.rules.exhausted, Reason: reasonDeadline}
	}
	return Decision{Action: Retry, Wait: wait, Reason: why}
}

// Retryable reports whether the rules ever retry the outcome: a timeout, a connection
// failure, 408, 429, 500, 502, 503 or 504. Such an outcome may well go otherwise when
// asked again later, so a caller can use it to tell a transient miss from a final one.
// Success, 501, 505, other 4xx, odd statuses, TLS, a bad scheme, a blocked address
// and a cancelled request are not retryable.
func Retryable(o Outcome) bool {
	c, _ := classify(o)
	return c != classSuccess && c != classFatal
}

// class groups outcomes by how the rules treat them.
type class uint8

const (
	classSuccess     class = iota // 1xx..3xx handled by the HTTP client; use the response
	classFatal                    // canceled, TLS, bad scheme, blocked address, 501, 4xx but 408/429, odd status
	classTimeout                  // ErrTimeout
	classConn                     // refused, reset, other transport errors
	classRateLimited              // 429
	classUnavailable              // 503
	classServer                   // 408, 500, 502, 504
)

// classify sorts an outcome into a class and names its reason. A transport error takes
// precedence over the status.
func classify(o Outcome) (class, string) {
	switch o.Err {
	case ErrNone:
	case ErrTimeout:
		return classTimeout, reasonTimeout
	case ErrCanceled, ErrTLS, ErrBadScheme, ErrBlocked:
		return classFatal, o.Err.String()
	case ErrConnRefused, ErrReset, ErrTooSlow:
		return classConn, o.Err.String()
	default: // ErrOther and out-of-range kinds
		return classConn, reasonOther
	}
	switch s := o.Status; {
	case s >= 200 && s < 400:
		return classSuccess, reasonOK
	case s == http.StatusTooManyRequests:
		return classRateLimited, reasonRateLimited
	case s == http.StatusServiceUnavailable:
		return classUnavailable, reasonUnavailable
	case s == http.StatusRequestTimeout, s == http.StatusInternalServerError,
		s == http.StatusBadGateway, s == http.StatusGatewayTimeout:
		return classServer, statusReason(s)
	default:
		return classFatal, statusReason(s)
	}
}
