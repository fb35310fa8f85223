// Package fetch is the one path every HTTP request of a run takes:
//
//	host admission (window · half-open probe · slow start · concurrency · x/time/rate,
//	learned limit applied) → retryablehttp attempt → observe (stats, Retry-After →
//	host window, learner) → policy.Decide → retry pause
//
// A host's admission answers "now" or "not before T" (hosts.go); the download frontier
// uses it to schedule by host (sched.go), and a request that has to wait inside a step
// gives its worker back meanwhile. The retry loop is go-retryablehttp's; whether and how
// long to wait is decided by a policy.Policy (legacy or contextual), and every wait goes
// through an injected clock.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
)

// Learner is the part of the learning tracker the fetch path drives.
type Learner interface {
	Register(provider, host string, configuredRPS float64, burst int, lim learning.Limiter)
	Observe(o learning.Observation) learning.Effect
	QuotaExhausted(host string) (time.Time, bool)
}

// Options configures a Client.
type Options struct {
	Policy       policy.Policy
	MaxWait      time.Duration // the longest cooldown a request sleeps through
	MaxPause     time.Duration // cap of the doubling pause after 429s without Retry-After; default 30s
	Clock        clock.Clock
	Logger       *slog.Logger
	UserAgent    string
	Timeout      time.Duration // response-header timeout and body stall timeout
	LimitFor     func(host string) HostLimit
	ProviderOf   func(host string) string
	Learner      Learner           // nil when provider learning is off
	Rand         func() float64    // jitter source in [0,1); nil = math/rand/v2
	Transport    http.RoundTripper // base transport; nil = a tuned http.Transport guarded by Guard
	MaxRedirects int               // default 10
	// MinSpeed (bytes/s) over MinSpeedWindow: a body slower than that is aborted as
	// too_slow (see speed.go). Zero turns the check off.
	MinSpeed       int64
	MinSpeedWindow time.Duration
	// Observe, when set, is told of every attempt (each redirect hop too): the host,
	// the status (0 for a transport error), the error kind and the time to headers.
	Observe func(host string, status int, errKind policy.ErrKind, d time.Duration)
	// Guard checks the address of every connection the default transport opens (and
	// the target host of every proxied request); nil = netguard.Default. Unused when
	// Transport is set.
	Guard *netguard.Guard
}

// Client performs polite, retried GETs.
type Client struct {
	o   Options
	rc  *retryablehttp.Client
	reg *registry
	ops opCounters
	log *slog.Logger
}

// New builds a Client.
func New(o Options) *Client {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.ProviderOf == nil {
		o.ProviderOf = func(string) string { return "web" }
	}
	if o.LimitFor == nil {
		o.LimitFor = func(string) HostLimit { return HostLimit{RPS: 5, Burst: 1, Concurrency: 4, Cooldown: 2 * time.Second} }
	}
	if o.Transport == nil {
		guard := o.Guard
		if guard == nil {
			guard = netguard.Default(o.Logger)
		}
		o.Transport = &http.Transport{
			Proxy:                 guard.Proxy(http.ProxyFromEnvironment),
			DialContext:           guard.DialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}),
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: o.Timeout,
			ExpectContinueTimeout: time.Second,
		}
	}
	c := &Client{o: o, log: o.Logger}
	c.reg = &registry{hosts: map[string]*host{}, limitFor: o.LimitFor, provider: o.ProviderOf, maxPause: o.MaxPause,
		onNew: c.onNewHost}
	hc := &http.Client{
		Transport:     &transport{c: c, base: o.Transport},
		CheckRedirect: c.checkRedirect,
	}
	c.rc = &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       redactingLogger{o.Logger},
		RetryWaitMin: 0,
		RetryWaitMax: 0,
		RetryMax:     1 << 20, // the policy decides when to stop
		CheckRetry:   c.checkRetry,
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		PrepareRetry: c.prepareRetry,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c
}

// PolicyName names the active retry policy.
func (c *Client) PolicyName() string { return c.o.Policy.Name() }

