package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

// trickleServer sends its body in chunks of `chunk` bytes, one chunk per second of
// the fake clock (it steps the clock itself, so nobody sleeps), until the client hangs
// up or `total` bytes are sent.
func trickleServer(t *testing.T, clk *clock.Fake, chunk, total int, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.WriteHeader(http.StatusOK)
		piece := strings.Repeat("x", chunk)
		for sent := 0; sent < total; sent += chunk {
			if _, err := io.WriteString(w, piece); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			clk.Advance(time.Second)
			if r.Context().Err() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func speedClient(t *testing.T, clk clock.Clock, maxAttempts int) *Client {
	t.Helper()
	pc := policy.DefaultConfig()
	pc.Ops[policy.Download] = policy.OpRule{MaxAttempts: maxAttempts}
	c := New(Options{Policy: policy.NewContextual(pc), MaxWait: time.Minute, Clock: clk, Timeout: 10 * time.Second,
		LimitFor: func(string) HostLimit { return fastLimit }, Rand: func() float64 { return 0.5 },
		MinSpeed: 1024, MinSpeedWindow: 30 * time.Second})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// A body that trickles one byte a second keeps resetting the stall timer, but falls
// under download.min_speed: it is aborted as too_slow after the window and retried
// until the attempts run out.
func TestTricklingBodyIsTooSlowAndRetried(t *testing.T) {
	clk := clock.NewFake(start())
	var calls atomic.Int32
	srv := trickleServer(t, clk, 1, 10_000, &calls)
	c := speedClient(t, clk, 3)
	var perAttempt []int
	began := clk.Now()
	err := c.Fetch(context.Background(), policy.Download, srv.URL+"/slow.pdf", nil, func(resp *http.Response) error {
		n, err := io.Copy(io.Discard, resp.Body)
		perAttempt = append(perAttempt, int(n))
		return err
	})
	var fe *Error
	if !errors.As(err, &fe) || fe.Decision.Action != policy.Fail || fe.Reason() != "too_slow" {
		t.Fatalf("err = %v, want Fail with reason too_slow", err)
	}
	if !errors.Is(err, policy.ErrBodyTooSlow) || policy.ClassifyError(err) != policy.ErrTooSlow {
		t.Errorf("error does not classify as too_slow: %v", err)
	}
	if calls.Load() != 3 || len(perAttempt) != 3 {
		t.Fatalf("%d requests, %d bodies read; want 3 (every attempt retried)", calls.Load(), len(perAttempt))
	}
	for i, n := range perAttempt {
		// Aborted once its window was over: some bytes, far from the 10,000 that a
		// server trickling on for hours would have sent.
		if n < 1 || n > 1_000 {
			t.Errorf("attempt %d read %d bytes before the abort; want a few dozen", i+1, n)
		}
	}
	// Each attempt lasted its full 30 s window of clock time before it was cut (the
	// next attempt starts after the abort), so the three took at least 90 s.
	if el := clk.Now().Sub(began); el < 90*time.Second {
		t.Errorf("three attempts took %s of clock time; each should last the 30 s window", el)
	}
}

// A body above the minimum speed is read to the end, however long it takes. Here the
// reader steps the clock, one second per 2 KiB it gets, so the measured speed is
// exactly 2 KiB/s whatever the socket buffers hold.
func TestBodyAboveMinSpeedCompletes(t *testing.T) {
	clk := clock.NewFake(start())
	var calls atomic.Int32
	const total = 2048 * 90 // 90 clock seconds: three full windows
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, strings.Repeat("x", total))
	}))
	t.Cleanup(srv.Close)
	c := speedClient(t, clk, 3)
	var got int
	err := c.Fetch(context.Background(), policy.Download, srv.URL+"/ok.pdf", nil, func(resp *http.Response) error {
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			got += n
			clk.Advance(time.Duration(n) * time.Second / 2048)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if err != nil || got != total || calls.Load() != 1 {
		t.Fatalf("err %v, %d of %d bytes in %d requests", err, got, total, calls.Load())
	}
	if el := clk.Now().Sub(start()); el < 89*time.Second {
		t.Errorf("clock moved %s; the body should have taken 90 s of clock time", el)
	}
}

// MinSpeed 0 turns the check off: the trickle is read to its end.
func TestMinSpeedZeroIsOff(t *testing.T) {
	clk := clock.NewFake(start())
	var calls atomic.Int32
	srv := trickleServer(t, clk, 1, 100, &calls)
	c := New(Options{Policy: policy.NewContextual(policy.DefaultConfig()), Clock: clk, Timeout: 10 * time.Second,
		LimitFor: func(string) HostLimit { return fastLimit }})
	t.Cleanup(c.CloseIdleConnections)
	var got int64
	err := c.Fetch(context.Background(), policy.Download, srv.URL, nil, func(resp *http.Response) error {
		var err error
		got, err = io.Copy(io.Discard, resp.Body)
		return err
	})
	if err != nil || got != 100 {
		t.Fatalf("err %v, %d bytes; want the whole 100-byte trickle", err, got)
	}
}
