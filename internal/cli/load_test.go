package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/sim"
)

// loadEnv names the work counts of the load test, e.g. "500,5000,50000". The test is
// skipped without it: it builds contentdl and downloads tens of thousands of files.
// TestLoadReduced (load_ci_test.go) is the 2,000-work version that always runs.
const loadEnv = "CONTENTDL_LOAD"

// TestLoad runs the real contentdl binary at 32 workers against the simulator, once
// per work count, and reports wall time and peak RSS (/usr/bin/time -v's "Maximum
// resident set size"). Memory must
// stay flat: the largest run may not need more than 3× the smallest one's peak RSS
// however many more works it has.
//
//	CONTENTDL_LOAD=500,5000,50000 go test -run TestLoad -v -timeout 30m ./internal/cli
func TestLoad(t *testing.T) {
	spec := os.Getenv(loadEnv)
	if spec == "" {
		t.Skip("set " + loadEnv + "=500,5000,50000 to run the load test")
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil || runtime.GOOS != "linux" {
		t.Skip("needs GNU /usr/bin/time -v for the peak RSS")
	}
	var counts []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want comma-separated positive counts", loadEnv, spec)
		}
		counts = append(counts, n)
	}
	bin := filepath.Join(t.TempDir(), "contentdl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/contentdl")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	type result struct {
		works   int
		wall    time.Duration
		rssKiB  int64
		saved   int
		perWork float64
	}
	var results []result
	for _, n := range counts {
		hosts := make([]sim.HostSpec, 8)
		for i := range hosts {
			hosts[i].Name = "pub" + strconv.Itoa(i+1)
		}
		s, err := sim.Start(sim.Scenario{Name: "load", Seed: 3, Topic: "load test", Works: sim.WorksSpec{Count: n,
			Mix: sim.Mix{DirectPDF: 1}}, PDFSize: 8 << 10, Hosts: hosts}, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		timeLog := filepath.Join(t.TempDir(), "time.log")
		// /usr/bin/time reports the peak RSS of contentdl alone. The child's own
		// rusage would not: Linux keeps the high-water RSS across execve, so a child
		// forked from this test process inherits the simulator's footprint.
		cmd := exec.Command("/usr/bin/time", "-v", "-o", timeLog, bin, "run", "--topic", "load test", "--out", out,
			"--workers", "32", "--json", "--progress", "never")
		cmd.Env = []string{
			"HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(),
			"DOCSTOKG_OPENALEX_BASE_URL=" + s.OpenAlexURL(),
			"DOCSTOKG_OPENALEX_PER_PAGE=200",
			"DOCSTOKG_UNPAYWALL_BASE_URL=" + s.UnpaywallURL(),
			"DOCSTOKG_RESOLVERS_ORDER=openalex",
			"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS=100000",
			"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST=1000",
			"DOCSTOKG_RATE_LIMITS_DEFAULT_CONCURRENCY=32",
			"DOCSTOKG_LOG_LEVEL=warn",
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err = cmd.Run()
		wall := time.Since(began)
		s.Close()
		if err != nil {
			t.Fatalf("%d works: %v\n%s", n, err, stderr.String())
		}
		rss, err := maxRSS(timeLog)
		if err != nil {
			t.Fatalf("%d works: %v", n, err)
		}
		var sum struct {
			Works int `json:"works"`
			Saved int `json:"saved"`
		}
		if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
			t.Fatalf("%d works: summary: %v", n, err)
		}
		if sum.Works != n || sum.Saved != n {
			t.Errorf("%d works: summary says %d works, %d saved", n, sum.Works, sum.Saved)
		}
		r := result{works: n, wall: wall, saved: sum.Saved, rssKiB: rss}
		r.perWork = float64(wall.Microseconds()) / float64(n) / 1000
		results = append(results, r)
		t.Logf("%6d works, 32 workers: %8s wall, %6.2f ms/work, peak RSS %6.1f MiB, %d saved",
			n, wall.Round(time.Millisecond), r.perWork, float64(r.rssKiB)/1024, r.saved)
		os.RemoveAll(out)
	}
	if len(results) > 1 {
		small, large := results[0], results[0]
		for _, r := range results {
			if r.works < small.works {
				small = r
			}
			if r.works > large.works {
				large = r
			}
		}
		ratio := float64(large.rssKiB) / float64(small.rssKiB)
		t.Logf("peak RSS grows %.2f× for %.0f× the works", ratio, float64(large.works)/float64(small.works))
		if large.works >= 10*small.works && ratio > 3 {
			t.Errorf("peak RSS grows %.2f× from %d to %d works; memory is not flat", ratio, small.works, large.works)
		}
	}
}

// maxRSS reads the peak RSS in KiB from a /usr/bin/time -v report.
func maxRSS(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Maximum resident set size (kbytes):"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no peak RSS in %s:\n%s", path, data)
}
