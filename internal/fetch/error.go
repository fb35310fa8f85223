package fetch

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/docstokg/contentdl/internal/policy"
)

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

var errStalled = &stallError{}

// stallError is returned when a body makes no progress for the timeout.
type stallError struct{}

func (*stallError) Error() string   { return "body read stalled" }
func (*stallError) Timeout() bool   { return true }
func (*stallError) Temporary() bool { return true }
