package download

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/resolve"
)

// pdfHost serves PDFs. While its window is open (clock time before closedUntil) it
// answers 429 with Retry-After; it records what it saw, on the test's clock.
type pdfHost struct {
	srv         *httptest.Server
	clk         clock.Clock
	closedUntil time.Time
	retryAfter  string

	mu            sync.Mutex
	served        int
	throttled     int
	inWindow      int // requests that arrived inside a window the host announced
	inflight      int
	probeOut      bool // a request after the window's end is not yet answered
	afterWindow   bool
	stampede      int // requests that arrived while that first request was out
	announcedTill time.Time
}

func newPDFHost(t *testing.T, clk clock.Clock, closedUntil time.Time, retryAfter string) *pdfHost {
	h := &pdfHost{clk: clk, closedUntil: closedUntil, retryAfter: retryAfter}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := clk.Now()
		h.mu.Lock()
		if now.Before(h.announcedTill) {
			h.inWindow++
		}
		if !h.announcedTill.IsZero() && !now.Before(h.announcedTill) {
			if h.probeOut {
				h.stampede++
			}
			if !h.afterWindow {
				h.afterWindow, h.probeOut = true, true
			}
		}
		h.inflight++
		limited := now.Before(h.closedUntil)
		if limited {
			h.throttled++
			h.announcedTill = h.closedUntil
			h.afterWindow = false
		} else {
			h.served++
		}
		h.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", h.retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
		} else {
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(testPDF(r.URL.Path))
		}
		h.mu.Lock()
		h.inflight--
		h.probeOut = false
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *pdfHost) counts() (served, throttled, inWindow, stampede int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.served, h.throttled, h.inWindow, h.stampede
}

