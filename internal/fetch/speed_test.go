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

// trickleServer sends its body one byte per second of the fake clock (it steps the
// clock itself, so nobody sleeps): it writes a byte, waits until the client says it has
// read it, then moves the clock one second on. So the client sees exactly one byte a
// second, however the goroutines are scheduled. Each response hands the client its
// own acknowledgement channel through acks (an aborted attempt's handler must not take
// the next attempt's acknowledgements). It stops when the client hangs up or after
// total bytes.
func trickleServer(t *testing.T, clk *clock.Fake, total int, acks chan chan struct{}, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		ack := make(chan struct{})
		acks <- ack
		w.Header().Set("Content-Type", "application/pdf")
		w.WriteHeader(http.StatusOK)
		for range total {
			if _, err := io.WriteString(w, "x"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-ack:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				return
			}
			clk.Advance(time.Second)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// readTrickle reads a trickleServer body one byte at a time, acknowledging each, and
// returns how many bytes it got and the error that ended the body (nil at EOF).
func readTrickle(t *testing.T, resp *http.Response, acks chan chan struct{}) (int, error) {
	t.Helper()
	var ack chan struct{}
	select {
	case ack = <-acks:
	case <-time.After(10 * time.Second):
		t.Fatal("no acknowledgement channel from the server")
	}
	n, buf := 0, make([]byte, 1)
	for {
		k, err := resp.Body.Read(buf)
		n += k
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if k > 0 {
			ack <- struct{}{}
		}
	}
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
	acks := make(chan chan struct{}, 1)
	srv := trickleServer(t, clk, 10_000, acks, &calls)
	c := speedClient(t, clk, 3)
	var perAttempt []int
	began := clk.Now()
	err := c.Fetch(context.Background(), policy.Download, srv.URL+"/slow.pdf", nil, func(resp *http.Response) error {
		n, err := readTrickle(t, resp, acks)
		perAttempt = append(perAttempt, n)
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
		// Byte k arrives k-1 seconds after the headers: the read of byte 31 is the
		// first at the end of the 30 s window, and it fails.
		if n != 31 {
			t.Errorf("attempt %d read %d bytes before the abort; want 31 (one a second for the 30 s window)", i+1, n)
		}
	}
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
	acks := make(chan chan struct{}, 1)
	srv := trickleServer(t, clk, 100, acks, &calls)
	c := New(Options{Policy: policy.NewContextual(policy.DefaultConfig()), Clock: clk, Timeout: 10 * time.Second,
		LimitFor: func(string) HostLimit { return fastLimit }})
	t.Cleanup(c.CloseIdleConnections)
	var got int
	err := c.Fetch(context.Background(), policy.Download, srv.URL, nil, func(resp *http.Response) error {
		var err error
		got, err = readTrickle(t, resp, acks)
		return err
	})
	if err != nil || got != 100 {
		t.Fatalf("err %v, %d bytes; want the whole 100-byte trickle", err, got)
	}
}
