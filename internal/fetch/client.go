// Package fetch is the one path every HTTP request of a run takes. One loop
// (Client.do, attempt.go) owns a request's attempts:
//
//	wait (host admission: window · half-open probe · slow start · concurrency ·
//	x/time/rate, learned limit applied) → send (retryablehttp, one try) → observe
//	(stats, Retry-After → host window, learner; then the body) → decide
//	(policy.Decide) → sleep (the retry pause)
//
// A host's admission answers "now" or "not before T" (hosts.go); the download frontier
// uses it to schedule by host (sched.go), and a request that has to wait inside a step
// gives its worker back meanwhile. Whether and how long to wait is decided by a
// policy.Policy (legacy or contextual), and every wait and timer goes through an
// injected clock. A failed request is one *Error (error.go), which callers ask what
// it means.
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
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
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
	// Fleet, when set, shares each host's budget, windows, concurrency and learned
	// rate with the other processes of a fleet (fleet.go).
	Fleet Fleet
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
		o.ProviderOf = func(string) string { return providers.Web }
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
		onNew: c.onNewHost, fleet: o.Fleet, clk: o.Clock}
	if o.Fleet != nil {
		o.Fleet.Watch(c.reg)
	}
	hc := &http.Client{
		Transport:     &transport{c: c, base: o.Transport},
		CheckRedirect: c.checkRedirect,
	}
	// retryablehttp sends each attempt once; the attempt loop (attempt.go) decides
	// whether and when there is another.
	c.rc = &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       redactingLogger{o.Logger},
		RetryMax:     0,
		CheckRetry:   func(context.Context, *http.Response, error) (bool, error) { return false, nil },
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
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
	p, err := t.permit(req, h)
	if err != nil {
		return nil, err
	}
	began := c.o.Clock.Now()
	resp, err := t.base.RoundTrip(req)
	lat := c.o.Clock.Now().Sub(began)
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
	resp.Body = c.limitSpeed(&body{rc: resp.Body, h: h})
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

// body releases the host's concurrency slot on Close, counts bytes, and marks a
// failed read as a *BodyError.
type body struct {
	rc interface {
		Read([]byte) (int, error)
		Close() error
	}
	h    *host
	once sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.h.addBytes(int64(n))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, &BodyError{Err: err}
	}
	return n, err
}

func (b *body) Close() error {
	var err error
	b.once.Do(func() {
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

// debug logs at debug level. The redacted copy of the arguments is made only when
// debug is on: retryablehttp logs every attempt, and the copies cost about 1.5 MB of
// allocations per 2,000 files otherwise (bench/profiles/README.md).
func (r redactingLogger) debug(msg string, kv []any) {
	if !r.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	r.l.Debug(msg, r.clean(kv)...)
}

func (r redactingLogger) Error(msg string, kv ...any) { r.debug(msg, kv) }
func (r redactingLogger) Info(msg string, kv ...any)  { r.debug(msg, kv) }
func (r redactingLogger) Debug(msg string, kv ...any) { r.debug(msg, kv) }
func (r redactingLogger) Warn(msg string, kv ...any)  { r.debug(msg, kv) }

// reasonOverCap is policy's reason for a Retry-After beyond retry.max_wait.
const reasonOverCap = "retry_after_over_cap"
