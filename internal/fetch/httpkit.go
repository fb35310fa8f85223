package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/redact"
)

// Doer performs one logical GET, with host politeness and retries handled underneath.
// It returns the final response (any status; the caller closes the body) or an error.
// op tells the retry policy which rules apply (policy.ManifestFetch for OpenAlex,
// policy.Resolve for resolver APIs and landing pages). *Client is the Doer of a run;
// openalex and resolve take the interface, so their tests can use a ClientDoer.
type Doer interface {
	Get(ctx context.Context, op policy.OperationType, url string, hdr http.Header) (*http.Response, error)
}

// DoerFunc adapts a function to Doer.
type DoerFunc func(ctx context.Context, op policy.OperationType, url string, hdr http.Header) (*http.Response, error)

// Get calls f.
func (f DoerFunc) Get(ctx context.Context, op policy.OperationType, url string, hdr http.Header) (*http.Response, error) {
	return f(ctx, op, url, hdr)
}

// ClientDoer adapts a plain *http.Client to Doer: one request per call, with no host
// politeness and no retries. It is meant for tests and one-off tools; runs use the
// Client. A nil Client means http.DefaultClient.
type ClientDoer struct {
	Client *http.Client
}

// Get sends a GET request with the given headers.
func (d ClientDoer) Get(ctx context.Context, _ policy.OperationType, url string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, redact.Error(err)
	}
	for k, vs := range hdr {
		req.Header[k] = append([]string(nil), vs...)
	}
	c := d.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	return resp, redact.Error(err)
}

// NewStatusError is the *Error for an answer whose status the caller cannot use (a
// non-2xx API answer, a candidate that is not 200). Its Decision is ActionNone: the
// policy let the answer through, and the caller decides what comes next. The URL is
// the answer's (after redirects), redacted. It neither reads nor closes the body.
func NewStatusError(resp *http.Response, rawURL string) *Error {
	if resp.Request != nil && resp.Request.URL != nil {
		rawURL = resp.Request.URL.String()
	}
	return &Error{URL: redact.Redact(rawURL), Host: HostOf(rawURL), Status: resp.StatusCode,
		RetryAfter: resp.Header.Get("Retry-After")}
}

// ErrBodyTooLarge is returned when a response body exceeds the size limit for its kind.
var ErrBodyTooLarge = errors.New("response body too large")

// LimitBody returns a reader that yields at most limit bytes of r and then fails with
// ErrBodyTooLarge if r has more, so oversized input is an error rather than a silent
// truncation.
func LimitBody(r io.Reader, limit int64) io.Reader {
	return &limitedReader{r: r, n: limit, limit: limit}
}

type limitedReader struct {
	r     io.Reader
	n     int64 // bytes still allowed
	limit int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe for one more byte to tell "exactly at the limit" from "over it".
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (limit %d bytes)", ErrBodyTooLarge, l.limit)
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// DecodeJSON decodes exactly one JSON value from r into v, reading at most limit
// bytes (more is ErrBodyTooLarge) and rejecting trailing data after the value.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	dec := json.NewDecoder(LimitBody(r, limit))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body")
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return err
		}
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// CloseBody drains a bounded amount of the body, so the connection can be reused,
// and closes it.
func CloseBody(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}