func (c *Client) onNewHost(h *host) {
	if c.o.Learner == nil {
		return
	}
	c.o.Learner.Register(h.provider, h.name, h.limit.RPS, h.limit.Burst, h)
	if until, ok := c.o.Learner.QuotaExhausted(h.name); ok {
		h.closeUntil(until, true)
		c.log.Warn("skipping provider: its quota is exhausted", "provider", h.provider, "host", h.name,
			"until", until.UTC().Format(time.RFC3339))
	}
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.o.MaxRedirects { // via holds the first request and every hop so far
		return fmt.Errorf("stopped after %d redirects: %w", c.o.MaxRedirects, ErrTooManyRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s: %w", req.URL.Scheme, policy.ErrUnsupportedScheme)
	}
	return nil
}

// ErrTooManyRedirects marks a redirect chain longer than the limit.
var ErrTooManyRedirects = errors.New("too many redirects")

// reqState follows one logical request across its attempts.
type reqState struct {
	op       policy.OperationType
	start    time.Time
	attempts int
	pauses   int
	wait     time.Duration
	last     policy.Decision
	outcome  policy.Outcome
	host     atomic.Pointer[host]
	stall    func()
}

type ctxKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(ctxKey{}).(*reqState)
	return st
}

// maxManifestPauses bounds how often discovery waits out a 429/503 without using up
// an attempt, so a host that never recovers cannot hold a run forever.
const maxManifestPauses = 20

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateFrom(ctx)
	if st == nil {
		return false, err
	}
	now := c.o.Clock.Now()
	var out policy.Outcome
	switch {
	case ctx.Err() != nil:
		out.Err = policy.ErrCanceled
	case err != nil:
		var hc *HostClosedError
		if errors.As(err, &hc) {
			reason := "host_cooldown"
			if hc.Quota {
				reason = "quota_exhausted"
			}
			st.last = policy.Decision{Action: policy.Defer, Wait: hc.Until.Sub(now), Reason: reason}
			c.ops.add(st.op, policy.Defer)
			return false, nil
		}
		if errors.Is(err, ErrTooManyRedirects) {
			// A chain that did not end within the limit is the server's answer, not a
			// transport failure: it ends the same way on every retry.
			st.attempts++
			st.last = policy.Decision{Action: policy.Fail, Reason: "too_many_redirects"}
			c.ops.add(st.op, policy.Fail)
			return false, nil
		}
		out.Err = policy.ClassifyError(err)
	default:
		out.Status, out.Header = resp.StatusCode, resp.Header
	}
	st.attempts++
	d := c.o.Policy.Decide(policy.Input{
		Op: st.op, Outcome: out, Attempt: st.attempts, Elapsed: now.Sub(st.start), Now: now, Jitter: c.o.Rand(),
	})
	st.last, st.outcome = d, out
	if d.Action == policy.ActionNone {
		return false, nil
	}
	h := st.host.Load()
	if d.Action == policy.Defer && st.op == policy.ManifestFetch && d.Reason != reasonOverCap &&
		st.pauses < maxManifestPauses && (out.Status == http.StatusTooManyRequests || out.Status == http.StatusServiceUnavailable) {
		// Discovery pauses until the host's cooldown ends; the pause uses no attempt.
		st.attempts--
		st.pauses++
		st.wait = d.Wait
		c.logWait(st, h, out, d, "pausing discovery")
		return true, nil
	}
	c.ops.add(st.op, d.Action)
	if d.Action != policy.Retry {
		return false, nil
	}
	if h != nil {
		h.addRetry()
	}
	st.wait = d.Wait
	c.logWait(st, h, out, d, "waiting")
	return true, nil
}

func (c *Client) logWait(st *reqState, h *host, out policy.Outcome, d policy.Decision, verb string) {
	name := ""
	if h != nil {
		name = h.name
	}
	what := out.Err.String()
	if out.Err == policy.ErrNone {
		what = strconv.Itoa(out.Status)
	}
	c.log.Info(fmt.Sprintf("%s %s for %s (%s, %s)", verb, d.Wait.Round(time.Millisecond), name, what, d.Reason),
		"operation", st.op.String(), "host", name, "attempt", st.attempts, "wait", d.Wait, "reason", d.Reason)
}

func (c *Client) prepareRetry(req *http.Request) error {
	st := stateFrom(req.Context())
	if st == nil || st.wait <= 0 {
		return nil
	}
	return c.pause(req.Context(), st.wait)
}

// Error is the one outcome of a request that did not give the caller what it wanted:
// a transport failure, a decision to defer, fail over or fail (Decision says which),
// or an answer whose status the caller cannot use (NewStatusError; Decision is
// ActionNone then). Callers ask it what it means — Reason, RateLimited, Transient —
// instead of re-deriving the policy's rules.
type Error struct {
	Op       policy.OperationType
	URL      string // redacted
	Host     string
	Status   int
	Decision policy.Decision
	Err      error
	Attempts int // attempts sent (0 when none was)
	// RetryAfter is the answer's raw Retry-After header, for the message only (the
	// one parser is policy.ParseRetryAfter).
	RetryAfter string
}

