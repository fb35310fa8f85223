package suite

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/sim"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSteadyRate(t *testing.T) {
	tl := sim.Timeline{Bucket: 100 * time.Millisecond, Accepted: make([]int, 400)}
	// 1 accepted per bucket up to 30 s, then nothing recorded (the run ended).
	for i := 0; i < 300; i++ {
		tl.Accepted[i] = 1
	}
	tl.Accepted = tl.Accepted[:300]
	got, ok := steadyRate(tl, 20*time.Second)
	if !ok || !near(got, 10) {
		t.Fatalf("steadyRate = %v, %v; want 10 rps", got, ok)
	}
	// Idle buckets at the end of the timeline do not stretch the span.
	tl.Accepted = append(tl.Accepted, 0, 0, 0, 0, 0)
	if got, _ := steadyRate(tl, 20*time.Second); !near(got, 10) {
		t.Fatalf("trailing idle buckets: %v, want 10", got)
	}
	// A gap in the middle counts: the host was idle then.
	tl.Accepted = make([]int, 300)
	for i := 200; i < 250; i++ {
		tl.Accepted[i] = 2
	}
	tl.Accepted[299] = 10
	if got, _ := steadyRate(tl, 20*time.Second); !near(got, 110.0/10) {
		t.Fatalf("gap: %v, want 11", got)
	}
	if _, ok := steadyRate(sim.Timeline{Bucket: 100 * time.Millisecond, Accepted: []int{5, 5}}, 20*time.Second); ok {
		t.Fatal("a run that ended before 20 s has no steady rate")
	}
}

func TestPerSecond(t *testing.T) {
	v := make([]int, 25)
	for i := range v {
		v[i] = 1
	}
	got := perSecond(v, 100*time.Millisecond)
	want := []float64{10, 10, 5}
	if len(got) != len(want) {
		t.Fatalf("perSecond = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("perSecond = %v, want %v", got, want)
		}
	}
}

