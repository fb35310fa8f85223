package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

// limited is a one-work scenario whose host has the given capacity and styles.
func limited(c Capacity, ra RetryAfterStyle, hs HeaderStyle) Scenario {
	sc := oneHost(1, Mix{})
	sc.Hosts[0].Capacity, sc.Hosts[0].RetryAfter, sc.Hosts[0].Headers = c, ra, hs
	return sc
}

// withFaults is a scenario of n direct PDFs whose host injects the given faults.
func withFaults(n int, f FaultSpec) Scenario {
	sc := oneHost(n, Mix{})
	sc.Hosts[0].Faults = f
	sc.Hosts[0].SlowDelay = 20 * time.Millisecond
	return sc
}

func schedule(path string, faults ...string) FaultSpec {
	sch := Schedule{Path: path}
	for _, f := range faults {
		parsed, err := ParseFault(f)
		if err != nil {
			panic(err)
		}
		sch.Attempts = append(sch.Attempts, parsed)
	}
	return FaultSpec{Schedules: []Schedule{sch}}
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, _ := get(t, c, url)
	return resp.StatusCode
}

func TestTokenBucket(t *testing.T) {
	s, fc := startFake(t, limited(Capacity{RPS: 1, Burst: 2}, RetryAfterSeconds, HeadersNone))
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	for i, want := range []int{200, 200, 429} {
		if got := status(t, c, pdf); got != want {
			t.Fatalf("request %d at one instant: %d, want %d", i+1, got, want)
		}
	}
	fc.Advance(time.Second)
	if got := status(t, c, pdf); got != 200 {
		t.Fatalf("after a second: %d", got)
	}
	if got := status(t, c, pdf); got != 429 {
		t.Fatalf("second request after a second: %d", got)
	}
	st := hostStats(t, s, "pub")
	if st.Requests != 5 || st.ByStatus["200"] != 3 || st.ByStatus["429"] != 2 || st.BytesSent < 3*4096 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRetryAfterStyles(t *testing.T) {
	cases := []struct {
		name  string
		cap   Capacity
		style RetryAfterStyle
		secs  int
		want  string
	}{
		{"seconds from bucket", Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, 0, "1"},
		{"seconds slow bucket", Capacity{RPS: 0.25, Burst: 1}, RetryAfterSeconds, 0, "4"},
		{"seconds configured", Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, 5, "5"},
		{"http-date", Capacity{RPS: 0.5, Burst: 1}, RetryAfterHTTPDate, 0, epoch.Add(2 * time.Second).Format(http.TimeFormat)},
		{"none", Capacity{RPS: 1, Burst: 1}, RetryAfterNone, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := limited(tc.cap, tc.style, HeadersNone)
			sc.Hosts[0].RetryAfterSeconds = tc.secs
			s, _ := startFake(t, sc)
			c := client(t, false)
			get(t, c, s.HostURL(0)+"/pdf/W1")
			resp, body := get(t, c, s.HostURL(0)+"/pdf/W1")
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != tc.want || !bytes.Contains(body, []byte("Too Many Requests")) {
				t.Fatalf("429 with Retry-After %q, want %q (status %d)", resp.Header.Get("Retry-After"), tc.want, resp.StatusCode)
			}
			if tc.style == RetryAfterHTTPDate {
				if _, err := http.ParseTime(tc.want); err != nil {
					t.Fatalf("not an HTTP date: %v", err)
				}
			}
			announced := hostStats(t, s, "pub").RetryAfterAnnounced
			if (tc.style == RetryAfterNone) != (announced == 0) {
				t.Fatalf("announced %d windows with style %s", announced, tc.style)
			}
		})
	}
}

