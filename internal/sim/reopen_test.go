package sim

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
)

const ms = time.Millisecond

// req is a log record arrived at a and answered at b (b < 0: still in flight), in ms.
func req(a, b int) RequestRecord {
	ans := time.Duration(b) * ms
	if b < 0 {
		ans = -1
	}
	return RequestRecord{Arrived: time.Duration(a) * ms, Answered: ans, Outcome: "200"}
}

func win(open, end int) Window {
	return Window{Open: time.Duration(open) * ms, End: time.Duration(end) * ms}
}

func TestReopenings(t *testing.T) {
	type want struct{ end, firstArrived, firstAnswered, inFlight int }
	cases := []struct {
		name    string
		log     []RequestRecord
		windows []Window
		now     int
		want    []want
	}{
		{"no window", []RequestRecord{req(0, 10)}, nil, 5000, nil},
		{"one request after the window",
			[]RequestRecord{req(0, 10), req(3000, 3200)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3000, 3200, 1}}},
		{"stampede: three leave together",
			[]RequestRecord{req(0, 10), req(3000, 3050), req(3001, 3051), req(3002, 3052)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3000, 3050, 3}}},
		{"the next request waits for the answer",
			[]RequestRecord{req(3000, 3100), req(3100, 3150), req(3200, 3300)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3000, 3100, 1}}},
		{"a request sent inside the window and still unanswered counts",
			[]RequestRecord{req(2900, 3500), req(3100, 3200)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3100, 3200, 2}}},
		{"one answered exactly when the window ends does not",
			[]RequestRecord{req(2900, 3000), req(3000, 3100)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3000, 3100, 1}}},
		{"overlapping windows end once, at the later end",
			[]RequestRecord{req(0, 10), req(2000, 2001), req(5000, 5010), req(5005, 5006)},
			[]Window{win(10, 3000), win(2001, 5000)}, 9000,
			[]want{{5000, 5000, 5010, 2}}},
		{"a window opened when the last ends is a new one",
			[]RequestRecord{req(3000, 3000), req(4000, 4100)}, []Window{win(0, 3000), win(3000, 4000)}, 9000,
			[]want{{3000, 3000, 3000, 1}, {4000, 4000, 4100, 1}}},
		{"a window not over yet has no reopening",
			[]RequestRecord{req(0, 10), req(20, 30)}, []Window{win(10, 3000)}, 2000, nil},
		{"a window nobody followed has no reopening",
			[]RequestRecord{req(0, 10)}, []Window{win(10, 3000)}, 9000, nil},
		{"a first request still in flight counts until now",
			[]RequestRecord{req(3000, -1), req(3500, 3600), req(4500, 4600)}, []Window{win(10, 3000)}, 4000,
			[]want{{3000, 3000, -1, 2}}},
		{"the log need not be in arrival order",
			[]RequestRecord{req(3001, 3051), req(3000, 3050), req(0, 10)}, []Window{win(10, 3000)}, 5000,
			[]want{{3000, 3000, 3050, 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Reopenings(tc.log, tc.windows, time.Duration(tc.now)*ms)
			var gotW []want
			for _, r := range got {
				fa := int(r.FirstAnswered / ms)
				if r.FirstAnswered < 0 {
					fa = -1
				}
				gotW = append(gotW, want{int(r.End / ms), int(r.FirstArrived / ms), fa, r.MaxInFlight})
			}
			if !reflect.DeepEqual(gotW, tc.want) {
				t.Fatalf("Reopenings = %+v, want %+v", gotW, tc.want)
			}
		})
	}
}

// heldSleep is an Options.Sleep that holds every sleeper until the test releases
// it: each sleeper sends its release channel on arrived.
type heldSleep struct{ arrived chan chan struct{} }

func newHeldSleep() *heldSleep { return &heldSleep{arrived: make(chan chan struct{}, 16)} }

