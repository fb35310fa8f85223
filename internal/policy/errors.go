package policy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// ErrKind classifies a transport error: an error returned by http.Client.Do or by reading
// a response body. ErrNone means the request produced an HTTP response.
type ErrKind uint8

// The transport error kinds, from no error to "anything else".
const (
	ErrNone        ErrKind = iota // no transport error; the outcome carries a status
	ErrTimeout                    // deadline exceeded, client timeout, net.Error with Timeout()
	ErrConnRefused                // the host refused the TCP connection
	ErrReset                      // connection reset, broken pipe or premature EOF
	ErrTLS                        // handshake or certificate failure; not retryable
	ErrCanceled                   // the caller cancelled the context; never retried
	ErrBadScheme                  // the URL scheme is not http or https; not retryable
	ErrOther                      // anything else; treated like a connection error
	ErrBlocked                    // the network guard refused the address; not retryable
	ErrTooSlow                    // the body arrived slower than the minimum speed; retryable
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	"none", "timeout", "connect_refused", "reset", "tls", "canceled", "bad_scheme", "other", "blocked_address", "too_slow",
}

// String returns the snake_case name used in logs, reasons and the manifest.
func (k ErrKind) String() string {
	if k < numErrKinds {
		return errKindNames[k]
	}
	return "unknown"
}

// ErrUnsupportedScheme reports a URL whose scheme cannot be fetched. Code that rejects a
// URL before sending it should wrap this error so that ClassifyError returns ErrBadScheme.
var ErrUnsupportedScheme = errors.New("unsupported protocol scheme")

// AddressBlocker is the behaviour of an error that refuses a connection because of the
// address it would reach (internal/netguard's error has it). The policy asks for the
// behaviour rather than the type, so it imports nothing from the rest of contentdl.
type AddressBlocker interface {
	BlockedAddress() bool
}

func isBlocked(err error) bool {
	b, ok := err.(AddressBlocker)
	return ok && b.BlockedAddress()
}

// ErrBodyTooSlow reports a response body that arrived slower than the configured
// minimum speed (download.min_speed over download.min_speed_window). Code that aborts
// such a body wraps it so that ClassifyError returns ErrTooSlow.
var ErrBodyTooSlow = errors.New("body slower than the minimum speed")

// ClassifyError maps an error from http.Client.Do or from reading a response body to an
// ErrKind. It inspects the whole wrap chain with errors.Is and errors.As, so callers may
// wrap errors freely. The checks run in this order, the first match winning:
//
//   - nil → ErrNone
//   - context.Canceled → ErrCanceled
//   - any error in the chain with BlockedAddress() true (AddressBlocker) → ErrBlocked
//   - ErrBodyTooSlow → ErrTooSlow
//   - context.DeadlineExceeded, os.ErrDeadlineExceeded, or any error in the chain whose
//     Timeout() method reports true (net.Error, the client's Timeout, the TLS handshake
//     timeout, ETIMEDOUT) → ErrTimeout
//   - ErrUnsupportedScheme, or net/http's "unsupported protocol scheme" → ErrBadScheme
//   - tls.RecordHeaderError, http.ErrSchemeMismatch (the form net/http gives it when a
//     plain-HTTP server answers an https URL), *tls.CertificateVerificationError,
//     tls.AlertError, a TLS alert sent by the peer, x509.UnknownAuthorityError, x509.HostnameError,
//     x509.CertificateInvalidError → ErrTLS
//   - syscall.ECONNREFUSED → ErrConnRefused
//   - syscall.ECONNRESET, ECONNABORTED, EPIPE, io.ErrUnexpectedEOF, io.EOF → ErrReset
//   - anything else → ErrOther
func ClassifyError(err error) ErrKind {
	switch {
	case err == nil:
		return ErrNone
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	case anyInChain(err, isBlocked):
		return ErrBlocked
	case errors.Is(err, ErrBodyTooSlow):
		return ErrTooSlow
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		anyInChain(err, isTimeoutError):
		return ErrTimeout
	case errors.Is(err, ErrUnsupportedScheme), strings.Contains(err.Error(), "unsupported protocol scheme"):
		return ErrBadScheme
	case isTLSError(err):
		return ErrTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrReset
	default:
		return ErrOther
	}
}

// isTimeoutError reports whether err itself (not its wrapped errors) says it is a timeout.
// *url.Error only asks its direct child, so ClassifyError walks the chain with this.
func isTimeoutError(err error) bool {
	t, ok := err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// isTLSError reports whether the chain holds a TLS handshake, record or certificate error.
func isTLSError(err error) bool {
	var (
		recordErr  tls.RecordHeaderError
		verifyErr  *tls.CertificateVerificationError
		alertErr   tls.AlertError
		unknownErr x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &recordErr) || errors.As(err, &verifyErr) || errors.As(err, &alertErr) ||
		errors.As(err, &unknownErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return true
	}
	// crypto/tls reports an alert received from the peer (for example a server that
	// rejects the handshake) as a *net.OpError with Op "remote error" wrapping an
	// unexported alert type.
	return anyInChain(err, func(e error) bool {
		op, ok := e.(*net.OpError)
		return ok && op.Op == "remote error"
	})
}

// anyInChain reports whether match holds for err or for any error it wraps, following
// both Unwrap() error and Unwrap() []error.
func anyInChain(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, match) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
