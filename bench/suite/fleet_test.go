package suite

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/shard"
	"github.com/docstokg/contentdl/internal/sim"
)

const ms = time.Millisecond

// at builds a request log: one request per arrival offset, answered 200 unless its
// index is in throttled.
func at(offsets []time.Duration, throttled ...int) []sim.RequestRecord {
	log := make([]sim.RequestRecord, len(offsets))
	for i, o := range offsets {
		log[i] = sim.RequestRecord{Arrived: o, Answered: o + ms, Outcome: "200"}
	}
	for _, i := range throttled {
		log[i].Outcome = "429"
	}
	return log
}

// every returns n offsets, step apart, from start.
func every(start, step time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = start + time.Duration(i)*step
	}
	return out
}

func TestFleetWindows(t *testing.T) {
	// 10 rps from 1 s to 31 s (300 requests, the last at 30.9 s): the warm-up ends at
	// 11 s; windows [11,16) … [26,31) hold 50 each; [31,36) starts after the last
	// request and its first half holds none of the run, so it does not count.
	log := at(every(time.Second, 100*ms, 300))
	if got, want := fleetWindows(log, 10*time.Second, 5*time.Second), []int{50, 50, 50, 50}; !reflect.DeepEqual(got, want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	// A burst inside the warm-up is not judged; one after it is.
	burst := append(every(time.Second, ms, 80), every(2*time.Second, 100*ms, 290)...)
	if got := fleetWindows(at(burst), 10*time.Second, 5*time.Second); got[0] != 50 {
		t.Fatalf("a burst in the warm-up reached the first window: %v", got)
	}
	late := append(every(time.Second, 100*ms, 200), every(21*time.Second+500*ms, ms, 60)...)
	late = append(late, every(22*time.Second, 100*ms, 50)...)
	// [21,26) holds the 60 of the burst and 40 at 10 rps from 22 s.
	got := fleetWindows(at(sorted(late)), 10*time.Second, 5*time.Second)
	if want := []int{50, 50, 60 + 40}; !reflect.DeepEqual(got, want) {
		t.Fatalf("a burst after the warm-up was not counted in its window: %v", got)
	}
	// The last window counts when at least half of it lies before the last request:
	// requests up to 23.5 s give [11,16), [16,21) and [21,26) (half of it before 23.5).
	if got := fleetWindows(at(every(time.Second, 100*ms, 226)), 10*time.Second, 5*time.Second); len(got) != 3 || got[2] != 26 {
		t.Fatalf("tail window: %v", got)
	}
	if got := fleetWindows(at(every(time.Second, 100*ms, 226)[:50]), 10*time.Second, 5*time.Second); got != nil {
		t.Fatalf("a run shorter than the warm-up has windows: %v", got)
	}
	if fleetWindows(nil, 10*time.Second, 5*time.Second) != nil {
		t.Fatal("an empty log has windows")
	}
}

func sorted(v []time.Duration) []time.Duration {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

func TestBusiestWindow(t *testing.T) {
	// 10 rps throughout, and 40 more in [3.2 s, 3.6 s): the busiest 5 s window
	// starting on a whole second after the first request (at 1 s) holds them all.
	log := sorted(append(every(time.Second, 100*ms, 200), every(3200*ms, 10*ms, 40)...))
	n, start := busiestWindow(at(log), 5*time.Second, time.Second)
	if n != 90 {
		t.Fatalf("busiest %d, want 90", n)
	}
	if start != 0 {
		t.Fatalf("busiest window at %v, want the first one (from the first request)", start)
	}
	if n, _ := busiestWindow(nil, 5*time.Second, time.Second); n != 0 {
		t.Fatalf("empty log: %d", n)
	}
}

func TestAfterWarmUp(t *testing.T) {
	// 200 requests from 2 s, one every 100 ms: the warm-up (10 s from the first)
	// holds the first 100; of the other 100, three are 429s (and one in the warm-up,
	// which does not count).
	log := at(every(2*time.Second, 100*ms, 200), 5, 100, 150, 199)
	req, thr := afterWarmUp(log, 10*time.Second)
	if req != 100 || thr != 3 {
		t.Fatalf("after the warm-up: %d requests, %d 429s; want 100, 3", req, thr)
	}
	f := FleetFigures{Requests: req, Throttled: thr}
	if f.Share429() != 0.03 {
		t.Fatalf("share %v", f.Share429())
	}
	if (FleetFigures{}).Share429() != 0 {
		t.Fatal("no requests, yet a share")
	}
}

func TestPerMember(t *testing.T) {
	mailtos := []string{"fleet-member-1@example.org", "fleet-member-2@example.org"}
	ua := func(m string) string {
		return "contentdl/dev (+https://github.com/docstokg/contentdl; mailto:" + m + ")"
	}
	log := at(every(0, 100*ms, 7), 1, 4)
	clients := []string{ua(mailtos[0]), ua(mailtos[0]), ua(mailtos[1]), "curl/8.0", ua("xfleet-member-1@example.org"), ua(mailtos[1]), ua(mailtos[1])}
	for i := range log {
		log[i].Client = clients[i]
	}
	per, strangers := perMember(log, mailtos)
	if want := []MemberFigures{{2, 1, 1}, {3, 3, 0}}; !reflect.DeepEqual(per, want) || strangers != 2 {
		t.Fatalf("per member %+v, strangers %d; want %+v, 2", per, strangers, want)
	}
	acc, thr := perSecondByMember(log, mailtos)
	if !reflect.DeepEqual(acc, [][]int{{1}, {3}}) || !reflect.DeepEqual(thr, [][]int{{1}, {0}}) {
		t.Fatalf("per second: accepted %v, 429s %v", acc, thr)
	}
}

// writeManifest writes shard i of n's manifest in out with a pdf record for each of
// pdfs and a miss record for each of misses.
func writeManifest(t *testing.T, out string, i, n int, pdfs, misses []string) {
	t.Helper()
	w, err := manifest.OpenWriter(filepath.Join(out, download.ManifestName(shard.Shard{I: i, N: n})), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range pdfs {
		if err := w.Write(&manifest.Record{RecordType: manifest.TypeManifest, WorkID: id, Classification: manifest.ClassPDF}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range misses {
		if err := w.Write(&manifest.Record{RecordType: manifest.TypeManifest, WorkID: id, Classification: manifest.ClassMiss}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadSavedAndExactlyOnce(t *testing.T) {
	out := t.TempDir()
	writeManifest(t, out, 1, 3, []string{"W1", "W2"}, nil)
	writeManifest(t, out, 2, 3, []string{"W3", "W2"}, []string{"W4"})
	// Shard 3 wrote no manifest: it saved nothing. A manifest of another split is
	// not read.
	writeManifest(t, out, 1, 2, []string{"W5"}, nil)
	saved, err := readSaved(out, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"W1": 1, "W2": 2, "W3": 1}; !reflect.DeepEqual(saved, want) {
		t.Fatalf("saved %v, want %v", saved, want)
	}
	once, missing, twice := exactlyOnce([]string{"W5", "W4", "W3", "W2", "W1"}, saved)
	if once != 2 || !reflect.DeepEqual(missing, []string{"W4", "W5"}) || !reflect.DeepEqual(twice, []string{"W2"}) {
		t.Fatalf("once %d, missing %v, twice %v", once, missing, twice)
	}
}

// fakeFleet builds the three runs so that every target is met; miss names one to
// break: "window", "429", "inwindow", "once", "control", "exit".
func fakeFleet(miss string) *Fleet {
	f := &Fleet{Started: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC), Elapsed: 150 * time.Second}
	works := []string{"W1", "W2", "W3", "W4"}
	for _, mode := range FleetModes {
		r := FleetRun{Mode: mode, Wall: 45 * time.Second, Works: works, Saved: map[string]int{"W1": 1, "W2": 1, "W3": 1, "W4": 1}}
		offsets := every(time.Second, 100*ms, 400) // 10 rps: 50 per window
		if mode == FleetNoRedis {
			offsets = sorted(append(offsets, every(1500*ms, 20*ms, 100)...)) // 150 in the first 5 s
		}
		r.Host.Log = at(offsets)
		for i := range FleetMembers {
			m := FleetMember{Shard: fmt.Sprintf("%d/%d", i+1, FleetMembers), Mailto: fmt.Sprintf("m%d@example.org", i+1), Saved: 1,
				Proc: Proc{Wall: 44 * time.Second, User: time.Second, MaxRSS: 30e6}}
			if mode == FleetFault {
				m.FellBack, m.CameBack = true, i > 0
			}
			r.Members = append(r.Members, m)
		}
		for i := range r.Host.Log {
			r.Host.Log[i].Client = "contentdl/dev (mailto:" + r.Members[i%FleetMembers].Mailto + ")"
		}
		if mode == FleetFault {
			r.RedisDown, r.RedisUp = 15*time.Second, 21*time.Second
		}
		switch {
		case miss == "window" && mode == FleetShared:
			r.Host.Log = at(sorted(append(offsets, every(20*time.Second, 10*ms, 3)...)))
		case miss == "429" && mode == FleetShared:
			r.Host.Log = at(offsets, 300, 310, 320, 330)
		case miss == "inwindow" && mode == FleetShared:
			r.Host.InRetryAfterWindow = 1
		case miss == "once" && mode == FleetShared:
			r.Saved["W2"] = 2
		case miss == "control" && mode == FleetNoRedis:
			r.Host.Log = at(every(time.Second, 100*ms, 400))
		case miss == "exit" && mode == FleetFault:
			r.Members[2].Proc.ExitCode = 3
		}
		f.Runs = append(f.Runs, r)
	}
	return f
}

func TestFleetChecks(t *testing.T) {
	checks := fakeFleet("").Checks()
	if len(checks) != 4+1+3 {
		t.Fatalf("%d checks, want 8: %+v", len(checks), checks)
	}
	for _, c := range checks {
		if !c.Met {
			t.Errorf("target %q not met (%s) by runs built to meet it", c.Target, c.Measured)
		}
	}
	for miss, target := range map[string]string{
		"window":   "fleet, shared: requests in every 5s window after a 10s warm-up ≤ 1.05 × C × 5s = 52.5",
		"429":      "fleet, shared: 429s after the warm-up ≤ 1.0%",
		"inwindow": "fleet, shared: 0 requests inside a Retry-After window",
		"once":     "fleet, shared: every work saved exactly once",
		"control":  "fleet, no redis (negative control): the busiest 5s window breaks the bound 52.5",
		"exit":     "fleet, redis restarted: every process exits 0",
	} {
		var failed []string
		for _, c := range fakeFleet(miss).Checks() {
			if !c.Met {
				failed = append(failed, c.Target+" → "+c.Measured)
			}
		}
		if len(failed) != 1 || !strings.Contains(failed[0], target) {
			t.Errorf("missing %s: failed targets %q, want only %q", miss, failed, target)
		}
	}
	// A run shorter than the warm-up cannot meet the bound: nothing was judged.
	f := fakeFleet("")
	f.Runs[0].Host.Log = f.Runs[0].Host.Log[:50]
	if c := f.Checks()[0]; c.Met || !strings.Contains(c.Measured, "too short") {
		t.Errorf("a run with no window after the warm-up: %+v", c)
	}
	// A timed-out fault run fails its exit check.
	f = fakeFleet("")
	f.Runs[2].TimedOut = true
	for _, c := range f.Checks() {
		if strings.Contains(c.Target, "exits 0") && (c.Met || !strings.Contains(c.Measured, "stopped after")) {
			t.Errorf("a stopped run passed: %+v", c)
		}
	}
	if got := (&Fleet{Skipped: FleetSkipNote}).Checks(); len(got) != 0 {
		t.Errorf("a skipped part has targets: %+v", got)
	}
}

func TestFleetFigures(t *testing.T) {
	g := fakeFleet("exit").Runs[2].Figures()
	if g.MaxWindow != 50 || len(g.Windows) != 6 || g.Requests != 300 || g.Busiest != 50 {
		t.Errorf("windows %v (max %d), requests %d, busiest %d", g.Windows, g.MaxWindow, g.Requests, g.Busiest)
	}
	// 300 accepted from 11 s to the last request at 40.9 s: 300 ÷ 29.9 s ÷ 10 rps.
	if want := 300 / 29.9 / FleetCapacity; math.Abs(g.Served-want) > 1e-9 {
		t.Errorf("served %v, want %v", g.Served, want)
	}
	if !reflect.DeepEqual(g.ExitCodes, []int{0, 0, 3, 0}) || g.AllExitZero || g.FellBack != 4 || g.CameBack != 3 {
		t.Errorf("exit codes %v (all zero %v), fell back %d, came back %d", g.ExitCodes, g.AllExitZero, g.FellBack, g.CameBack)
	}
	for i, m := range g.PerMember {
		if m.Requests != 100 || m.Accepted != 100 {
			t.Errorf("member %d: %+v", i, m)
		}
	}
}

func TestWriteFleet(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleet(&b, fakeFleet("exit"), "fleet.png", &Machine{CPUs: 2, Commit: "abc1234", GoVersion: "go1.26.8"}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		FleetBegin, FleetEnd, "## 6. Fleet", "`make bench-fleet`", "commit `abc1234`", "**52.5 requests per window**",
		"| shared | 45.0 s | 0, 0, 0, 0 | 50 (6 windows) | 50 (at 0 s) | 1.00 | 0 of 300 (0.0%) | 0 / 0 | 4 / 0 / 0 |",
		"| no redis | 45.0 s | 0, 0, 0, 0 | 50 (6 windows) | 150 (at 0 s) |",
		"| fleet, redis restarted: every process exits 0 | [0 0 3 0] | **no** |",
		"| redis restarted | shard 3/4 | 100 | 100 | 0 | 1 | 3 | 44.0 s | 1.00 s | 30.0 MB |",
		"- shared: 50, 50, 50, 50, 50, 50",
		"Redis was down from 15.0 s to 21.0 s", "4 of 4 processes logged the fallback", "and 3 logged Redis's return",
		"](fleet.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("section lacks %q:\n%s", want, md)
		}
	}
	// A stopped run: its processes left no exit code and no rusage.
	f := fakeFleet("")
	f.Runs[2].TimedOut = true
	for i := range f.Runs[2].Members {
		f.Runs[2].Members[i].Proc, f.Runs[2].Members[i].Saved = Proc{ExitCode: -1}, -1
	}
	b.Reset()
	if err := WriteFleet(&b, f, "", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| redis restarted | stopped at 1m35s | stopped, stopped, stopped, stopped |",
		"| redis restarted | shard 1/4 | 100 | 100 | 0 | – | stopped | – | – | – |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("stopped run: section lacks %q:\n%s", want, b.String())
		}
	}
	// Skipped: the note, no figures, no chart.
	b.Reset()
	if err := WriteFleet(&b, &Fleet{Skipped: FleetSkipNote}, "fleet.png", nil); err != nil {
		t.Fatal(err)
	}
	if md := b.String(); !strings.Contains(md, "fleet part skipped: redis-server not found; install it with `apt-get install redis-server` (as root)") ||
		strings.Contains(md, "fleet.png") || !strings.HasSuffix(md, FleetEnd+"\n") {
		t.Errorf("skipped section:\n%s", md)
	}
	// The whole page carries the part and its targets.
	res := fakeResults()
	res.Fleet = fakeFleet("")
	b.Reset()
	if err := WriteMarkdown(&b, res, Charts{Learning: "learning.png", Fleet: "fleet.png"}); err != nil {
		t.Fatal(err)
	}
	if md := b.String(); !strings.Contains(md, "## 6. Fleet") || strings.Contains(md, "refreshed on its own") ||
		!strings.Contains(md, "| fleet, no redis (negative control): the busiest 5s window breaks the bound 52.5 |") {
		t.Errorf("RESULTS.md without the fleet part or its targets:\n%s", md)
	}
}

// Splicing the fleet section replaces it alone, next to the many-hosts section.
func TestSpliceFleet(t *testing.T) {
	section := FleetBegin + "\nnew\n" + FleetEnd + "\n"
	many := ManyHostsBegin + "\nmany\n" + ManyHostsEnd + "\n"
	page := "# Results\n\n" + many + "\n" + FleetBegin + "\nold\n" + FleetEnd + "\n\ntrailer\n"
	got := string(SpliceFleet([]byte(page), []byte(section)))
	if want := "# Results\n\n" + many + "\n" + section + "\ntrailer\n"; got != want {
		t.Fatalf("splice:\n%q\nwant\n%q", got, want)
	}
	if again := string(SpliceFleet([]byte(got), []byte(section))); again != got {
		t.Fatalf("a second splice changed the page:\n%q", again)
	}
	if got := string(SpliceFleet([]byte("# Results\n\n"+many), []byte(section))); got != "# Results\n\n"+many+"\n"+section {
		t.Fatalf("append to a page without the section: %q", got)
	}
}

func TestWriteFleetChart(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleetChart(&b, fakeFleet("")); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != chartWidthPx || sz.Y != 3*fleetChartRowPx {
		t.Fatalf("chart is %v, want %dx%d (one panel per run)", sz, chartWidthPx, 3*fleetChartRowPx)
	}
	if err := WriteFleetChart(&b, &Fleet{}); err == nil {
		t.Fatal("a chart of no runs should be an error")
	}
}

// The scenario is the end-to-end test's: one host at C with burst 2 and
// Retry-After in seconds, direct PDFs only, and the simulator accepts it.
func TestFleetScenario(t *testing.T) {
	s, err := sim.Start(fleetScenario(), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(s.Works()); n != FleetWorks {
		t.Fatalf("%d works, want %d", n, FleetWorks)
	}
	for _, w := range s.Works() {
		if w.Host != fleetHost {
			t.Fatalf("work %s on host %q, want %q", w.ID, w.Host, fleetHost)
		}
	}
	if FleetBound() != 52.5 {
		t.Fatalf("bound %v", FleetBound())
	}
}

// Without redis-server on PATH the part is skipped with the install hint on stderr
// (the log) and in its section, and is no error: the rest of the suite runs.
func TestRunFleetSkipsWithoutRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var logs bytes.Buffer
	s := &Suite{opts: Options{WorkDir: t.TempDir()}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	f, err := s.runFleet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Skipped != FleetSkipNote || len(f.Runs) != 0 {
		t.Fatalf("skipped %q, %d runs", f.Skipped, len(f.Runs))
	}
	if !strings.Contains(logs.String(), "fleet part skipped: redis-server not found; install it with `apt-get install redis-server` (as root)") {
		t.Fatalf("log lacks the note:\n%s", logs.String())
	}
}
