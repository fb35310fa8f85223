package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/sim"
)

// heapPeak samples the live heap every few milliseconds until stop is called, and
// returns the highest sample.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// loadRun runs contentdl in process at 32 workers against a simulator of n works (one
// direct PDF each, over 8 hosts) and returns the summary's works and saved counts and
// the peak live heap during the run (the simulator's share included).
func loadRun(t *testing.T, n int) (works, saved int, peak uint64, wall time.Duration) {
	t.Helper()
	hosts := make([]sim.HostSpec, 8)
	for i := range hosts {
		hosts[i].Name = "pub" + strconv.Itoa(i+1)
	}
	s, err := sim.Start(sim.Scenario{Name: "load", Seed: 3, Topic: "load test", Works: sim.WorksSpec{Count: n,
		Mix: sim.Mix{DirectPDF: 1}}, PDFSize: sim.MinPDFSize, Hosts: hosts}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := hermeticEnv(t, s.OpenAlexURL(), s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE":               "200",
		"DOCSTOKG_RESOLVERS_ORDER":                 "openalex",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS":         "100000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST":       "1000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_CONCURRENCY": "32",
		"DOCSTOKG_LOG_LEVEL":                       "warn",
	})
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: env, Clock: clock.Real{}}
	runtime.GC()
	stop := heapPeak()
	began := time.Now()
	code := MainContext(context.Background(), []string{"run", "--topic", "load test", "--out", filepath.Join(t.TempDir(), "out"),
		"--workers", "32", "--json", "--progress", "never"}, st)
	wall = time.Since(began)
	peak = stop()
	if code != ExitOK {
		t.Fatalf("%d works: exit %d\n%s", n, code, errb.String())
	}
	var sum struct {
		Works int `json:"works"`
		Saved int `json:"saved"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%d works: summary: %v\n%s", n, err, out.String())
	}
	return sum.Works, sum.Saved, peak, wall
}

// TestLoadReduced is the load test that runs in `make test` (plain go test ./...):
// 2,000 works at 32 workers against the simulator, in process. Every work is saved;
// the peak live heap stays flat (the 2,000-work run needs at most 3× the 250-work
// run's, plus slack for the simulator's per-work records); and no goroutine or file
// descriptor outlives the runs. The 50,000-work version is TestLoad (CONTENTDL_LOAD).
func TestLoadReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	// Warm up the process (TLS-free HTTP, pools, the race detector's shadow) so the
	// small run's peak is not dominated by one-off allocations.
	loadRun(t, 50)
	time.Sleep(100 * time.Millisecond) // the servers' side of the warm-up's connections closes
	fdsBefore := countFDs(t)
	ignore := goleak.IgnoreCurrent()

	// A low GC target makes the sampled heap follow the live data rather than the
	// collector's pacing.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const small, large = 250, 2000
	var peaks [2]uint64
	for i, n := range []int{small, large} {
		works, saved, peak, wall := loadRun(t, n)
		if works != n || saved != n {
			t.Errorf("%d works: summary says %d works, %d saved", n, works, saved)
		}
		peaks[i] = peak
		t.Logf("%5d works, 32 workers: %s wall, peak live heap %.1f MiB", n, wall.Round(time.Millisecond), float64(peak)/(1<<20))
	}
	const slack = 8 << 20
	if peaks[1] > 3*peaks[0]+slack {
		t.Errorf("peak live heap grows from %.1f MiB (%d works) to %.1f MiB (%d works): memory is not flat",
			float64(peaks[0])/(1<<20), small, float64(peaks[1])/(1<<20), large)
	}

	// Nothing outlives the runs: goroutines (a leaked request, limiter wait, ticker or
	// pooled connection) and file descriptors (files, the manifest, OUT's lock, sockets).
	deadline := time.Now().Add(3 * time.Second)
	n := countFDs(t)
	for n > fdsBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = countFDs(t)
	}
	if n > fdsBefore {
		t.Errorf("open file descriptors: %d before the load runs, %d after: %v", fdsBefore, n, fdTargets())
	}
	goleak.VerifyNone(t, ignore)
}