func TestHTTPDateRoundsUpToWholeSecond(t *testing.T) {
	fc := clock.NewFake(epoch.Add(300 * time.Millisecond))
	sc := limited(Capacity{RPS: 1, Burst: 1}, RetryAfterHTTPDate, HeadersNone)
	s := start(t, sc, Options{Clock: fc.Now})
	c := client(t, false)
	get(t, c, s.HostURL(0)+"/pdf/W1")
	resp, _ := get(t, c, s.HostURL(0)+"/pdf/W1")
	// 1 s from 10:00:00.3 ends at 10:00:01.3; the date says 10:00:02, and the window
	// lasts until then.
	if got, want := resp.Header.Get("Retry-After"), epoch.Add(2*time.Second).Format(http.TimeFormat); got != want {
		t.Fatalf("Retry-After %q, want %q", got, want)
	}
	fc.Advance(1500 * time.Millisecond) // 10:00:01.8, before the date
	get(t, c, s.HostURL(0)+"/pdf/W1")
	fc.Advance(300 * time.Millisecond) // 10:00:02.1, after it
	get(t, c, s.HostURL(0)+"/pdf/W1")
	if st := hostStats(t, s, "pub"); st.InRetryAfterWindow != 1 {
		t.Fatalf("in window %d, want 1", st.InRetryAfterWindow)
	}
}

func TestRateLimitHeaderStyles(t *testing.T) {
	type hdr map[string]string
	cases := []struct {
		style HeaderStyle
		cap   Capacity
		want  []hdr // after each of three requests at one instant
	}{
		{HeadersOpenAlex, Capacity{RPS: 10, Burst: 2}, []hdr{
			{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1"},
			{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"},
			{"X-RateLimit-Remaining": "0"}}},
		{HeadersCrossref, Capacity{RPS: 50, Burst: 50}, []hdr{
			{"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Interval": "1s"}}},
		{HeadersCrossref, Capacity{RPS: 0.5, Burst: 1}, []hdr{
			{"x-rate-limit-limit": "1", "x-rate-limit-interval": "2s"}}},
		{HeadersIETF, Capacity{RPS: 10, Burst: 2}, []hdr{
			{"RateLimit-Policy": `"default";q=10;w=1`, "RateLimit": `"default";r=1;t=0`},
			{"RateLimit": `"default";r=0;t=1`},
			{"RateLimit": `"default";r=0;t=1`}}},
		{HeadersNone, Capacity{RPS: 10, Burst: 2}, []hdr{
			{"X-RateLimit-Limit": "", "X-Rate-Limit-Limit": "", "RateLimit": "", "RateLimit-Policy": ""}}},
	}
	for _, tc := range cases {
		t.Run(string(tc.style), func(t *testing.T) {
			s, _ := startFake(t, limited(tc.cap, RetryAfterSeconds, tc.style))
			c := client(t, false)
			for i, want := range tc.want {
				resp, _ := get(t, c, s.HostURL(0)+"/pdf/W1")
				for k, v := range want {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("request %d: %s = %q, want %q", i+1, k, got, v)
					}
				}
			}
		})
	}
	// An unlimited host has no limit to describe.
	sc := oneHost(1, Mix{})
	sc.Hosts[0].Headers = HeadersIETF
	s := start(t, sc, Options{})
	if resp, _ := get(t, client(t, false), s.HostURL(0)+"/pdf/W1"); resp.Header.Get("RateLimit") != "" {
		t.Fatal("unlimited host sent RateLimit")
	}
}

func TestPolitenessWindow(t *testing.T) {
	s, fc := startFake(t, limited(Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, HeadersNone))
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	if status(t, c, pdf) != 200 || status(t, c, pdf) != 429 { // the 429 opens [T, T+1s)
		t.Fatal("setup")
	}
	fc.Advance(500 * time.Millisecond)
	status(t, c, pdf) // inside the window: counted (and a new 429 extends it to T+1.5s)
	fc.Advance(1100 * time.Millisecond)
	if got := status(t, c, pdf); got != 200 { // after the window: polite
		t.Fatalf("after the window: %d", got)
	}
	st := hostStats(t, s, "pub")
	if st.InRetryAfterWindow != 1 || st.RetryAfterAnnounced != 2 || st.InRetryAfterGrace != 0 {
		t.Fatalf("politeness: window %d announced %d grace %d", st.InRetryAfterWindow, st.RetryAfterAnnounced, st.InRetryAfterGrace)
	}
}

func TestPolitenessGrace(t *testing.T) {
	sc := limited(Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, HeadersNone)
	sc.PolitenessGrace = 100 * time.Millisecond
	s, fc := startFake(t, sc)
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	status(t, c, pdf)
	status(t, c, pdf) // 429 at T: window [T, T+1s), grace until T+100ms
	fc.Advance(50 * time.Millisecond)
	status(t, c, pdf) // in the grace (already in flight); its 429 reopens the window at T+50ms
	fc.Advance(200 * time.Millisecond)
	status(t, c, pdf) // inside, past the grace
	st := hostStats(t, s, "pub")
	if st.InRetryAfterGrace != 1 || st.InRetryAfterWindow != 1 {
		t.Fatalf("grace %d window %d, want 1 and 1", st.InRetryAfterGrace, st.InRetryAfterWindow)
	}
}

func TestFaultReset(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "reset", "ok")), Options{})
	c := client(t, true)
	_, err := c.Get(s.HostURL(0) + "/pdf/W1")
	if err == nil {
		t.Fatal("reset: want a transport error")
	}
	if !strings.Contains(err.Error(), "reset") && !errors.Is(err, io.EOF) {
		t.Logf("reset surfaced as: %v", err)
	}
	if got := status(t, c, s.HostURL(0)+"/pdf/W1"); got != 200 {
		t.Fatalf("after the schedule: %d", got)
	}
	if st := hostStats(t, s, "pub"); st.ByStatus["reset"] != 1 || st.ByStatus["200"] != 1 {
		t.Fatalf("stats: %v", st.ByStatus)
	}
}