func TestLimitStepsAndMean(t *testing.T) {
	r := LearningRun{Mode: ModeEmpty, Configured: 25, Proc: Proc{Wall: 40 * time.Second}, Limits: []LimitSample{
		{At: 1 * time.Second, RPS: 20}, {At: 1100 * time.Millisecond, RPS: 20}, {At: 10 * time.Second, RPS: 10},
		{At: 30 * time.Second, RPS: 12}, {At: 41 * time.Second, RPS: 12},
	}}
	steps := r.limitSteps()
	want := []point{{0, 25}, {1, 20}, {10, 10}, {30, 12}, {40, 12}}
	if len(steps) != len(want) {
		t.Fatalf("steps = %v, want %v", steps, want)
	}
	for i := range want {
		if !near(steps[i].x, want[i].x) || steps[i].y != want[i].y {
			t.Fatalf("steps = %v, want %v", steps, want)
		}
	}
	// From 20 s to 40 s: 10 rps for 10 s, then 12 rps for 10 s.
	if got, ok := r.MeanLimitAfter(); !ok || !near(got, 11) {
		t.Fatalf("MeanLimitAfter = %v, %v; want 11", got, ok)
	}

	// A persisted run starts from the file's value, not from the configured rate.
	r.Mode, r.Limits = ModePersisted, []LimitSample{{At: 50 * time.Millisecond, RPS: 9}}
	if steps := r.limitSteps(); steps[0] != (point{0, 9}) || steps[len(steps)-1] != (point{40, 9}) {
		t.Fatalf("persisted steps = %v", steps)
	}
	r.Mode = ModeOff
	if got, _ := r.MeanLimitAfter(); got != 25 {
		t.Fatalf("learning off: mean limit %v, want the configured 25", got)
	}
	r.Proc.Wall = 15 * time.Second
	if _, ok := r.MeanLimitAfter(); ok {
		t.Fatal("a run shorter than the settle time has no mean after it")
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/docstokg/contentdl/internal/policy
cpu: AMD EPYC
BenchmarkDecide/legacy-2         	 1283720	       167.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecide/contextual-2     	 2139646	       103.2 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/docstokg/contentdl/internal/policy	0.462s
pkg: github.com/docstokg/contentdl/internal/learning
BenchmarkMemory1000Hosts-2   	       3	 300 ns/op	  812345 bytes/1000hosts
BenchmarkRenderJSON1000-2    	      40	   8304298 ns/op	 2915937 B/op	    4043 allocs/op
BenchmarkNoMem	  100	  12 ns/op
BenchmarkLogLine says hello
`
	got, err := parseBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Micro{
		{Pkg: "github.com/docstokg/contentdl/internal/policy", Name: "BenchmarkDecide/legacy", Iterations: 1283720, NsPerOp: 167, BytesPerOp: 0, AllocsPerOp: 0},
		{Pkg: "github.com/docstokg/contentdl/internal/policy", Name: "BenchmarkDecide/contextual", Iterations: 2139646, NsPerOp: 103.2, BytesPerOp: 0, AllocsPerOp: 0},
		{Pkg: "github.com/docstokg/contentdl/internal/learning", Name: "BenchmarkMemory1000Hosts", Iterations: 3, NsPerOp: 300, BytesPerOp: -1, AllocsPerOp: -1},
		{Pkg: "github.com/docstokg/contentdl/internal/learning", Name: "BenchmarkRenderJSON1000", Iterations: 40, NsPerOp: 8304298, BytesPerOp: 2915937, AllocsPerOp: 4043},
		{Pkg: "github.com/docstokg/contentdl/internal/learning", Name: "BenchmarkNoMem", Iterations: 100, NsPerOp: 12, BytesPerOp: -1, AllocsPerOp: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkDecide/legacy-2": "BenchmarkDecide/legacy", "BenchmarkX-16": "BenchmarkX",
		"BenchmarkX": "BenchmarkX", "BenchmarkX/a-b": "BenchmarkX/a-b",
	} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeResults builds results that meet every target except the ones named.
func fakeResults(miss ...string) *Results {
	missing := map[string]bool{}
	for _, m := range miss {
		missing[m] = true
	}
	tl := sim.Timeline{Bucket: 100 * time.Millisecond, Accepted: make([]int, 320), Throttled: make([]int, 320)}
	for i := range tl.Accepted {
		tl.Accepted[i] = 1
	}
	res := &Results{Started: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Elapsed: 5 * time.Minute,
		Machine: Machine{CPUs: 2, CPUModel: "Test CPU", GoVersion: "go1.26.8 linux/amd64", Commit: "abc1234"}}
	for _, mode := range Modes {
		r := LearningRun{Variant: "hidden", Mode: mode, Capacity: 10, Configured: 25, Works: 300,
			Proc: Proc{Wall: 32 * time.Second}, FinalLimit: 9.5,
			Host:   sim.HostStats{Requests: 300, ByStatus: map[string]int64{"200": 300}, Timeline: tl},
			Limits: []LimitSample{{At: time.Second, RPS: 9.5}}}
		if missing["429"] && mode == ModePersisted {
			r.Host.Requests, r.Host.ByStatus["429"] = 306, 6
		}
		if missing["window"] && mode == ModeOff {
			r.InWindowAll = 2
		}
		res.Learning = append(res.Learning, r)
	}
	curlWall := 2 * time.Second
	if missing["curl"] {
		curlWall = time.Second
	}
	res.Throughput = Throughput{Files: 2000, FileSize: 256 << 10, Workers: 16, Curl: "curl 8",
		Dests: []Dest{{Name: "disk"}}}
	for rep := 1; rep <= 3; rep++ {
		res.Throughput.Runs = append(res.Throughput.Runs, ThroughputRun{Dest: "disk", Rep: rep,
			Contentdl: Proc{Wall: 1500 * time.Millisecond, User: time.Second, MaxRSS: 30e6},
			Curl:      Proc{Wall: curlWall, User: time.Second, MaxRSS: 12e6}})
	}
	onCPU := time.Second
	if missing["overhead"] {
		onCPU = 1100 * time.Millisecond
	}
	for i := 0; i < 5; i++ {
		res.Overhead.Pairs = append(res.Overhead.Pairs, OverheadPair{Off: Proc{User: time.Second}, On: Proc{User: onCPU}})
	}
	res.Overhead.Dest = "disk"
	res.Micro = []Micro{{Pkg: "github.com/docstokg/contentdl/internal/policy", Name: "BenchmarkDecide/legacy",
		NsPerOp: 51.3, BytesPerOp: 0, AllocsPerOp: 0}}
	return res
}

func TestChecks(t *testing.T) {
	for _, c := range fakeResults().Checks() {
		if !c.Met {
			t.Errorf("target %q not met (%s) by results built to meet it", c.Target, c.Measured)
		}
	}
	cases := map[string]string{
		"429":      "persisted state: 429s ≤ 1.0%",
		"window":   "0 requests inside Retry-After windows",
		"curl":     "contentdl wall ÷ curl wall",
		"overhead": "overhead: CPU time",
	}
	for miss, target := range cases {
		var failed []string
		for _, c := range fakeResults(miss).Checks() {
			if !c.Met {
				failed = append(failed, c.Target)
			}
		}
		if len(failed) != 1 || !strings.Contains(failed[0], target) {
			t.Errorf("missing %s: failed targets %q, want only %q", miss, failed, target)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fakeResults("curl"), Charts{Learning: "learning.png"}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"`make bench`", "2 CPUs (nproc), Test CPU", "go1.26.8", "commit `abc1234`",
		"| hidden | learning on, persisted state | 1.00 | 0.95 | 0 of 300 | 0.0% | 0 (0) | 32.0 s | 1.07 | 9.50 rps |",
		"| throughput (disk): contentdl wall ÷ curl wall ≤ 1 (median) | 1.50 | **no** |",
		"| **disk, median** | | **1.50 s** | **1.00 s** | **1.50** |",
		"| **median** | | 1.000 s | 1.000 s | **1.000** | | |",
		"![Learning", "](learning.png)",
		"| internal/policy | BenchmarkDecide/legacy | 51.3 | 0 | 0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteChart(t *testing.T) {
	res := fakeResults()
	adv := append([]LearningRun{}, res.Learning...)
	for i := range adv {
		adv[i].Variant = "advertised"
	}
	var b bytes.Buffer
	if err := WriteChart(&b, append(res.Learning, adv...)); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != chartWidthPx || sz.Y != chartHeightPx {
		t.Fatalf("chart is %v, want %dx%d", sz, chartWidthPx, chartHeightPx)
	}
	if err := WriteChart(&b, nil); err == nil {
		t.Fatal("a chart of no runs should be an error")
	}
}

func TestCurlConfig(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/urls.txt"
	if err := writeCurlConfig(path, []string{"http://127.0.0.1:1/pdf/W1", `http://h/"q"`}, []string{"W1", "W2"}, "/out dir"); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	want := "url = \"http://127.0.0.1:1/pdf/W1\"\noutput = \"/out dir/W1.pdf\"\nurl = \"http://h/\\\"q\\\"\"\noutput = \"/out dir/W2.pdf\"\n"
	if got != want {
		t.Fatalf("curl config:\n%s\nwant:\n%s", got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
