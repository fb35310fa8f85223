package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
)

// message is what Error() says: the operation, the host, the cause in plain words,
// what the policy did after how many attempts, and the URL once, shortened and
// redacted. For example:
//
//	manifest_fetch api.openalex.org: DNS lookup failed: no such host; gave up after 5 attempts (https://api.openalex.org/works?…)
//
// Detail gives the underlying error in full, for debug logs.
func (e *Error) message() string {
	if e.Decision.Action == policy.ActionNone && e.Status != 0 {
		return e.statusMessage()
	}
	host := e.Host
	if host == "" {
		if u, err := url.Parse(e.URL); err == nil {
			host = u.Host
		}
	}
	var b strings.Builder
	b.WriteString(e.Op.String())
	if host != "" {
		b.WriteString(" " + host)
	}
	b.WriteString(": " + e.Cause())
	if what := e.outcome(); what != "" {
		b.WriteString("; " + what)
	}
	if e.URL != "" {
		b.WriteString(" (" + redact.Short(e.URL) + ")")
	}
	return b.String()
}

// statusMessage is the message of an answer the caller could not use:
//
//	HTTP 429 Too Many Requests from https://api.openalex.org/works?… (Retry-After: 3600)
func (e *Error) statusMessage() string {
	text := http.StatusText(e.Status)
	if text == "" {
		text = "unexpected status"
	}
	msg := fmt.Sprintf("HTTP %d %s from %s", e.Status, text, redact.Short(e.URL))
	if e.RetryAfter != "" {
		msg += " (Retry-After: " + e.RetryAfter + ")"
	}
	return msg
}

// Cause says in plain words why the request failed: a DNS lookup, a refused
// connection, TLS, a timeout, a slow body, an HTTP status, a cooldown.
func (e *Error) Cause() string {
	if e.Status != 0 {
		return statusText(e.Status)
	}
	if e.Err != nil {
		return describeErr(e.Err)
	}
	switch e.Decision.Reason {
	case "host_cooldown":
		return "host is cooling down after Retry-After or 429s"
	case "quota_exhausted":
		return "provider quota exhausted"
	case "":
		return "failed"
	}
	return strings.ReplaceAll(e.Decision.Reason, "_", " ")
}

// Detail is the full redacted URL and the underlying error chain, for --log-level debug.
func (e *Error) Detail() string {
	d := fmt.Sprintf("%s %s: %s", e.Op, e.URL, e.Decision.Action)
	if e.Decision.Reason != "" {
		d += " (" + e.Decision.Reason + ")"
	}
	if e.Err != nil {
		d += ": " + redact.Text(e.Err.Error())
	}
	return d
}

// outcome says what the policy decided, with the attempt count.
func (e *Error) outcome() string {
	att := plural(e.Attempts, "attempt")
	switch e.Decision.Action {
	case policy.Fail:
		switch {
		case e.Attempts == 0:
			return "not sent"
		case e.Decision.Reason == "max_attempts":
			return "gave up after " + att
		case e.Decision.Reason == "deadline":
			return "gave up at the deadline after " + att
		}
		return "failed after " + att
	case policy.Defer:
		s := "deferred"
		if e.Decision.Wait > 0 {
			s += " for " + e.Decision.Wait.Round(time.Second).String()
		}
		if e.Attempts > 0 {
			s += " after " + att
		}
		return s
	case policy.Failover:
		return "failing over after " + att
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return "HTTP " + strconv.Itoa(status) + " " + t
	}
	return "HTTP " + strconv.Itoa(status)
}

// describeErr names a transport or body error in plain words.
func describeErr(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		s := "DNS lookup failed" // the message names the host already
		switch {
		case dns.IsNotFound:
			return s + ": no such host"
		case dns.IsTimeout:
			return s + ": timed out"
		}
		return s + ": " + dns.Err
	}
	if errors.Is(err, ErrTooManyRedirects) {
		return "too many redirects"
	}
	if errors.Is(err, errStalled) {
		return "timed out: the body stopped arriving"
	}
	switch policy.ClassifyError(err) {
	case policy.ErrConnRefused:
		return "connection refused"
	case policy.ErrReset:
		return "connection reset or closed early"
	case policy.ErrTimeout:
		return "timed out"
	case policy.ErrTLS:
		return "TLS failed: " + innermost(err)
	case policy.ErrCanceled:
		return "canceled"
	case policy.ErrBadScheme:
		return "unsupported URL scheme"
	case policy.ErrTooSlow:
		return "too slow: " + strings.TrimPrefix(innermost(err), "read body: ")
	}
	return innermost(err)
}

// innermost is err's message without the URL that *url.Error and our own wrappers
// repeat, redacted.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var be *BodyError
	if errors.As(err, &be) {
		err = be.Err
	}
	return redact.Text(err.Error())
}