func TestFaultTruncated(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "truncated")), Options{})
	resp, err := client(t, false).Get(s.HostURL(0) + "/pdf/W1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != 4096 || len(body) != 2048 || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("truncated: err=%v length=%d got %d bytes", err, resp.ContentLength, len(body))
	}
}

func TestFaultSchedulesInOrder(t *testing.T) {
	s := start(t, withFaults(2, schedule("/pdf/W1", "503", "503:3", "429:2", "404", "html_as_pdf", "ok")), Options{})
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	check := func(wantStatus int, wantRA, wantType string) []byte {
		t.Helper()
		resp, body := get(t, c, pdf)
		if resp.StatusCode != wantStatus || resp.Header.Get("Retry-After") != wantRA || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Fatalf("got %d Retry-After %q %s, want %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"),
				resp.Header.Get("Content-Type"), wantStatus, wantRA, wantType)
		}
		return body
	}
	check(503, "", "text/html")
	check(503, "3", "text/html")
	check(429, "2", "text/html")
	check(404, "", "text/html")
	if body := check(200, "", "application/pdf"); !bytes.HasPrefix(body, []byte("<!DOCTYPE html")) {
		t.Fatalf("html_as_pdf body: %q", body[:20])
	}
	want, _ := s.PDF("W1")
	if body := check(200, "", "application/pdf"); !bytes.Equal(body, want) {
		t.Fatal("ok attempt should serve the PDF")
	}
	// The schedule is spent; other paths never had one.
	check(200, "", "application/pdf")
	if status(t, c, s.HostURL(0)+"/pdf/W2") != 200 {
		t.Fatal("W2 has no faults")
	}
	if st := hostStats(t, s, "pub"); st.RetryAfterAnnounced != 2 {
		t.Fatalf("Retry-After windows announced: %d, want 2", st.RetryAfterAnnounced)
	}
}

func TestFaultSlowHeadersAndSlowBody(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "slow_headers:40ms", "slow_body", "ok")), Options{})
	c := client(t, false)
	want, _ := s.PDF("W1")
	for _, name := range []string{"slow_headers", "slow_body (host delay 20ms)"} {
		began := time.Now()
		resp, body := get(t, c, s.HostURL(0)+"/pdf/W1")
		if took := time.Since(began); took < 20*time.Millisecond || resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Fatalf("%s: took %v, status %d, intact %v", name, took, resp.StatusCode, bytes.Equal(body, want))
		}
	}
}

