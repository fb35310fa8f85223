package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

func newTestClient(t *testing.T, pol policy.Policy, clk clock.Clock, lim HostLimit) *Client {
	t.Helper()
	c := New(Options{
		Policy:   pol,
		MaxWait:  60 * time.Second,
		Clock:    clk,
		Timeout:  2 * time.Second,
		LimitFor: func(string) HostLimit { return lim },
		Rand:     func() float64 { return 0.5 },
	})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

var fastLimit = HostLimit{RPS: 1000, Burst: 10, Concurrency: 4, Cooldown: 2 * time.Second}

func isRateLimited(fe *Error) bool {
	host, ok := fe.RateLimited()
	return ok && host == fe.Host && host != ""
}

func start() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func TestRetryAfterClosesHostAndIsHonoured(t *testing.T) {
	clk := clock.NewFake(start())
	var mu sync.Mutex
	var windowEnd time.Time
	var inside int
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if clk.Now().Before(windowEnd) {
			inside++
		}
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "7")
			windowEnd = clk.Now().Add(7 * time.Second)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	for _, pol := range []policy.Policy{policy.NewLegacy(policy.DefaultConfig()), policy.NewContextual(policy.DefaultConfig())} {
		mu.Lock()
		calls, inside, windowEnd = 0, 0, time.Time{}
		mu.Unlock()
		c := newTestClient(t, pol, clk, fastLimit)
		t0 := clk.Now()
		resp, err := c.Get(context.Background(), policy.Download, srv.URL+"/a", nil)
		if err != nil {
			t.Fatalf("%s: %v", pol.Name(), err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || calls != 2 {
			t.Fatalf("%s: status %d after %d calls", pol.Name(), resp.StatusCode, calls)
		}
		if waited := clk.Now().Sub(t0); waited < 7*time.Second {
			t.Errorf("%s: waited %s, want at least the 7s Retry-After", pol.Name(), waited)
		}
		if inside != 0 {
			t.Errorf("%s: %d requests inside the Retry-After window", pol.Name(), inside)
		}
		hs := c.HostStats()
		if len(hs) != 1 || hs[0].Count429 != 1 || hs[0].Retries != 1 || hs[0].Requests != 2 {
			t.Errorf("%s: host stats %+v", pol.Name(), hs)
		}
	}
}

func TestRetryAfterBeyondCapDefersWithoutSleeping(t *testing.T) {
	clk := clock.NewFake(start())
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c := newTestClient(t, policy.NewLegacy(policy.DefaultConfig()), clk, fastLimit)
	t0 := clk.Now()
	_, err := c.Get(context.Background(), policy.Download, srv.URL+"/a", nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Decision.Action != policy.Defer || !isRateLimited(fe) {
		t.Fatalf("err = %v, want a rate-limited Defer", err)
	}
	if clk.Now() != t0 {
		t.Errorf("slept %s; past the cap nothing may sleep", clk.Now().Sub(t0))
	}
	// The host stays closed: the next request is not sent at all.
	_, err = c.Get(context.Background(), policy.Download, srv.URL+"/b", nil)
	if !errors.As(err, &fe) || fe.Reason() != "host_cooldown" {
		t.Fatalf("second request: %v, want host_cooldown", err)
	}
	if calls.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", calls.Load())
	}
	if until, _ := c.HostOpenAt(strings.TrimPrefix(srv.URL, "http://")); until.Sub(t0) != time.Hour {
		t.Errorf("host reopens at +%s, want +1h", until.Sub(t0))
	}
}

func Test429WithoutRetryAfterDoublesCooldown(t *testing.T) {
	clk := clock.NewFake(start())
	var times []time.Time
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, clk.Now())
		n := len(times)
		mu.Unlock()
		if n <= 3 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	pc := policy.DefaultConfig()
	pc.BaseDelay, pc.MaxDelay = time.Millisecond, time.Millisecond
	c := newTestClient(t, policy.NewLegacy(pc), clk, fastLimit)
	resp, err := c.Get(context.Background(), policy.Download, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Cooldowns 2s, 4s, 8s between the four requests.
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if gap := times[i+1].Sub(times[i]); gap < want {
			t.Errorf("gap %d = %s, want ≥ %s", i, gap, want)
		}
	}
}

// blockingClock reports each sleep and blocks it until the context ends or release.
type blockingClock struct {
	mu      sync.Mutex
	now     time.Time
	slept   chan time.Duration
	release chan struct{}
}

func (b *blockingClock) Now() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }
func (b *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	b.slept <- d
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.release:
		b.mu.Lock()
		b.now = b.now.Add(d)
		b.mu.Unlock()
		return nil
	}
}