func (h *heldSleep) sleep(ctx context.Context, _ time.Duration) error {
	release := make(chan struct{})
	h.arrived <- release
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestLatencyDatesTheAnswerAndItsWindow(t *testing.T) {
	sc := limited(Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, HeadersNone)
	sc.Hosts[0].Latency = 250 * ms
	fc := clock.NewFake(epoch)
	s := start(t, sc, Options{Clock: fc.Now, Sleep: fc.Sleep})
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	if got := status(t, c, pdf); got != 200 {
		t.Fatalf("first: %d", got)
	}
	if got := status(t, c, pdf); got != 429 { // arrives at 250 ms, answered at 500 ms
		t.Fatalf("second: %d", got)
	}
	st := hostStats(t, s, "pub")
	wantLog := []RequestRecord{
		{Arrived: 0, Answered: 250 * ms, Outcome: "200", Client: "Go-http-client/1.1", Path: "/pdf/W1"},
		{Arrived: 250 * ms, Answered: 500 * ms, Outcome: "429", Client: "Go-http-client/1.1", Path: "/pdf/W1"},
	}
	if !reflect.DeepEqual(st.Log, wantLog) {
		t.Fatalf("log %+v, want %+v", st.Log, wantLog)
	}
	// The bucket refills at 1 s; the 429 leaves at 500 ms and asks for 1 s from then.
	if want := []Window{{Open: 500 * ms, End: 1500 * ms}}; !reflect.DeepEqual(st.Windows, want) {
		t.Fatalf("windows %+v, want %+v", st.Windows, want)
	}
}

func TestLatencyInRealTime(t *testing.T) {
	sc := oneHost(1, Mix{})
	sc.Hosts[0].Latency = 60 * ms
	s := start(t, sc, Options{})
	began := time.Now()
	if got := status(t, client(t, false), s.HostURL(0)+"/pdf/W1"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if took := time.Since(began); took < 60*ms {
		t.Fatalf("answered after %s, want at least the 60ms latency", took)
	}
}

// TestStampedeOverHTTP sends three requests at once when a window ends, holds them
// all in the host's latency, and reads the stampede from /__stats.
func TestStampedeOverHTTP(t *testing.T) {
	sc := limited(Capacity{RPS: 1, Burst: 1}, RetryAfterSeconds, HeadersNone)
	sc.Hosts[0].Latency = 100 * ms
	fc := clock.NewFake(epoch)
	held := newHeldSleep()
	s := start(t, sc, Options{Clock: fc.Now, Sleep: held.sleep})
	c := client(t, false)
	pdf := s.HostURL(0) + "/pdf/W1"
	// send fires n requests at once, waits until the host holds them all, moves the
	// clock by d, releases them and returns their statuses.
	send := func(n int, d time.Duration) []int {
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
			case r := <-held.arrived:
				releases = append(releases, r)
			case <-time.After(5 * time.Second):
				t.Fatal("the host never held the requests")
			}
		}
		fc.Advance(d)
		for _, r := range releases {
			close(r)
		}
		var out []int
		for range n {
			out = append(out, <-codes)
		}
		return out
	}
	send(1, 0)              // t=0: accepted
	send(1, 0)              // t=0: 429, window [0, 1s)
	fc.Advance(time.Second) // the window ends
	got := send(3, 50*ms)   // three at once at 1 s, answered at 1.05 s: two 429s, window [1.05s, 2.05s)
	fc.Advance(time.Second) // that window ends
	send(1, 0)              // alone: accepted
	var st Stats
	getJSON(t, c, s.StatsURL(), http.StatusOK, &st)
	h, _ := st.Host("pub")
	codes := map[int]int{}
	for _, code := range got {
		codes[code]++
	}
	if codes[200] != 1 || codes[429] != 2 {
		t.Fatalf("stampede answers %v, want one 200 and two 429s", got)
	}
	if len(h.Reopens) != 2 || h.Reopens[0].MaxInFlight != 3 || h.Reopens[1].MaxInFlight != 1 {
		t.Fatalf("reopens %+v, want in flight 3 then 1", h.Reopens)
	}
	if h.MaxReopenInFlight != 3 || h.Stampedes != 1 {
		t.Fatalf("max reopen in flight %d, stampedes %d; want 3 and 1", h.MaxReopenInFlight, h.Stampedes)
	}
	if want := []int{1, 1, 1}; !reflect.DeepEqual(h.Timeline.AcceptedPerSecond, want) {
		t.Fatalf("accepted per second %v, want %v", h.Timeline.AcceptedPerSecond, want)
	}
	if want := []int{1, 2, 0}; !reflect.DeepEqual(h.Timeline.ThrottledPerSecond, want) {
		t.Fatalf("429s per second %v, want %v", h.Timeline.ThrottledPerSecond, want)
	}
	raw := getJSON(t, c, s.StatsURL(), http.StatusOK, nil)
	for _, key := range []string{`"max_reopen_in_flight":3`, `"stampedes":1`, `"accepted_per_second"`, `"reopens"`, `"log"`} {
		if !strings.Contains(string(raw), key) {
			t.Fatalf("stats JSON lacks %s", key)
		}
	}
}

func TestResetStartsANewLog(t *testing.T) {
	sc := oneHost(1, Mix{})
	sc.Hosts[0].Latency = 10 * ms
	fc := clock.NewFake(epoch)
	held := newHeldSleep()
	s := start(t, sc, Options{Clock: fc.Now, Sleep: held.sleep})
	c := client(t, false)
	done := make(chan int, 1)
	go func() { done <- status(t, c, s.HostURL(0)+"/pdf/W1") }()
	release := <-held.arrived
	s.Reset() // the request in flight belongs to the old log
	close(release)
	<-done
	st := hostStats(t, s, "pub")
	if len(st.Log) != 0 || st.Requests != 0 {
		t.Fatalf("after Reset: log %+v, %d requests; a request from before the Reset was logged", st.Log, st.Requests)
	}
}