func TestFaultSlowBodyStallsMidBody(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "slow_body:5s")), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HostURL(0)+"/pdf/W1", nil)
	resp, err := client(t, false).Do(req)
	if err != nil {
		t.Fatalf("headers should arrive before the stall: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil || len(got) != 2048 {
		t.Fatalf("want half the body then a stall: %d bytes, err %v", len(got), err)
	}
}

func TestFaultRedirectLoop(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "redirect_loop")), Options{})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(s.HostURL(0) + "/pdf/W1")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("want a redirect loop, got %v", err)
	}
	if st := hostStats(t, s, "pub"); st.ByStatus["302"] != 10 {
		t.Fatalf("302s: %v", st.ByStatus)
	}
}

func TestFaultGzipBomb(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "gzip_bomb:4MiB")), Options{})
	resp, err := client(t, false).Get(s.HostURL(0) + "/pdf/W1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // the transport inflates it
	if err != nil || len(body) != 4<<20 || !resp.Uncompressed {
		t.Fatalf("inflated %d bytes (uncompressed=%v): %v", len(body), resp.Uncompressed, err)
	}
	if sent := hostStats(t, s, "pub").BytesSent; sent > 64<<10 {
		t.Fatalf("a bomb should be small on the wire, sent %d", sent)
	}
}

func TestFaultOversize(t *testing.T) {
	s := start(t, withFaults(1, schedule("/pdf/W1", "oversize:3MiB")), Options{})
	resp, body := get(t, client(t, false), s.HostURL(0)+"/pdf/W1")
	if resp.ContentLength != 3<<20 || len(body) != 3<<20 {
		t.Fatalf("oversize: length %d, body %d", resp.ContentLength, len(body))
	}
	checkPDF(t, body)
}