// worksSite serves one OpenAlex page of works, each with a PDF on the given host.
func worksSite(t *testing.T, works []map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(works)}, "results": works})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A host closed by a 10 s Retry-After holds no worker: the other hosts' works all
// finish while the clock stands still inside the window. When the window ends one
// probe goes out alone, and then the closed host's works finish too.
func TestClosedHostDoesNotStallOtherHosts(t *testing.T) {
	for _, pol := range []policy.Policy{policy.NewLegacy(policy.DefaultConfig()), policy.NewContextual(policy.DefaultConfig())} {
		t.Run(pol.Name(), func(t *testing.T) {
			t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			clk := clock.NewManual(t0)
			closed := newPDFHost(t, clk, t0.Add(10*time.Second), "10")
			var open []*pdfHost
			for range 4 {
				open = append(open, newPDFHost(t, clk, time.Time{}, ""))
			}
			var works []map[string]any
			for i := range 100 {
				h := closed
				if i%5 != 0 {
					h = open[i%5-1]
				}
				loc := map[string]any{"is_oa": true, "pdf_url": fmt.Sprintf("%s/pdf/W%d", h.srv.URL, i)}
				works = append(works, map[string]any{"id": fmt.Sprintf("W%d", i), "title": fmt.Sprintf("Work %d", i),
					"publication_year": 2021, "best_oa_location": loc, "locations": []any{loc}})
			}
			site := worksSite(t, works)
			fc := fetch.New(fetch.Options{Policy: pol, MaxWait: time.Minute, Clock: clk, Timeout: 5 * time.Second,
				LimitFor: func(string) fetch.HostLimit {
					// A burst that covers each host's 20 works: the clock stands still.
					return fetch.HostLimit{RPS: 1000, Burst: 40, Concurrency: 4, Cooldown: time.Second}
				}})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			run := startRun(ctx, t, clk, fc, site.URL, 8)
			done := run.done
			finished := false
			defer func() {
				if !finished { // a failed check: end the run before its folder is removed
					cancel()
					<-done
				}
			}()

			// Time stands still at t0: every open host's 20 works must finish.
			openServed := func() int {
				n := 0
				for _, h := range open {
					s, _, _, _ := h.counts()
					n += s
				}
				return n
			}
			deadline := time.Now().Add(20 * time.Second)
			for openServed() < 80 {
				if time.Now().After(deadline) {
					t.Fatalf("the open hosts served %d of 80 works while the closed host's window ran", openServed())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !clk.Now().Equal(t0) {
				t.Fatalf("clock moved to +%s", clk.Now().Sub(t0))
			}
			served, throttled, _, _ := closed.counts()
			if served != 0 || throttled != 1 {
				t.Fatalf("closed host: %d served, %d throttled before the window ended; want the one probe, throttled", served, throttled)
			}

			// Step through the window and past it in 10 ms steps until the run ends.
			var runErr error
		loop:
			for {
				select {
				case runErr = <-done:
					finished = true
					break loop
				case <-time.After(2 * time.Millisecond):
					clk.Advance(10 * time.Millisecond)
				}
				if time.Now().After(deadline.Add(20 * time.Second)) {
					t.Fatal("run did not end")
				}
			}
			if runErr != nil {
				t.Fatal(runErr)
			}
			if run.sum.ByClassification[manifest.ClassPDF] != 100 {
				t.Fatalf("saved %v, want 100 PDFs", run.sum.ByClassification)
			}
			served, throttled, inWindow, stampede := closed.counts()
			if served != 20 || throttled != 1 {
				t.Errorf("closed host: %d served, %d throttled; want 20 and 1", served, throttled)
			}
			if inWindow != 0 {
				t.Errorf("%d requests reached the closed host inside its window", inWindow)
			}
			if stampede != 0 {
				t.Errorf("%d requests went out with the first request after the window (a stampede)", stampede)
			}
			if took := clk.Now().Sub(t0); took > 12*time.Second {
				t.Errorf("run took %s of clock time, want about the 10 s window", took)
			}
			if !strings.HasPrefix(closed.srv.URL, "http://") {
				t.Fatal(closed.srv.URL)
			}
		})
	}
}

// slotCount tracks that parked requests give their worker back and take one again.
func TestSlotsParkedRequestsComeBackFirst(t *testing.T) {
	s := newSlots(1)
	if !s.take() {
		t.Fatal("no worker at start")
	}
	s.Park() // the step's request waits on a host
	if !s.take() {
		t.Fatal("a parked request's worker was not free for another step")
	}
	var back atomic.Bool
	go func() {
		_ = s.Unpark(context.Background())
		back.Store(true)
	}()
	waitForWaiters(s, 1)
	s.give() // the other step ends
	if s.take() {
		t.Fatal("a new step took the worker ahead of the request waiting to unpark")
	}
	for !back.Load() {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Unpark(ctx); err == nil {
		t.Fatal("Unpark on a done context returned nil")
	}
	if s.free != -1 {
		t.Fatalf("free = %d after a forced unpark, want -1 (one over, given back when the step ends)", s.free)
	}
}

// A worker the frontier took and gave back unused (untake) must wake a request that
// began waiting for one in between (found as a hang in the contextual e2e test).
func TestSlotsUntakeWakesWaiter(t *testing.T) {
	s := newSlots(1)
	if !s.take() {
		t.Fatal("no worker at start")
	}
	done := make(chan struct{})
	go func() {
		_ = s.Unpark(context.Background())
		close(done)
	}()
	waitForWaiters(s, 1)
	s.untake()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request was not woken when the worker came back")
	}
}

// waitForWaiters blocks until n requests wait to unpark.
func waitForWaiters(s *slots, n int) {
	for {
		s.mu.Lock()
		w := s.waiting
		s.mu.Unlock()
		if w == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// A later resolver's https form of a candidate still waiting over http replaces it.
func TestLaterHTTPSFormReplacesWaitingHTTPCandidate(t *testing.T) {
	ws := newWorkState(&openalex.Work{ID: "W1"}, 0)
	first := resolve.Candidate{URL: "http://example.org/a.pdf", Resolver: "openalex"}
	if !ws.seen.Add(first) {
		t.Fatal("first form not new")
	}
	ws.cands = append(ws.cands, first)
	later := resolve.Candidate{URL: "https://example.org:443/a.pdf#x", Resolver: "unpaywall"}
	if ws.seen.Add(later) {
		t.Fatal("the https form counted as a new candidate")
	}
	ws.preferHTTPS(later)
	if ws.cands[0].URL != later.URL || len(ws.cands) != 1 {
		t.Fatalf("candidates %+v, want the one https form", ws.cands)
	}
	ws.preferHTTPS(resolve.Candidate{URL: "http://example.org/a.pdf"}) // http never replaces
	if ws.cands[0].URL != later.URL {
		t.Fatalf("an http form replaced the https one: %+v", ws.cands)
	}
}

// A work whose only trace is a landing page without a link to full text ends as
// landing_page_only, not no_oa_candidates.
func TestLandingPageWithoutLinkEndsLandingPageOnly(t *testing.T) {
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/landing/W1" {
			rw.Header().Set("Content-Type", "text/html")
			fmt.Fprint(rw, `<html><head><title>Record</title></head><body><p>Abstract only.</p></body></html>`)
			return
		}
		loc := map[string]any{"is_oa": true, "landing_page_url": base + "/landing/W1"}
		json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": 1}, "results": []any{
			map[string]any{"id": "W1", "title": "One", "publication_year": 2021, "best_oa_location": loc, "locations": []any{loc}}}})
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	clk := clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	fc := fetch.New(fetch.Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clk,
		Timeout: 2 * time.Second, LimitFor: func(string) fetch.HostLimit {
			return fetch.HostLimit{RPS: 1000, Burst: 100, Concurrency: 8, Cooldown: time.Second}
		}})
	t.Cleanup(fc.CloseIdleConnections)
	rs, err := resolve.Chain([]string{providers.OpenAlex, providers.LandingPage}, resolve.Options{Doer: fc})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	r := New(Options{Out: out, Workers: 2, MaxBytes: 1 << 20, MinPDFBytes: 1024, MaxWait: time.Minute,
		Query: openalex.Query{Search: "x"}, RunID: "test-run"},
		Deps{Fetch: fc, OpenAlex: &openalex.Client{BaseURL: srv.URL, Doer: fc}, Resolvers: rs, Clock: clk})
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.ByReason["landing_page_only"] != 1 {
		t.Fatalf("reasons %v, want landing_page_only", sum.ByReason)
	}
}

