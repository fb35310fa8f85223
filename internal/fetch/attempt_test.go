package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

// The stall timer runs on the injected clock: a body that stops arriving is cut off
// when the Manual clock passes the timeout, and not before, however long the test
// waits in real time.
func TestStallTimerUsesTheInjectedClock(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "%PDF-partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	clk := clock.NewManual(start())
	c := New(Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clk,
		Timeout: 10 * time.Second, LimitFor: func(string) HostLimit { return fastLimit }})
	defer c.CloseIdleConnections()
	resp, err := c.Get(context.Background(), policy.Resolve, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if n, err := resp.Body.Read(buf); err != nil || n == 0 {
		t.Fatalf("first read: %d, %v", n, err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the read ended before the clock moved: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Advance(9 * time.Second)
	select {
	case err := <-got:
		t.Fatalf("the read ended 1s before the timeout: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Advance(time.Second)
	select {
	case err := <-got:
		var be *BodyError
		if !errors.As(err, &be) || !errors.Is(err, errStalled) || policy.ClassifyError(err) != policy.ErrTimeout {
			t.Fatalf("stalled read: %v, want a *BodyError timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stall timer did not fire when the clock passed the timeout")
	}
}

// Header and body failures share one loop and one attempt budget: a 503, then a
// truncated body, then a 503 again is three attempts, and the third is the last.
func TestHeaderAndBodyFailuresShareTheAttempts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 2:
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, "short")
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	pc := policy.DefaultConfig()
	pc.Ops[policy.Download].MaxAttempts = 3
	clk := clock.NewFake(start())
	c := newTestClient(t, policy.NewContextual(pc), clk, fastLimit)
	consumed := 0
	err := c.Fetch(context.Background(), policy.Download, srv.URL, nil, func(resp *http.Response) error {
		consumed++
		_, err := io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err) // the last 503 is the caller's to judge
	}
	if calls.Load() != 3 || consumed != 2 {
		t.Errorf("%d requests, %d handed to consume; want 3 and 2", calls.Load(), consumed)
	}
	// Two retries (after the 503 and after the body), each paced by the policy's
	// backoff on the injected clock: 0.5 × 1s, then 0.5 × 2s.
	if slept, naps := clk.Slept(); naps != 2 || slept != 1500*time.Millisecond {
		t.Errorf("slept %s in %d naps, want 1.5s in 2", slept, naps)
	}
	ops := c.OpStats()["download"]
	if ops.Retries != 2 || ops.Fails != 1 {
		t.Errorf("op stats %+v, want 2 retries and 1 fail", ops)
	}
	hs := c.HostStats()
	if len(hs) != 1 || hs[0].Retries != 2 || hs[0].Requests != 3 {
		t.Errorf("host stats %+v", hs)
	}
}