func TestFaultSharesAreDeterministic(t *testing.T) {
	sc := withFaults(200, FaultSpec{Shares: []Share{{Fault: Fault{Kind: FaultNotFound}, Share: 0.5, PathPrefix: "/pdf/"}}})
	pattern := func() string {
		s := start(t, sc, Options{})
		c := client(t, false)
		var b strings.Builder
		for _, w := range s.Works() {
			if status(t, c, s.HostURL(0)+"/pdf/"+w.ID) == 404 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		// Paths outside the prefix are never hit.
		if status(t, c, s.HostURL(0)+"/landing/W1") != 200 {
			t.Fatal("share leaked outside its path prefix")
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Fatalf("share choices differ between runs:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 70 || n > 130 {
		t.Fatalf("share 0.5 hit %d of 200", n)
	}
}

// A share with After leaves the host's first After requests alone, then applies;
// Requests counts each path's requests, and Reset starts both over.
func TestFaultShareAfterAndRequests(t *testing.T) {
	sc := withFaults(6, FaultSpec{Shares: []Share{{Fault: Fault{Kind: FaultNotFound}, Share: 1, PathPrefix: "/pdf/", After: 3}}})
	s := start(t, sc, Options{})
	c := client(t, false)
	var b strings.Builder
	for _, p := range []string{"/landing/W1", "/pdf/W1", "/pdf/W2", "/pdf/W3", "/pdf/W1", "/landing/W2"} {
		b.WriteString(strconv.Itoa(status(t, c, s.HostURL(0)+p)) + " ")
	}
	if got := b.String(); got != "200 200 200 404 404 200 " {
		t.Errorf("statuses %q: want the share from the 4th request on, on its prefix only", got)
	}
	if n := s.Requests("pub", "/pdf/W1"); n != 2 {
		t.Errorf("Requests(/pdf/W1) = %d, want 2", n)
	}
	if n := s.Requests("pub", "/pdf/W9"); n != 0 {
		t.Errorf("Requests(/pdf/W9) = %d, want 0", n)
	}
	if n := s.Requests("nohost", "/pdf/W1"); n != 0 {
		t.Errorf("Requests on an unknown host = %d", n)
	}
	s.Reset()
	if n := s.Requests("pub", "/pdf/W1"); n != 0 {
		t.Errorf("Requests after Reset = %d", n)
	}
	if st := status(t, c, s.HostURL(0)+"/pdf/W1"); st != 200 {
		t.Errorf("after Reset the share applied at once (%d)", st)
	}
	bad := withFaults(2, FaultSpec{Shares: []Share{{Fault: Fault{Kind: FaultNotFound}, Share: 1, After: -1}}})
	if err := bad.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "after") {
		t.Errorf("after -1 accepted: %v", err)
	}
}

func TestHeadServesHeadersOnly(t *testing.T) {
	s := start(t, oneHost(1, Mix{}), Options{})
	resp, err := client(t, false).Head(s.HostURL(0) + "/pdf/W1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 4096 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("HEAD: %d %d %s", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	if sent := hostStats(t, s, "pub").BytesSent; sent != 0 {
		t.Fatalf("HEAD sent %d body bytes", sent)
	}
}

func TestMaxInFlight(t *testing.T) {
	sc := withFaults(4, FaultSpec{Shares: []Share{{Fault: Fault{Kind: FaultSlowHeaders, Delay: 10 * time.Second}, Share: 1}}})
	s := start(t, sc, Options{})
	c := client(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HostURL(0)+"/pdf/W"+itoa(i), nil)
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, func() bool { return hostStats(t, s, "pub").InFlight == 4 })
	cancel()
	wg.Wait()
	waitFor(t, func() bool { return hostStats(t, s, "pub").InFlight == 0 })
	if st := hostStats(t, s, "pub"); st.MaxInFlight != 4 {
		t.Fatalf("max in flight %d, want 4", st.MaxInFlight)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStatsEndpointTimelineAndReset(t *testing.T) {
	sc := withFaults(2, schedule("/pdf/W1", "404", "ok"))
	sc.Hosts[0].Capacity = Capacity{RPS: 1, Burst: 1}
	s, fc := startFake(t, sc)
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	if status(t, c, pdf) != 404 { // bucket 0, accepted (the fault)
		t.Fatal("schedule")
	}
	fc.Advance(250 * time.Millisecond)
	if status(t, c, pdf) != 429 { // bucket 2, throttled; the schedule does not advance
		t.Fatal("bucket")
	}
	fc.Advance(time.Second)
	if status(t, c, pdf) != 200 { // bucket 12
		t.Fatal("ok")
	}

	var st Stats
	getJSON(t, c, s.StatsURL(), http.StatusOK, &st)
	h, ok := st.Host("pub")
	if !ok || len(st.Hosts) != 3 || st.Hosts[0].Role != RoleOpenAlex || st.Hosts[1].Role != RoleUnpaywall || h.Role != RolePublisher {
		t.Fatalf("hosts: %+v", st.Hosts)
	}
	if h.Addr != strings.TrimPrefix(s.HostURL(0), "http://") || h.Requests != 3 || h.BytesSent < 4096 {
		t.Fatalf("pub: %+v", h)
	}
	tl := h.Timeline
	if tl.Bucket != TimelineBucket || !tl.Start.Equal(epoch) || len(tl.Accepted) != 13 || tl.Accepted[0] != 1 || tl.Throttled[2] != 1 ||
		tl.Accepted[12] != 1 || len(tl.ThrottledAt) != 1 || tl.ThrottledAt[0] != 250*time.Millisecond {
		t.Fatalf("timeline: %+v", tl)
	}
	if st.Hosts[0].Requests != 0 {
		t.Fatal("stats requests must not count themselves")
	}

	resp, err := c.Post(s.ResetURL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	getJSON(t, c, s.ResetURL(), http.StatusMethodNotAllowed, nil)
	getJSON(t, c, s.OpenAlexURL()+"/__nothing", http.StatusNotFound, nil)
	h = hostStats(t, s, "pub")
	if h.Requests != 0 || len(h.ByStatus) != 0 || h.BytesSent != 0 || len(h.Timeline.Accepted) != 0 || h.RetryAfterAnnounced != 0 {
		t.Fatalf("after reset: %+v", h)
	}
	// Reset also rewinds schedules and refills the bucket.
	if status(t, c, pdf) != 404 {
		t.Fatal("schedule should restart after reset")
	}
}

func TestStatsJSONRoundTrip(t *testing.T) {
	s := start(t, oneHost(1, Mix{}), Options{})
	c := client(t, false)
	get(t, c, s.HostURL(0)+"/pdf/W1")
	body := getJSON(t, c, s.StatsURL(), http.StatusOK, nil)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"by_status":{"200":1}`, `"in_retry_after_window":0`, `"max_in_flight":1`, `"bucket_ns":100000000`} {
		if !bytes.Contains(body, []byte(key)) {
			t.Errorf("stats JSON lacks %s", key)
		}
	}
}

func TestCloseCutsSlowRequestsAndIsIdempotent(t *testing.T) {
	sc := withFaults(1, schedule("/pdf/W1", "slow_headers:30s"))
	s, err := Start(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, false)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Get(s.HostURL(0) + "/pdf/W1")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, func() bool { return hostStats(t, s, "pub").InFlight == 1 })
	began := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Close took %v", took)
	}
	if err := <-errc; err == nil {
		t.Fatal("the cut request should fail")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Get(s.HostURL(0) + "/pdf/W1"); err == nil {
		t.Fatal("a closed simulator still answers")
	}
}

func TestStartRejectsInvalidScenario(t *testing.T) {
	if _, err := Start(Scenario{}, Options{}); err == nil || !strings.Contains(err.Error(), "hosts") {
		t.Fatalf("Start without hosts: %v", err)
	}
}

func TestInfoAndConfigSnippet(t *testing.T) {
	sc := oneHost(2, Mix{})
	sc.Hosts = append(sc.Hosts, HostSpec{Name: "capped", ServiceSpec: ServiceSpec{Capacity: Capacity{RPS: 4}, Configured: Capacity{RPS: 10}}})
	sc.Unpaywall.Configured = Capacity{RPS: 5, Burst: 2}
	s := start(t, sc, Options{})
	info := s.Info()
	if info.OpenAlexURL != s.OpenAlexURL() || info.Config.OpenAlex.BaseURL != s.OpenAlexURL() || info.Config.Unpaywall.BaseURL != s.UnpaywallURL() ||
		len(info.Hosts) != 2 || info.Hosts[1].URL != s.HostURLByName("capped") || info.Works != 2 || info.StatsURL != s.StatsURL() {
		t.Fatalf("info: %+v", info)
	}
	want := []HostLimit{
		{Host: strings.TrimPrefix(s.UnpaywallURL(), "http://"), RPS: 5, Burst: 2},
		{Host: info.Hosts[1].Addr, RPS: 10, Burst: 10},
	}
	if got := info.Config.RateLimits.Hosts; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("rate_limits.hosts = %+v, want %+v", got, want)
	}
	for _, u := range append(s.Hosts(), s.OpenAlexURL(), s.UnpaywallURL()) {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("%s is not on loopback", u)
		}
	}
	if s.HostURL(5) != "" || s.HostURL(-1) != "" || s.HostURLByName("nope") != "" {
		t.Fatal("out-of-range host lookups should be empty")
	}
}

func TestLoggerGetsRequestsAndScheduleWarnings(t *testing.T) {
	var buf testkit.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := start(t, withFaults(1, schedule("/pdf/W9", "reset")), Options{Logger: log})
	get(t, client(t, false), s.HostURL(0)+"/pdf/W1")
	out := buf.String()
	if !strings.Contains(out, "fault schedule for a path the host does not serve") || !strings.Contains(out, "path=/pdf/W9") {
		t.Fatalf("no warning about the unserved schedule path:\n%s", out)
	}
	// The record is written once the handler returns, which may be just after the
	// client has the response.
	waitFor(t, func() bool {
		return strings.Contains(buf.String(), `msg="sim: request" host=pub method=GET path=/pdf/W1 status=200`)
	})
}