// A work deferred by a Retry-After beyond max_wait is retried as soon as its host
// reopens, in the middle of the main pass, not only after everything else.
func TestDeferredWorkRetriedMidPassWhenHostReopens(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewManual(t0)
	closed := newPDFHost(t, clk, t0.Add(90*time.Second), "90") // beyond max_wait (60 s)
	slow := newPDFHost(t, clk, time.Time{}, "")
	var mu sync.Mutex
	var closedServedAt, slowLastAt time.Time
	closedHost, slowHost := fetch.HostOf(closed.srv.URL), fetch.HostOf(slow.srv.URL)
	var works []map[string]any
	for i := range 11 {
		h := slow
		if i == 0 {
			h = closed
		}
		loc := map[string]any{"is_oa": true, "pdf_url": fmt.Sprintf("%s/pdf/W%d", h.srv.URL, i)}
		works = append(works, map[string]any{"id": fmt.Sprintf("W%d", i), "title": fmt.Sprintf("Work %d", i),
			"publication_year": 2021, "best_oa_location": loc, "locations": []any{loc}})
	}
	site := worksSite(t, works)
	fc := fetch.New(fetch.Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clk,
		Timeout: 5 * time.Second, LimitFor: func(h string) fetch.HostLimit {
			if h == slowHost {
				return fetch.HostLimit{RPS: 0.05, Burst: 1, Concurrency: 1, Cooldown: time.Second} // one per 20 s
			}
			return fetch.HostLimit{RPS: 1000, Burst: 10, Concurrency: 4, Cooldown: time.Second}
		},
		Observe: func(host string, status int, _ policy.ErrKind, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case host == closedHost && status == http.StatusOK:
				closedServedAt = clk.Now()
			case host == slowHost && status == http.StatusOK:
				slowLastAt = clk.Now()
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := startRun(ctx, t, clk, fc, site.URL, 4)
	done := run.done
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		case <-time.After(2 * time.Millisecond):
			clk.Advance(500 * time.Millisecond)
		case <-ctx.Done():
			t.Fatal("run did not end")
		}
	}
	if run.sum.ByClassification[manifest.ClassPDF] != 11 {
		t.Fatalf("saved %v, want 11 PDFs", run.sum.ByClassification)
	}
	mu.Lock()
	defer mu.Unlock()
	if at := closedServedAt.Sub(t0); at < 90*time.Second || at > 100*time.Second {
		t.Errorf("the deferred work was fetched at +%s, want right after its host reopened at +90s", at)
	}
	if !closedServedAt.Before(slowLastAt) {
		t.Errorf("the deferred work (+%s) was retried only after the main pass ended (+%s)",
			closedServedAt.Sub(t0), slowLastAt.Sub(t0))
	}
}

// bgRun is a Run going on in the background; sum is set once done has delivered.
type bgRun struct {
	done chan error
	sum  *Summary
}

// startRun starts a run of the works at siteURL (the OpenAlex record as the only
// resolver) on fc and clk, with a defer round and max_wait 1 minute.
func startRun(ctx context.Context, t *testing.T, clk clock.Clock, fc *fetch.Client, siteURL string, workers int) *bgRun {
	t.Helper()
	t.Cleanup(fc.CloseIdleConnections)
	rs, err := resolve.Chain([]string{providers.OpenAlex}, resolve.Options{Doer: fc})
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Out: filepath.Join(t.TempDir(), "out"), Workers: workers, MaxBytes: 1 << 20, MinPDFBytes: 1024,
		DeferRounds: 1, MaxWait: time.Minute, Query: openalex.Query{Search: "x"}, RunID: "test-run"},
		Deps{Fetch: fc, OpenAlex: &openalex.Client{BaseURL: siteURL, Doer: fc}, Resolvers: rs, Clock: clk})
	run := &bgRun{done: make(chan error, 1)}
	go func() {
		sum, err := r.Run(ctx)
		run.sum = sum
		run.done <- err
	}()
	return run
}
