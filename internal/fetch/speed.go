package fetch

import (
	"fmt"
	"io"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

// speedReader aborts a response body that arrives slower than a minimum speed, like
// curl's --speed-limit and --speed-time: each window of MinSpeedWindow must bring at
// least MinSpeed × window bytes, or the next read fails with a *BodyError wrapping
// policy.ErrBodyTooSlow (kind too_slow, retried by the policy). The stall timer
// catches a body that sends nothing at all; this catches one that sends a byte now
// and then, which resets the stall timer every time. Time comes from the injected
// clock, so tests step it instead of sleeping.
type speedReader struct {
	io.ReadCloser
	clk    clock.Clock
	min    int64 // bytes per second
	window time.Duration

	start time.Time // start of the current window
	n     int64     // bytes read in the current window
}

// limitSpeed wraps a response body with the client's minimum-speed check, or returns
// it unchanged when the check is off (MinSpeed or MinSpeedWindow not positive).
func (c *Client) limitSpeed(rc io.ReadCloser) io.ReadCloser {
	if c.o.MinSpeed <= 0 || c.o.MinSpeedWindow <= 0 {
		return rc
	}
	return &speedReader{ReadCloser: rc, clk: c.o.Clock, min: c.o.MinSpeed, window: c.o.MinSpeedWindow, start: c.o.Clock.Now()}
}

func (s *speedReader) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.n += int64(n)
	if err != nil {
		return n, err // a finished body is never too slow; a failed one has its error
	}
	now := s.clk.Now()
	elapsed := now.Sub(s.start)
	if elapsed < s.window {
		return n, nil
	}
	need := int64(float64(s.min) * s.window.Seconds())
	if s.n < need {
		rate := float64(s.n) / elapsed.Seconds()
		return n, &BodyError{Err: fmt.Errorf("%w: %.0f bytes/s over %s, minimum %d bytes/s (download.min_speed)",
			policy.ErrBodyTooSlow, rate, elapsed.Round(time.Second), s.min)}
	}
	s.start, s.n = now, 0
	return n, nil
}