// Error names the operation, host, cause, decision and attempts, and the URL once,
// shortened (see errtext.go); Detail has everything.
func (e *Error) Error() string { return e.message() }

func (e *Error) Unwrap() error { return e.Err }

// Reason is a short code for the manifest, such as http_429, timeout or host_cooldown.
func (e *Error) Reason() string {
	switch {
	case e.Decision.Reason == "host_cooldown" || e.Decision.Reason == "quota_exhausted":
		return e.Decision.Reason
	case e.Status != 0:
		return "http_" + strconv.Itoa(e.Status)
	case errors.Is(e.Err, ErrTooManyRedirects):
		return "too_many_redirects"
	case e.Err != nil:
		return policy.ClassifyError(e.Err).String()
	}
	return e.Decision.Reason
}

// RateLimited names the host and reports true when the request ended because that
// host asked us to slow down (a 429, a cooldown, an exhausted quota, a Retry-After
// beyond retry.max_wait) rather than because the content is absent.
func (e *Error) RateLimited() (host string, ok bool) {
	ok = e.Status == http.StatusTooManyRequests || e.Decision.Reason == "host_cooldown" ||
		e.Decision.Reason == "quota_exhausted" || e.Decision.Reason == reasonOverCap
	return e.Host, ok
}

// Transient reports whether the request may succeed later (on a later run): the
// policy's classification of its status or transport error says it is retryable
// (policy.Retryable). A redirect chain over the limit is final: it ends the same way
// every time. An error that carries neither a status nor a cause is transient.
func (e *Error) Transient() bool {
	switch {
	case e.Status != 0:
		return policy.Retryable(policy.Outcome{Status: e.Status})
	case errors.Is(e.Err, ErrTooManyRedirects):
		return false
	case e.Err != nil:
		return policy.Retryable(policy.Outcome{Err: policy.ClassifyError(e.Err)})
	}
	return true
}

// BodyError wraps a transport failure while reading a response body (reset,
// truncation, stall), which counts as a failed attempt.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "read body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Get performs one logical GET for op. It returns the final response for any status
// the policy did not turn into a defer or a failover (the caller closes the body), and
// an *Error otherwise.
func (c *Client) Get(ctx context.Context, op policy.OperationType, rawURL string, hdr http.Header) (*http.Response, error) {
	st := &reqState{op: op, start: c.o.Clock.Now()}
	return c.get(ctx, st, rawURL, hdr)
}

