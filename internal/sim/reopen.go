package sim

import (
	"math"
	"slices"
	"sort"
	"time"
)

// RequestRecord is one request as a host saw it. Times are offsets from the stats'
// Start (nanoseconds in JSON).
type RequestRecord struct {
	// Arrived is when the request's headers had been read.
	Arrived time.Duration `json:"arrived_ns"`
	// Answered is when its status line was written or its connection cut; -1 while
	// it has not been answered.
	Answered time.Duration `json:"answered_ns"`
	// Outcome is the status code ("200", "429", …), "reset" or "aborted"; "" while
	// it has not been answered.
	Outcome string `json:"outcome"`
	// Client is the request's User-Agent (at most 200 bytes): it tells the processes
	// of a fleet apart in a benchmark.
	Client string `json:"client,omitempty"`
	// Path is the request's URL path and Query its raw query (an api_key value
	// reads REDACTED), for telling apart, say, the listing pages a client asked for.
	Path  string `json:"path,omitempty"`
	Query string `json:"query,omitempty"`
}

// Window is one Retry-After a host announced: the client should send nothing from
// Open (when the response carrying it was written) until End. Offsets from the
// stats' Start (nanoseconds in JSON).
type Window struct {
	Open time.Duration `json:"open_ns"`
	End  time.Duration `json:"end_ns"`
}

// Reopen is what happened when a Retry-After window ended: from End until the first
// request that arrived at or after End was answered (FirstAnswered), at most
// MaxInFlight requests were in flight to the host at once. A polite client sends
// one request when a window ends and waits for its answer (MaxInFlight 1); more is
// a stampede. Windows that overlap (a 429 announced while an earlier window was
// still open) count as one window ending at the latest End. Offsets from the stats'
// Start (nanoseconds in JSON).
type Reopen struct {
	End time.Duration `json:"end_ns"`
	// FirstArrived is when the first request at or after End arrived.
	FirstArrived time.Duration `json:"first_arrived_ns"`
	// FirstAnswered is when that request was answered; -1 while it is in flight.
	FirstAnswered time.Duration `json:"first_answered_ns"`
	// MaxInFlight is the highest number of requests in flight (arrived, not yet
	// answered) at any moment from End until FirstAnswered (until now while it is
	// in flight), counting requests that arrived before End and were still
	// unanswered. At least 1: the first request itself.
	MaxInFlight int `json:"max_in_flight"`
}

// Reopenings computes the reopenings of a host from its request log and its
// announced windows; now (an offset like the others) stands in for the answer of
// requests still in flight. A window that has not ended by now, or that no request
// has followed yet, has no reopening.
func Reopenings(log []RequestRecord, windows []Window, now time.Duration) []Reopen {
	if len(windows) == 0 || len(log) == 0 {
		return nil
	}
	ends := mergedEnds(windows)
	reqs := slices.Clone(log)
	slices.SortStableFunc(reqs, func(a, b RequestRecord) int { return cmpDur(a.Arrived, b.Arrived) })
	answered := func(r RequestRecord) time.Duration {
		if r.Answered < 0 {
			return math.MaxInt64
		}
		return r.Answered
	}

	// The number of requests in flight over time, as a step function: one event per
	// arrival (+1) and answer (-1); at equal times answers come first, so that a
	// request answered at t and one arriving at t were never in flight together.
	type event struct {
		at    time.Duration
		delta int
	}
	events := make([]event, 0, 2*len(reqs))
	for _, r := range reqs {
		events = append(events, event{r.Arrived, +1})
		if r.Answered >= 0 {
			events = append(events, event{r.Answered, -1})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int {
		if c := cmpDur(a.at, b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	level := make([]int, len(events)) // in flight just after events[i]
	n := 0
	for i, ev := range events {
		n += ev.delta
		level[i] = n
	}
	// inFlightAt is the number of requests in flight just after every event at or
	// before t.
	inFlightAt := func(t time.Duration) int {
		i := sort.Search(len(events), func(i int) bool { return events[i].at > t })
		if i == 0 {
			return 0
		}
		return level[i-1]
	}

	var out []Reopen
	for _, end := range ends {
		if end > now {
			break
		}
		i := sort.Search(len(reqs), func(i int) bool { return reqs[i].Arrived >= end })
		if i == len(reqs) {
			break
		}
		first := reqs[i]
		until := min(answered(first), now)
		peak := inFlightAt(end)
		j := sort.Search(len(events), func(j int) bool { return events[j].at > end })
		for ; j < len(events) && events[j].at <= until; j++ {
			peak = max(peak, level[j])
		}
		fa := first.Answered
		if fa < 0 {
			fa = -1
		}
		out = append(out, Reopen{End: end, FirstArrived: first.Arrived, FirstAnswered: fa, MaxInFlight: max(peak, 1)})
	}
	return out
}

// mergedEnds returns the ends of the windows after merging those that overlap, in
// time order. A window announced exactly when another ends starts a new one.
func mergedEnds(windows []Window) []time.Duration {
	ws := slices.Clone(windows)
	slices.SortStableFunc(ws, func(a, b Window) int { return cmpDur(a.Open, b.Open) })
	var ends []time.Duration
	cur := ws[0]
	for _, w := range ws[1:] {
		if w.Open < cur.End {
			cur.End = max(cur.End, w.End)
			continue
		}
		ends = append(ends, cur.End)
		cur = w
	}
	return append(ends, cur.End)
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
