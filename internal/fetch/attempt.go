package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
)

// The attempt loop. One logical request is one call of Client.do, which owns the
// request's state and runs, attempt after attempt:
//
//	wait     host admission of every hop (transport.permit → host.acquire; hosts.go)
//	send     the attempt, through retryablehttp (one try: this loop is the only retry loop)
//	observe  every hop's answer → host stats, window (Retry-After, 429 pause), learner
//	         (transport.RoundTrip → Client.observe); then the body, read by the consumer
//	decide   policy.Decide on the headers, and again on a body that failed
//	sleep    a retry pause, with the worker given back (Client.pause; sched.go)
//
// Observe runs before decide, so the window a 429 opens is in place before anyone
// decides to wait for it. Header and body failures go through the same decide and the
// same sleep; a failed body belongs to the attempt whose headers were counted.

// maxManifestPauses bounds how often discovery waits out a 429/503 without using up
// an attempt, so a host that never recovers cannot hold a run forever.
const maxManifestPauses = 20

// call is one logical request across its attempts. Only do reads and writes it.
type call struct {
	op       policy.OperationType
	url      string // redacted
	start    time.Time
	attempts int // attempts judged
	pauses   int // discovery pauses, which use no attempt
}

// Get performs one logical GET for op. It returns the final response for any status
// the policy did not turn into a defer or a failover (the caller closes the body), and
// an *Error otherwise. A failure while the caller reads the body is not retried.
func (c *Client) Get(ctx context.Context, op policy.OperationType, rawURL string, hdr http.Header) (*http.Response, error) {
	return c.do(ctx, op, rawURL, hdr, nil)
}

// Fetch GETs rawURL and hands the final response to consume. A transport failure while
// consume reads the body (it must return the *BodyError it got from the body, wrapped
// or not) counts as a failed attempt under op's rules and is retried when the policy
// says so. Fetch closes the body.
func (c *Client) Fetch(ctx context.Context, op policy.OperationType, rawURL string, hdr http.Header, consume func(*http.Response) error) error {
	_, err := c.do(ctx, op, rawURL, hdr, consume)
	return err
}

// do is the attempt loop. With consume nil the final response goes back open (Get);
// otherwise consume reads it inside the attempt and do closes it (Fetch).
func (c *Client) do(ctx context.Context, op policy.OperationType, rawURL string, hdr http.Header,
	consume func(*http.Response) error) (*http.Response, error) {
	cl := &call{op: op, url: redact.Redact(rawURL), start: c.o.Clock.Now()}
	req, ferr := c.newRequest(rawURL, hdr)
	if ferr != nil {
		ferr.Op, ferr.URL = op, cl.url
		if ferr.Decision.Reason == "bad_scheme" {
			c.ops.add(op, policy.Fail)
		}
		return nil, ferr
	}
	for {
		// wait, send and observe (per hop, in the transport).
		resp, stop, err := c.send(ctx, req)
		h, hostName := c.answerer(req.URL.Host, resp, err)

		// decide on the headers, or on the transport error.
		out, d := c.judge(ctx, cl, resp, err)
		var pause bool
		d, pause = c.manifestPause(cl, out, d)
		if !pause && d.Action != policy.ActionNone {
			c.ops.add(op, d.Action)
		}
		switch {
		case err != nil && d.Action != policy.Retry:
			return nil, &Error{Op: op, URL: cl.url, Host: hostName, Decision: d, Err: err, Attempts: cl.attempts}
		case err != nil:
			// a retry after a transport error
		case d.Action == policy.Defer || d.Action == policy.Failover:
			resp.Body.Close()
			stop()
			return nil, &Error{Op: op, URL: cl.url, Host: hostName, Status: resp.StatusCode, Decision: d, Attempts: cl.attempts}
		case d.Action == policy.Retry:
			drain(resp)
			stop()
		case consume == nil:
			// ActionNone, or a Fail that leaves the answer to the caller (a 404, the last 5xx).
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: stop}
			return resp, nil
		default:
			cerr := consume(resp)
			resp.Body.Close()
			stop()
			var be *BodyError
			if !errors.As(cerr, &be) {
				return nil, cerr
			}
			// decide again, on the body: it belongs to the attempt counted above.
			out = policy.Outcome{Err: policy.ClassifyError(be.Err)}
			if ctx.Err() != nil {
				out.Err = policy.ErrCanceled
			}
			d = c.decide(cl, out, max(cl.attempts, 1))
			c.ops.add(op, d.Action)
			if d.Action != policy.Retry {
				return nil, &Error{Op: op, URL: cl.url, Host: hostName, Decision: d, Err: be, Attempts: max(cl.attempts, 1)}
			}
		}

		// sleep.
		verb := "pausing discovery"
		if !pause {
			verb = "waiting"
			if h != nil {
				h.addRetry()
			}
		}
		c.logWait(cl, hostName, out, d, verb)
		if serr := c.pause(ctx, d.Wait); serr != nil {
			// Cancelled while waiting: the attempt's failure is in the log line above.
			fail := policy.Decision{Action: policy.Fail, Reason: policy.ClassifyError(serr).String()}
			return nil, &Error{Op: op, URL: cl.url, Host: hostName, Decision: fail, Err: serr, Attempts: cl.attempts}
		}
	}
}

