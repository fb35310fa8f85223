package sim

import (
	"maps"
	"net/url"
	"strings"
	"time"
)

// redactQuery hides the value of api_key in a raw query.
func redactQuery(raw string) string {
	if !strings.Contains(raw, "api_key=") {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if strings.HasPrefix(p, "api_key=") {
			parts[i] = "api_key=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// Timeline bounds.
const (
	// TimelineBucket is the width of one timeline bucket.
	TimelineBucket = 100 * time.Millisecond
	// maxTimelineBuckets keeps an hour of buckets; later requests are not bucketed.
	maxTimelineBuckets = 36_000
	// maxThrottleStamps bounds the list of 429 timestamps.
	maxThrottleStamps = 10_000
	// maxRequestLog bounds the per-host request log the reopening metrics are
	// computed from; later requests are counted but not logged.
	maxRequestLog = 100_000
	// maxWindows bounds the list of announced Retry-After windows.
	maxWindows = 10_000
)

// Stats is a snapshot of what every simulated host has seen since Start or the last
// Reset.
type Stats struct {
	// Start is when counting began (by the simulator's clock).
	Start time.Time `json:"start"`
	// Now is when the snapshot was taken.
	Now time.Time `json:"now"`
	// Hosts lists openalex, unpaywall, then the publisher hosts in scenario order.
	Hosts []HostStats `json:"hosts"`
}

// Host returns the stats of the named host.
func (s Stats) Host(name string) (HostStats, bool) {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostStats{}, false
}

// HostStats is what one host has seen.
type HostStats struct {
	Name string `json:"name"`
	// Role is "openalex", "unpaywall" or "publisher".
	Role string `json:"role"`
	// Addr is the host's host:port, the key a client's per-host limiter uses.
	Addr string `json:"addr"`
	// Requests counts every request that arrived.
	Requests int64 `json:"requests"`
	// ByStatus counts responses by status code ("200", "429", …); "reset" counts
	// connections reset by a fault before any response, "aborted" connections cut
	// during a stall because the client left or the simulator closed.
	ByStatus map[string]int64 `json:"by_status"`
	// BytesSent is the response body bytes written.
	BytesSent int64 `json:"bytes_sent"`
	// RetryAfterAnnounced counts responses that carried a Retry-After (each opens or
	// extends a window during which the client should stay away).
	RetryAfterAnnounced int64 `json:"retry_after_announced"`
	// InRetryAfterWindow counts requests that arrived while a window was open (after
	// the politeness grace): the politeness metric. Zero is polite.
	InRetryAfterWindow int64 `json:"in_retry_after_window"`
	// InRetryAfterGrace counts requests that arrived inside a window but within the
	// scenario's politeness_grace of its announcement. InRetryAfterWindow plus
	// InRetryAfterGrace is the strict count: every request inside a window.
	InRetryAfterGrace int64 `json:"in_retry_after_grace"`
	// Windows lists the Retry-After windows the host announced, in announcement
	// order (overlapping ones extend each other; see Reopens). At most 10,000.
	Windows []Window `json:"windows"`
	// Reopens is what happened each time a window ended and a request followed:
	// how many requests were in flight at once until the first of them was
	// answered. More than one is a stampede.
	Reopens []Reopen `json:"reopens"`
	// MaxReopenInFlight is the highest Reopen.MaxInFlight (0 before any reopening):
	// the stampede figure. 1 means every window ended with a single request.
	MaxReopenInFlight int `json:"max_reopen_in_flight"`
	// Stampedes counts the reopenings with more than one request in flight.
	Stampedes int `json:"stampedes"`
	// Log lists every request with its arrival, answer and outcome, in arrival
	// order; Reopens and the per-request figures of a benchmark come from it. It
	// holds the first 100,000 requests (LogTruncated says whether more came).
	Log          []RequestRecord `json:"log"`
	LogTruncated bool            `json:"log_truncated"`
	// InFlight is the number of requests being served now.
	InFlight int64 `json:"in_flight"`
	// MaxInFlight is the highest number of requests served at once.
	MaxInFlight int64 `json:"max_in_flight"`
	// Timeline holds accepted and throttled requests over time.
	Timeline Timeline `json:"timeline"`
}

// Timeline counts requests in TimelineBucket-wide buckets from Start. A request is
// accepted when its response was not a 429, throttled when it was. It keeps an hour
// of buckets and the first 10,000 throttle timestamps; Truncated says whether
// anything fell outside.
type Timeline struct {
	Start time.Time `json:"start"`
	// Bucket is the bucket width (nanoseconds in JSON).
	Bucket time.Duration `json:"bucket_ns"`
	// Accepted[i] counts accepted requests that arrived in [Start+i·Bucket, Start+(i+1)·Bucket).
	Accepted []int `json:"accepted"`
	// Throttled[i] counts 429 responses the same way.
	Throttled []int `json:"throttled"`
	// ThrottledAt lists the arrival offsets from Start of the 429'd requests
	// (nanoseconds in JSON).
	ThrottledAt []time.Duration `json:"throttled_at_ns"`
	Truncated   bool            `json:"truncated"`
	// AcceptedPerSecond and ThrottledPerSecond are Accepted and Throttled summed
	// into one-second bins: [i] counts the requests that arrived in
	// [Start+i s, Start+(i+1) s).
	AcceptedPerSecond  []int `json:"accepted_per_second"`
	ThrottledPerSecond []int `json:"throttled_per_second"`
}

// perSecondBins sums bucket counts into one-second bins.
func perSecondBins(v []int, bucket time.Duration) []int {
	per := max(int(time.Second/bucket), 1)
	out := make([]int, (len(v)+per-1)/per)
	for i, c := range v {
		out[i/per] += c
	}
	return out
}

// counters is one host's mutable stats, guarded by the host's mutex.
type counters struct {
	start       time.Time
	requests    int64
	byStatus    map[string]int64
	bytes       int64
	announced   int64
	inWindow    int64
	inGrace     int64
	inFlight    int64
	maxInFlight int64
	accepted    []int
	throttled   []int
	throttledAt []time.Duration
	truncated   bool
	windowOpen  time.Time
	windowEnd   time.Time
	windows     []Window
	log         []RequestRecord
	logFull     bool
	// gen tells the counters apart across Reset, so that a request that arrived
	// before a Reset does not write its answer into the new log.
	gen uint64
}

func newCounters(start time.Time, gen uint64) counters {
	return counters{start: start, byStatus: map[string]int64{}, gen: gen}
}

// logRef is a request's place in the log of one generation of counters; seq is -1
// when the log was full.
type logRef struct {
	gen uint64
	seq int
}

// arrive counts a request, checks the politeness window and logs the request.
func (c *counters) arrive(now time.Time, grace time.Duration, client string, u *url.URL) logRef {
	ref := logRef{gen: c.gen, seq: -1}
	if len(c.log) < maxRequestLog {
		ref.seq = len(c.log)
		if len(client) > 200 {
			client = client[:200]
		}
		c.log = append(c.log, RequestRecord{Arrived: now.Sub(c.start), Answered: -1, Client: client,
			Path: u.Path, Query: redactQuery(u.RawQuery)})
	} else {
		c.logFull = true
	}
	c.requests++
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	if now.Before(c.windowEnd) {
		if now.Before(c.windowOpen.Add(grace)) {
			c.inGrace++
		} else {
			c.inWindow++
		}
	}
	return ref
}

// announce records a Retry-After sent at now that asks the client to stay away
// until end.
func (c *counters) announce(now, end time.Time) {
	c.announced++
	if len(c.windows) < maxWindows {
		c.windows = append(c.windows, Window{Open: now.Sub(c.start), End: end.Sub(c.start)})
	}
	c.windowOpen = now
	if end.After(c.windowEnd) {
		c.windowEnd = end
	}
}

// respond records the outcome of a request that arrived at arrived and was
// answered at answered: key is its status code or how its connection was cut.
func (c *counters) respond(ref logRef, arrived, answered time.Time, key string, throttled bool) {
	c.byStatus[key]++
	if ref.gen == c.gen && ref.seq >= 0 && ref.seq < len(c.log) {
		c.log[ref.seq].Answered = answered.Sub(c.start)
		c.log[ref.seq].Outcome = key
	}
	off := max(arrived.Sub(c.start), 0)
	if throttled {
		if len(c.throttledAt) < maxThrottleStamps {
			c.throttledAt = append(c.throttledAt, off)
		} else {
			c.truncated = true
		}
	}
	i := int(off / TimelineBucket)
	if i >= maxTimelineBuckets {
		c.truncated = true
		return
	}
	for len(c.accepted) <= i {
		c.accepted = append(c.accepted, 0)
		c.throttled = append(c.throttled, 0)
	}
	if throttled {
		c.throttled[i]++
	} else {
		c.accepted[i]++
	}
}

func (c *counters) snapshot(now time.Time) HostStats {
	reopens := Reopenings(c.log, c.windows, now.Sub(c.start))
	maxIn, stampedes := 0, 0
	for _, r := range reopens {
		maxIn = max(maxIn, r.MaxInFlight)
		if r.MaxInFlight > 1 {
			stampedes++
		}
	}
	return HostStats{
		Windows:             append([]Window{}, c.windows...),
		Reopens:             reopens,
		MaxReopenInFlight:   maxIn,
		Stampedes:           stampedes,
		Log:                 append([]RequestRecord{}, c.log...),
		LogTruncated:        c.logFull,
		Requests:            c.requests,
		ByStatus:            maps.Clone(c.byStatus),
		BytesSent:           c.bytes,
		RetryAfterAnnounced: c.announced,
		InRetryAfterWindow:  c.inWindow,
		InRetryAfterGrace:   c.inGrace,
		InFlight:            c.inFlight,
		MaxInFlight:         c.maxInFlight,
		Timeline: Timeline{
			Start:       c.start,
			Bucket:      TimelineBucket,
			Accepted:    append([]int{}, c.accepted...),
			Throttled:   append([]int{}, c.throttled...),
			ThrottledAt: append([]time.Duration{}, c.throttledAt...),
			Truncated:   c.truncated,

			AcceptedPerSecond:  perSecondBins(c.accepted, TimelineBucket),
			ThrottledPerSecond: perSecondBins(c.throttled, TimelineBucket),
		},
	}
}