func TestConcurrencyCap(t *testing.T) {
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	lim := fastLimit
	lim.Concurrency = 2
	c := newTestClient(t, policy.NewLegacy(policy.DefaultConfig()), clock.Real{}, lim)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(context.Background(), policy.Download, fmt.Sprintf("%s/%d", srv.URL, i), nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 2 || peak.Load() < 1 {
		t.Errorf("peak concurrency %d, want ≤ 2", peak.Load())
	}
}

func TestRedirectLimitAndSchemes(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://example.org/x.pdf", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, policy.NewContextual(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	for path, want := range map[string]string{"/loop": "too_many_redirects", "/file": "bad_scheme", "/ftp": "bad_scheme"} {
		_, err := c.Get(context.Background(), policy.Download, srv.URL+path, nil)
		var fe *Error
		if !errors.As(err, &fe) || fe.Reason() != want {
			t.Errorf("%s: err %v, want reason %s", path, err, want)
		}
	}
	for _, raw := range []string{"file:///etc/passwd", "ftp://x/y", "javascript:alert(1)", "gopher://x"} {
		_, err := c.Get(context.Background(), policy.Download, raw, nil)
		if !errors.Is(err, policy.ErrUnsupportedScheme) {
			t.Errorf("%s: err %v, want ErrUnsupportedScheme", raw, err)
		}
	}
}

func TestStalledBodyIsATimeoutAndRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "%PDF-partial")
		w.(http.Flusher).Flush()
		if n == 1 {
			select { // stall until the client gives up
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		io.WriteString(w, strings.Repeat("x", 88))
	}))
	defer srv.Close()
	c := New(Options{Policy: policy.NewContextual(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clock.NewFake(start()),
		Timeout: 150 * time.Millisecond, LimitFor: func(string) HostLimit { return fastLimit }})
	defer c.CloseIdleConnections()
	var got []byte
	err := c.Fetch(context.Background(), policy.Download, srv.URL, nil, func(resp *http.Response) error {
		var err error
		got, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(got) != 100 || calls.Load() != 2 {
		t.Errorf("got %d bytes after %d calls, want 100 after 2", len(got), calls.Load())
	}
}

func TestTruncatedBodyExhaustsAttempts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "short")
	}))
	defer srv.Close()
	pc := policy.DefaultConfig()
	pc.Ops[policy.Download].MaxAttempts = 3
	c := newTestClient(t, policy.NewContextual(pc), clock.NewFake(start()), fastLimit)
	err := c.Fetch(context.Background(), policy.Download, srv.URL, nil, func(resp *http.Response) error {
		_, err := io.ReadAll(resp.Body)
		return err
	})
	var fe *Error
	if !errors.As(err, &fe) || fe.Decision.Action != policy.Fail || fe.Reason() != "reset" {
		t.Fatalf("err = %v, want Fail with reason reset", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3 (max_attempts)", calls.Load())
	}
}

func TestCancelledContextFailsAtOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newTestClient(t, policy.NewContextual(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	if _, err := c.Get(ctx, policy.Download, srv.URL, nil); err == nil {
		t.Fatal("no error for a cancelled context")
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests sent with a cancelled context", calls.Load())
	}
}

func TestResolve429FailsOverUnderContextual(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c := newTestClient(t, policy.NewContextual(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	_, err := c.Get(context.Background(), policy.Resolve, srv.URL, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Decision.Action != policy.Failover || !isRateLimited(fe) {
		t.Fatalf("err = %v, want Failover", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want exactly 1", calls.Load())
	}
	if ops := c.OpStats(); ops["resolve"].Failovers != 1 {
		t.Errorf("op stats %+v", ops)
	}
}

func TestManifestFetchPausesWithoutUsingAttempts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 7 { // more 429s than max_attempts
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	c := newTestClient(t, policy.NewContextual(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	resp, err := c.Get(context.Background(), policy.ManifestFetch, srv.URL, nil)
	if err != nil {
		t.Fatalf("discovery gave up: %v", err)
	}
	resp.Body.Close()
	if calls.Load() != 8 {
		t.Errorf("calls = %d, want 8", calls.Load())
	}
}

func TestGetBodyStallIsCutOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"results": [`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c := New(Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clock.NewFake(start()),
		Timeout: 150 * time.Millisecond, LimitFor: func(string) HostLimit { return fastLimit }})
	defer c.CloseIdleConnections()
	resp, err := c.Get(context.Background(), policy.Resolve, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if policy.ClassifyError(err) != policy.ErrTimeout {
		t.Errorf("stalled Get body read: %v, want a timeout", err)
	}
	if waited := time.Since(began); waited > 3*time.Second {
		t.Errorf("stalled body held the reader for %s", waited)
	}
}