// newRequest checks rawURL and builds the request every attempt clones. Nothing is
// sent for a URL it refuses.
func (c *Client) newRequest(rawURL string, hdr http.Header) (*http.Request, *Error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil {
			err = fmt.Errorf("scheme %q: %w", u.Scheme, policy.ErrUnsupportedScheme)
		}
		return nil, &Error{Decision: policy.Decision{Action: policy.Fail, Reason: "bad_scheme"}, Err: err}
	}
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &Error{Decision: policy.Decision{Action: policy.Fail, Reason: "bad_request"}, Err: err}
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.o.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	return req, nil
}

// send makes one attempt of req. retryablehttp is the engine that sends it, once
// (RetryMax 0); the transport admits, sends and observes every hop. The attempt has
// its own context: stop ends it, and so does a body that stops arriving for the
// timeout (the stall timer, on the injected clock).
func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, func(), error) {
	actx, cancel := context.WithCancelCause(ctx)
	rreq, err := retryablehttp.FromRequest(req.WithContext(actx))
	if err != nil {
		cancel(nil)
		return nil, nil, err
	}
	resp, err := c.rc.Do(rreq)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, nil, err
	}
	g := &stallGuard{ReadCloser: resp.Body, timeout: c.o.Timeout}
	g.timer = clock.AfterFunc(c.o.Clock, c.o.Timeout, func() { g.stalled.Store(true); cancel(errStalled) })
	resp.Body = g
	return resp, func() { cancel(nil) }, nil
}

// answerer finds the host that gave the attempt's last answer: the response's, or the
// hop the error names (url.Error carries the URL of the hop that failed or redirected),
// or the request's own host when nothing was sent.
func (c *Client) answerer(reqHost string, resp *http.Response, err error) (*host, string) {
	name := reqHost
	var ue *url.Error
	switch {
	case resp != nil && resp.Request != nil && resp.Request.URL != nil:
		name = resp.Request.URL.Host
	case errors.As(err, &ue):
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			name = u.Host
		}
	}
	if h, ok := c.reg.lookup(name); ok {
		return h, h.name
	}
	return nil, name
}

// judge turns an attempt's headers or transport error into an outcome and decides.
// A host closed for longer than MaxWait defers without using an attempt; a redirect
// chain over the limit fails at once (it ends the same way every time).
func (c *Client) judge(ctx context.Context, cl *call, resp *http.Response, err error) (policy.Outcome, policy.Decision) {
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
			return out, policy.Decision{Action: policy.Defer, Wait: hc.Until.Sub(c.o.Clock.Now()), Reason: reason}
		}
		if errors.Is(err, ErrTooManyRedirects) {
			cl.attempts++
			return out, policy.Decision{Action: policy.Fail, Reason: "too_many_redirects"}
		}
		out.Err = policy.ClassifyError(err)
	default:
		out.Status, out.Header = resp.StatusCode, resp.Header
	}
	cl.attempts++
	d := c.decide(cl, out, cl.attempts)
	if err != nil && d.Action == policy.ActionNone { // a cancelled request whose error came back
		d = policy.Decision{Action: policy.Fail, Reason: policy.ClassifyError(err).String()}
	}
	return out, d
}

func (c *Client) decide(cl *call, out policy.Outcome, attempt int) policy.Decision {
	now := c.o.Clock.Now()
	return c.o.Policy.Decide(policy.Input{
		Op: cl.op, Outcome: out, Attempt: attempt, Elapsed: now.Sub(cl.start), Now: now, Jitter: c.o.Rand(),
	})
}

// manifestPause turns discovery's defer on a 429 or 503 into a pause until the host's
// window ends: it uses no attempt, and at most maxManifestPauses are taken.
func (c *Client) manifestPause(cl *call, out policy.Outcome, d policy.Decision) (policy.Decision, bool) {
	if d.Action != policy.Defer || cl.op != policy.ManifestFetch || d.Reason == reasonOverCap ||
		cl.pauses >= maxManifestPauses ||
		(out.Status != http.StatusTooManyRequests && out.Status != http.StatusServiceUnavailable) {
		return d, false
	}
	cl.attempts--
	cl.pauses++
	return policy.Decision{Action: policy.Retry, Wait: d.Wait, Reason: d.Reason}, true
}

func (c *Client) logWait(cl *call, hostName string, out policy.Outcome, d policy.Decision, verb string) {
	what := out.Err.String()
	if out.Err == policy.ErrNone {
		what = strconv.Itoa(out.Status)
	}
	c.log.Info(fmt.Sprintf("%s %s for %s (%s, %s)", verb, d.Wait.Round(time.Millisecond), hostName, what, d.Reason),
		"operation", cl.op.String(), "host", hostName, "attempt", cl.attempts, "wait", d.Wait, "reason", d.Reason)
}

// drain reads a little of a body that will be retried, so its connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
}

// cancelOnClose ends a request's attempt when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// stallGuard cuts off a body that makes no progress for the timeout: its timer, reset
// by every read that brings bytes and stopped at the end of the body, cancels the
// attempt's context, and the failed read becomes a *BodyError wrapping errStalled.
type stallGuard struct {
	io.ReadCloser
	timeout time.Duration
	timer   clock.Timer
	stalled atomic.Bool
}

func (g *stallGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	switch {
	case err == nil:
		if n > 0 {
			g.timer.Reset(g.timeout)
		}
	case errors.Is(err, io.EOF):
		g.timer.Stop()
	case g.stalled.Load():
		err = &BodyError{Err: errStalled}
	}
	return n, err
}

func (g *stallGuard) Close() error {
	g.timer.Stop()
	return g.ReadCloser.Close()
}
