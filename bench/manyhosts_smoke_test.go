package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/bench/suite"
	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/sim"
)

// metricsScenario is one limited host (1 rps, burst 1, Retry-After: 2) whose every
// answer takes 100ms, and one unlimited host.
const metricsScenario = `
name: metrics
works: {count: 2, mix: {direct_pdf: 1}}
pdf_size: 2KiB
politeness_grace: 10ms
hosts:
  - name: gate
    capacity: {rps: 1, burst: 1}
    configured: {rps: 5, burst: 2}
    retry_after: seconds
    retry_after_seconds: 2
    latency: 100ms
  - name: open
`

// TestManyHostsMetrics drives the simulator with a handcrafted request pattern on a
// fake clock, holding requests in the host's latency so that they overlap exactly
// as scripted, and checks the politeness and stampede metrics the many-hosts
// benchmark reports: from the simulator's stats and JSON, and through the suite's
// own figures and targets. It runs no contentdl and takes well under a second.
func TestManyHostsMetrics(t *testing.T) {
	sc, err := sim.ParseScenario([]byte(metricsScenario))
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	held := make(chan chan struct{}, 8)
	s, err := sim.Start(sc, sim.Options{Clock: fc.Now, Sleep: func(ctx context.Context, _ time.Duration) error {
		release := make(chan struct{})
		held <- release
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pdf string
	for _, w := range s.Works() {
		if w.Host == "gate" {
			pdf = w.PDFURL
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// send fires n requests at once, waits until the host holds all of them in its
	// latency, moves the clock by d, releases them and returns their statuses.
	send := func(n int, d time.Duration) map[int]int {
		t.Helper()
		codes := make(chan int, n)
		for range n {
			go func() {
				resp, err := c.Get(pdf)
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		var releases []chan struct{}
		for range n {
			select {
			case r := <-held:
				releases = append(releases, r)
			case <-time.After(5 * time.Second):
				t.Fatal("the host did not receive the requests")
			}
		}
		fc.Advance(d)
		for _, r := range releases {
			close(r)
		}
		got := map[int]int{}
		for range n {
			got[<-codes]++
		}
		return got
	}
	expect := func(step string, got map[int]int, want map[int]int) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: statuses %v, want %v", step, got, want)
		}
	}
	ms := time.Millisecond
	expect("t=0", send(1, 0), map[int]int{200: 1})
	expect("t=0, over capacity", send(1, 0), map[int]int{429: 1}) // window [0, 2s)
	fc.Advance(5 * ms)
	expect("t=5ms, in the grace", send(1, 0), map[int]int{429: 1}) // extends it to 2.005s
	fc.Advance(995 * ms)
	expect("t=1s, inside the window", send(1, 0), map[int]int{200: 1}) // the bucket has a token again
	fc.Advance(1005 * ms)
	// The window ends: three requests at once, answered 50ms later (a stampede);
	// the two 429s open [2.055s, 4.055s).
	expect("t=2.005s, stampede", send(3, 50*ms), map[int]int{200: 1, 429: 2})
	fc.Advance(2 * time.Second)
	expect("t=4.055s, half-open", send(1, 20*ms), map[int]int{200: 1}) // one request, alone

	var st sim.Stats
	resp, err := c.Get(s.StatsURL())
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("stats JSON: %v", err)
	}
	gate, _ := st.Host("gate")
	if gate.Requests != 8 || gate.ByStatus["200"] != 4 || gate.ByStatus["429"] != 4 || gate.RetryAfterAnnounced != 4 {
		t.Errorf("gate: %d requests, statuses %v, %d Retry-Afters; want 8, 4 × 200 and 4 × 429, 4",
			gate.Requests, gate.ByStatus, gate.RetryAfterAnnounced)
	}
	if gate.InRetryAfterGrace != 1 || gate.InRetryAfterWindow != 1 {
		t.Errorf("inside a window: %d in the grace, %d beyond it; want 1 and 1", gate.InRetryAfterGrace, gate.InRetryAfterWindow)
	}
	wantReopens := []sim.Reopen{
		{End: 2005 * ms, FirstArrived: 2005 * ms, FirstAnswered: 2055 * ms, MaxInFlight: 3},
		{End: 4055 * ms, FirstArrived: 4055 * ms, FirstAnswered: 4075 * ms, MaxInFlight: 1},
	}
	if !reflect.DeepEqual(gate.Reopens, wantReopens) || gate.MaxReopenInFlight != 3 || gate.Stampedes != 1 {
		t.Errorf("reopens %+v (max %d, %d stampedes), want %+v (max 3, 1 stampede)",
			gate.Reopens, gate.MaxReopenInFlight, gate.Stampedes, wantReopens)
	}
	if a, th := gate.Timeline.AcceptedPerSecond, gate.Timeline.ThrottledPerSecond; !reflect.DeepEqual(a, []int{1, 1, 1, 0, 1}) ||
		!reflect.DeepEqual(th, []int{2, 0, 2, 0, 0}) {
		t.Errorf("per second: accepted %v, 429s %v; want [1 1 1 0 1] and [2 0 2 0 0]", a, th)
	}

	// The benchmark's own reading of the same stats.
	m := suite.ManyHosts{Hosts: suite.ManyHostsOf(s.Scenario(), s.Works()), Grace: sc.PolitenessGrace}
	open, _ := st.Host("open")
	run := suite.ManyHostsRun{Mode: suite.ManyGatesOff, Proc: suite.Proc{Wall: 5 * time.Second},
		Hosts: []sim.HostStats{gate, open}, All: st.Hosts}
	m.Runs = []suite.ManyHostsRun{run}
	f := m.Figures(run, 0)
	want := suite.HostFigures{Requests: 8, Accepted: 4, Throttled: 4, Done: true, Finish: 4075 * ms,
		InWindowStrict: 2, InWindowBeyondGrace: 1, Reopens: 2, MaxInFlight: 3}
	if f != want {
		t.Errorf("figures %+v, want %+v", f, want)
	}
	met := map[string]bool{}
	for _, ch := range m.Checks() {
		for _, key := range []string{"Retry-After window beyond", "no stampede"} {
			if strings.Contains(ch.Target, key) {
				met[key] = ch.Met
				t.Logf("%s: %s", ch.Target, ch.Measured)
			}
		}
	}
	if len(met) != 2 || met["Retry-After window beyond"] || met["no stampede"] {
		t.Errorf("targets met %v; want the window and stampede targets reported, and missed", met)
	}
}