func (c *Client) get(ctx context.Context, st *reqState, rawURL string, hdr http.Header) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil {
			err = fmt.Errorf("scheme %q: %w", u.Scheme, policy.ErrUnsupportedScheme)
		}
		d := policy.Decision{Action: policy.Fail, Reason: "bad_scheme"}
		c.ops.add(st.op, policy.Fail)
		return nil, &Error{Op: st.op, URL: redact.Redact(rawURL), Decision: d, Err: err}
	}
	// The request's own context lets a body that stops moving for Timeout be cut off
	// (the transport's body wrapper calls st.stall); closing the body releases it.
	actx, cancel := context.WithCancelCause(ctx)
	st.stall = func() { cancel(errStalled) }
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(actx, ctxKey{}, st), http.MethodGet, rawURL, nil)
	if err != nil {
		cancel(nil)
		return nil, &Error{Op: st.op, URL: redact.Redact(rawURL), Decision: policy.Decision{Action: policy.Fail, Reason: "bad_request"}, Err: err}
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.o.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	st.last = policy.Decision{}
	resp, err := c.rc.Do(req)
	hostName := u.Host
	if h := st.host.Load(); h != nil {
		hostName = h.name
	}
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		cancel(nil)
		d := st.last
		if d.Action == policy.ActionNone || d.Action == policy.Retry {
			d = policy.Decision{Action: policy.Fail, Reason: policy.ClassifyError(err).String()}
		}
		return nil, &Error{Op: st.op, URL: redact.Redact(rawURL), Host: hostName, Decision: d, Err: err, Attempts: st.attempts}
	}
	if d := st.last; d.Action == policy.Defer || d.Action == policy.Failover {
		resp.Body.Close()
		cancel(nil)
		return nil, &Error{Op: st.op, URL: redact.Redact(rawURL), Host: hostName, Status: resp.StatusCode, Decision: d, Attempts: st.attempts}
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Fetch GETs rawURL and hands the final response to consume. A transport failure while
// consume reads the body (it must return the *BodyError it got from the body, wrapped
// or not) counts as a failed attempt under op's rules and is retried when the policy
// says so. Fetch closes the body.
func (c *Client) Fetch(ctx context.Context, op policy.OperationType, rawURL string, hdr http.Header, consume func(*http.Response) error) error {
	st := &reqState{op: op, start: c.o.Clock.Now()}
	for {
		resp, err := c.get(ctx, st, rawURL, hdr)
		if err != nil {
			return err
		}
		cerr := consume(resp)
		resp.Body.Close()
		var be *BodyError
		if !errors.As(cerr, &be) {
			return cerr
		}
		now := c.o.Clock.Now()
		out := policy.Outcome{Err: policy.ClassifyError(be.Err)}
		if ctx.Err() != nil {
			out.Err = policy.ErrCanceled
		}
		// The failed body belongs to the attempt whose headers checkRetry already counted.
		d := c.o.Policy.Decide(policy.Input{Op: op, Outcome: out, Attempt: max(st.attempts, 1), Elapsed: now.Sub(st.start), Now: now, Jitter: c.o.Rand()})
		c.ops.add(op, d.Action)
		h := st.host.Load()
		if d.Action != policy.Retry {
			return &Error{Op: op, URL: redact.Redact(rawURL), Host: hostName(h), Decision: d, Err: be, Attempts: max(st.attempts, 1)}
		}
		if h != nil {
			h.addRetry()
		}
		c.logWait(st, h, out, d, "waiting")
		if err := c.pause(ctx, d.Wait); err != nil {
			return &Error{Op: op, URL: redact.Redact(rawURL), Host: hostName(h), Decision: policy.Decision{Action: policy.Fail, Reason: "canceled"}, Err: err, Attempts: max(st.attempts, 1)}
		}
	}
}

func hostName(h *host) string {
	if h == nil {
		return ""
	}
	return h.name
}

var errStalled = &stallError{}

// stallError is returned when a body makes no progress for the timeout.
type stallError struct{}

func (*stallError) Error() string   { return "body read stalled" }
func (*stallError) Timeout() bool   { return true }
func (*stallError) Temporary() bool { return true }

// HostStats returns per-host counters, sorted by host.
func (c *Client) HostStats() []HostStats {
	hs := c.reg.all()
	out := make([]HostStats, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.snapshot())
	}
	sortHostStats(out)
	return out
}

// OpStats returns retry decisions counted per operation.
func (c *Client) OpStats() map[string]OpStats { return c.ops.snapshot() }

// Cooldowns lists hosts closed right now and until when.
func (c *Client) Cooldowns() map[string]time.Time {
	now := c.o.Clock.Now()
	out := map[string]time.Time{}
	for _, h := range c.reg.all() {
		if until, _, _ := h.gate(); until.After(now) {
			out[h.name] = until
		}
	}
	return out
}

// HostOpenAt says when host reopens (zero if open now) and whether that is an
// exhausted quota.
func (c *Client) HostOpenAt(hostName string) (time.Time, bool) {
	h, ok := c.reg.lookup(hostName)
	if !ok {
		return time.Time{}, false
	}
	until, quota, _ := h.gate()
	if !until.After(c.o.Clock.Now()) {
		return time.Time{}, false
	}
	return until, quota
}

// CloseIdleConnections releases the base transport's pooled connections. The
// transport handed to retryablehttp deliberately lacks this method: retryablehttp calls
// it after every failed request, which would drop the keep-alive connections of every
// host whenever one host fails.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.o.Transport.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// transport runs every attempt (and every redirect hop) through its host's gate,
// limiter and concurrency cap, and feeds the outcome to cooldowns and the learner.
type transport struct {
	c    *Client
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	h := c.reg.get(req.URL.Host)
	st := stateFrom(req.Context())
	if st != nil {
		st.host.Store(h)
	}
	p, err := t.permit(req, h)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	resp, err := t.base.RoundTrip(req)
	lat := time.Since(began)
	if err != nil {
		kind := policy.ClassifyError(err)
		h.record(0, kind, lat)
		if c.o.Observe != nil {
			c.o.Observe(h.name, 0, kind, lat)
		}
		c.observe(h, 0, nil)
		h.answered(p, c.o.Clock.Now(), 0)
		h.release()
		return nil, err
	}
	h.record(resp.StatusCode, policy.ErrNone, lat)
	if c.o.Observe != nil {
		c.o.Observe(h.name, resp.StatusCode, policy.ErrNone, lat)
	}
	c.observe(h, resp.StatusCode, resp.Header)
	h.answered(p, c.o.Clock.Now(), resp.StatusCode)
	b := &body{rc: resp.Body, h: h, timeout: c.o.Timeout}
	if st != nil && st.stall != nil {
		stall := st.stall // this attempt's; a later attempt installs its own
		b.timer = time.AfterFunc(c.o.Timeout, func() { b.stalled.Store(true); stall() })
	}
	resp.Body = c.limitSpeed(b)
	return resp, nil
}

