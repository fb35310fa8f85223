package learning

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
)

// tickClock is a cheap, concurrency-safe clock that moves 1 ms per reading, for
// benchmarks that must not be dominated by a mutex-guarded fake.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) Now() time.Time                                   { return t0.Add(time.Duration(c.n.Add(1)) * time.Millisecond) }
func (c *tickClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// fillHosts registers n hosts and drives each into its worst case for memory: a full
// set of 50 recovery times, window data, a reduction, a ceiling and a quota mark.
func fillHosts(tr *Tracker, n int) {
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("host%04d.example.org", i)
		tr.Register("web", host, 10, 2, nil)
		for j := 0; j < 50; j++ {
			tr.Observe(Observation{Host: host, Status: 200})
			tr.Observe(Observation{Host: host, Status: 429, Header: retryAfter(j%5 + 1)})
		}
		tr.Observe(Observation{Host: host, Status: 200, Header: hdr("X-Rate-Limit-Limit", "8", "X-Rate-Limit-Interval", "1s")})
		tr.Observe(Observation{Host: host, Status: 429, Header: retryAfter(7200)})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemory1000Hosts: the learned state of 1,000 hosts, each at its worst case, takes
// at most 1 MB.
func TestMemory1000Hosts(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	before := heapInUse()
	tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
	fillHosts(tr, 1000)
	after := heapInUse()
	runtime.KeepAlive(tr)
	used := int64(after) - int64(before)
	t.Logf("1,000 hosts: %d bytes (%d per host)", used, used/1000)
	if used > 1<<20 {
		t.Fatalf("1,000 hosts take %d bytes, want <= 1 MB", used)
	}
	snap := tr.Snapshot()
	if len(snap) != 1000 || len(snap[999].RecoveryTimes) != 50 || snap[999].Status != StatusQuotaExhausted {
		t.Fatalf("the hosts are not in their worst case: %d, %+v", len(snap), snap[999])
	}
}

func BenchmarkMemory1000Hosts(b *testing.B) {
	var used int64
	for b.Loop() {
		before := heapInUse()
		tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
		fillHosts(tr, 1000)
		used = int64(heapInUse()) - int64(before)
		runtime.KeepAlive(tr)
	}
	b.ReportMetric(float64(used), "bytes/1000hosts")
	b.ReportMetric(float64(used)/1000, "bytes/host")
}

// BenchmarkObserve is the per-response cost on the fetch path: a success, with the
// recovery check, on a registered host.
func BenchmarkObserve(b *testing.B) {
	tr := NewTracker(DefaultConfig(), &tickClock{}, nil)
	tr.Register("web", testHost, 10, 2, &recLimiter{})
	o := Observation{Host: testHost, Status: http.StatusOK}
	b.ReportAllocs()
	for b.Loop() {
		tr.Observe(o)
	}
}

// BenchmarkObserveMixed adds rate-limit headers and a 429 every 20 responses.
func BenchmarkObserveMixed(b *testing.B) {
	tr := NewTracker(DefaultConfig(), &tickClock{}, nil)
	tr.Register("web", testHost, 10, 2, &recLimiter{})
	ok := Observation{Host: testHost, Status: http.StatusOK, Header: hdr("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "50", "X-RateLimit-Reset", "30")}
	throttled := Observation{Host: testHost, Status: http.StatusTooManyRequests, Header: retryAfter(1)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%20 == 0 {
			tr.Observe(throttled)
		} else {
			tr.Observe(ok)
		}
	}
}

// BenchmarkObserveParallel is many workers on 16 hosts at once.
func BenchmarkObserveParallel(b *testing.B) {
	tr := NewTracker(DefaultConfig(), &tickClock{}, nil)
	var hosts [16]string
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example", i)
		tr.Register("web", hosts[i], 10, 2, &recLimiter{})
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		host := hosts[next.Add(1)%int64(len(hosts))]
		for pb.Next() {
			tr.Observe(Observation{Host: host, Status: http.StatusOK})
		}
	})
}