// permit takes the request's permit for h: the one the scheduler acquired for this
// step, when it is for h and no window came since, or a fresh one from the host.
func (t *transport) permit(req *http.Request, h *host) (*Permit, error) {
	if p := permitFrom(req.Context()); p != nil {
		if p.h == h && h.current(p, t.c.o.Clock.Now()) && p.use() {
			return p, nil
		}
		// A window closed the host since it was granted (queue again, for the probe),
		// or the step's first request goes to another host: give it back rather than
		// hold the host's slot (or its probe) for the whole step.
		p.Cancel()
	}
	p, err := h.acquire(req.Context(), t.c.o.Clock, t.c.o.MaxWait)
	if err != nil {
		return nil, err
	}
	p.use()
	return p, nil
}

// observe applies a response to the host's cooldown and to the learner.
func (c *Client) observe(h *host, status int, hdr http.Header) {
	now := c.o.Clock.Now()
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		if ra, ok := policy.RetryAfter(hdr, now); ok {
			h.closeUntil(now.Add(ra), false)
		} else if status == http.StatusTooManyRequests {
			h.closeUntil(now.Add(h.nextPause()), false)
		}
	case status > 0 && status < 400:
		h.resetPause()
	}
	if c.o.Learner == nil {
		return
	}
	eff := c.o.Learner.Observe(learning.Observation{Host: h.name, Status: status, Header: hdr})
	if !eff.CooldownUntil.IsZero() {
		if eff.QuotaExhausted {
			c.log.Warn("provider quota exhausted; deferring its works", "provider", h.provider, "host", h.name,
				"until", eff.CooldownUntil.UTC().Format(time.RFC3339))
		}
		h.closeUntil(eff.CooldownUntil, eff.QuotaExhausted)
	}
}

// body releases the host's concurrency slot on Close, counts bytes, and turns a
// stalled read into a timeout.
type body struct {
	rc interface {
		Read([]byte) (int, error)
		Close() error
	}
	h       *host
	timeout time.Duration
	timer   *time.Timer
	stalled atomic.Bool
	once    sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.h.addBytes(int64(n))
		if b.timer != nil {
			b.timer.Reset(b.timeout)
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if b.stalled.Load() {
			err = errStalled
		}
		return n, &BodyError{Err: err}
	}
	return n, err
}

func (b *body) Close() error {
	var err error
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		err = b.rc.Close()
		b.h.release()
	})
	return err
}

// redactingLogger adapts slog to retryablehttp's LeveledLogger and strips secrets
// (api keys, emails) from any URL it logs.
type redactingLogger struct{ l *slog.Logger }

func (r redactingLogger) clean(kv []any) []any {
	out := make([]any, len(kv))
	for i, v := range kv {
		switch x := v.(type) {
		case string:
			if strings.Contains(x, "://") {
				out[i] = redact.Redact(x)
			} else {
				out[i] = x
			}
		case *url.URL:
			out[i] = redact.Redact(x.String())
		case error:
			out[i] = redact.Redact(x.Error())
		default:
			out[i] = v
		}
	}
	return out
}

func (r redactingLogger) Error(msg string, kv ...any) { r.l.Debug(msg, r.clean(kv)...) }
func (r redactingLogger) Info(msg string, kv ...any)  { r.l.Debug(msg, r.clean(kv)...) }
func (r redactingLogger) Debug(msg string, kv ...any) { r.l.Debug(msg, r.clean(kv)...) }
func (r redactingLogger) Warn(msg string, kv ...any)  { r.l.Debug(msg, r.clean(kv)...) }

// reasonOverCap is policy's reason for a Retry-After beyond retry.max_wait.
const reasonOverCap = "retry_after_over_cap"
