package fleete2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/cli"
	"github.com/docstokg/contentdl/internal/fleet/fleettest"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// execMainEnv makes the test binary run contentdl's Main: each member of the fleet is
// a real process.
const execMainEnv = "CONTENTDL_FLEETE2E_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execMainEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], cli.OSState()))
	}
	os.Exit(m.Run())
}

// The shared host: hidden capacity capRPS (bucket capBurst), Retry-After in seconds
// until its bucket holds a token again; every member is configured at 2.5 × capRPS.
const (
	capRPS     = 10.0
	capBurst   = 2
	members    = 4
	window     = 5 * time.Second
	bound      = 1.05 * capRPS * 5 // requests per 5 s window
	warmUp     = 10 * time.Second
	configured = 2.5 * capRPS
)

type fleetRun struct {
	s     *sim.Sim
	out   string
	dir   string
	procs []*proc
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// startFleet starts the simulator with works direct PDFs on one publisher host and
// members processes, shard i/members each, all into one OUT; with redisURL they share
// the host's budget.
func startFleet(t *testing.T, works int, redisURL string) *fleetRun {
	t.Helper()
	s, err := sim.Start(sim.Scenario{
		Name: "fleet", Seed: 12, Topic: "fleet coordination",
		Works:           sim.WorksSpec{Count: works, Mix: sim.Mix{DirectPDF: 1}},
		PDFSize:         sim.MinPDFSize,
		PolitenessGrace: 10 * time.Millisecond,
		Hosts: []sim.HostSpec{{Name: "pub", ServiceSpec: sim.ServiceSpec{
			Capacity: sim.Capacity{RPS: capRPS, Burst: capBurst}, RetryAfter: sim.RetryAfterSeconds}}},
	}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pub := strings.TrimPrefix(s.HostURLByName("pub"), "http://")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "contentdl.yaml")
	cfg := fmt.Sprintf("rate_limits:\n  hosts:\n    - host: %s\n      rps: %g\n      burst: 2\n      concurrency: 4\n", pub, configured)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	fr := &fleetRun{s: s, out: filepath.Join(dir, "out"), dir: dir}
	dead := "http://127.0.0.1:1"
	for i := 1; i <= members; i++ {
		p := &proc{done: make(chan struct{})}
		args := []string{"run", "--topic", "fleet coordination", "--out", fr.out, "--config", cfgFile,
			"--shard", fmt.Sprintf("%d/%d", i, members), "--workers", "8",
			"--enable-provider-learning", "--enable-contextual-retry", "--progress", "never",
			"--mailto", fmt.Sprintf("member%d@example.org", i), "--metrics-file", filepath.Join(dir, "m.prom")}
		if redisURL != "" {
			args = append(args, "--redis", redisURL)
		}
		p.cmd = exec.Command(os.Args[0], args...)
		p.cmd.Env = []string{
			execMainEnv + "=1",
			"HOME=" + t.TempDir(),
			"XDG_STATE_HOME=" + t.TempDir(), // each member keeps its own learning file
			"PATH=" + os.Getenv("PATH"),
			"DOCSTOKG_OPENALEX_BASE_URL=" + s.OpenAlexURL(),
			"DOCSTOKG_OPENALEX_PER_PAGE=200",
			"DOCSTOKG_UNPAYWALL_BASE_URL=" + dead,
			"DOCSTOKG_CROSSREF_BASE_URL=" + dead,
			"DOCSTOKG_ARXIV_BASE_URL=" + dead,
			"DOCSTOKG_EUROPE_PMC_BASE_URL=" + dead,
			"DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL=" + dead,
			"DOCSTOKG_RESOLVERS_ORDER=openalex",
			"DOCSTOKG_LOG_LEVEL=info",
		}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() {
			select {
			case <-p.done:
			default:
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		})
		fr.procs = append(fr.procs, p)
	}
	return fr
}

// wait waits for every member and returns their exit codes.
func (fr *fleetRun) wait(t *testing.T, timeout time.Duration) []int {
	t.Helper()
	deadline := time.After(timeout)
	var codes []int
	for i, p := range fr.procs {
		select {
		case <-p.done:
		case <-deadline:
			for _, q := range fr.procs {
				_ = q.cmd.Process.Kill()
			}
			t.Fatalf("member %d did not end within %v\nstderr:\n%s", i+1, timeout, p.stderr.String())
		}
		var ee *exec.ExitError
		switch {
		case errors.As(p.err, &ee):
			codes = append(codes, ee.ExitCode())
		case p.err != nil:
			t.Fatal(p.err)
		default:
			codes = append(codes, 0)
		}
	}
	return codes
}

// figures is what the shared host saw after the warm-up.
type figures struct {
	windows  []int // requests per 5 s window, from the end of the warm-up
	requests int
	throttle int
	inWindow int64 // requests inside a Retry-After window (beyond the grace), whole run
	perProc  map[string]int
	acc, thr []int // per second, whole run
}

func (fr *fleetRun) figures(t *testing.T) figures {
	t.Helper()
	h, ok := fr.s.Stats().Host("pub")
	if !ok {
		t.Fatal("no stats for pub")
	}
	if h.LogTruncated {
		t.Fatal("the request log was truncated")
	}
	f := figures{inWindow: h.InRetryAfterWindow, perProc: map[string]int{},
		acc: h.Timeline.AcceptedPerSecond, thr: h.Timeline.ThrottledPerSecond}
	if len(h.Log) == 0 {
		return f
	}
	first := h.Log[0].Arrived
	last := h.Log[len(h.Log)-1].Arrived
	from := first + warmUp
	for at := from; at+window <= last+window/2; at += window {
		n := 0
		for _, r := range h.Log {
			if r.Arrived >= at && r.Arrived < at+window {
				n++
			}
		}
		f.windows = append(f.windows, n)
	}
	for _, r := range h.Log {
		f.perProc[r.Client]++
		if r.Arrived < from {
			continue
		}
		f.requests++
		if r.Outcome == "429" {
			f.throttle++
		}
	}
	return f
}

func (f figures) maxWindow() int {
	m := 0
	for _, n := range f.windows {
		m = max(m, n)
	}
	return m
}

// checkOnce reads every shard's manifest and checks that each of the simulator's
// works was saved exactly once, by the shard that owns it.
func (fr *fleetRun) checkOnce(t *testing.T) {
	t.Helper()
	saved := map[string]int{}
	for i := 1; i <= members; i++ {
		path := filepath.Join(fr.out, fmt.Sprintf("manifest.shard-%d-of-%d.jsonl", i, members))
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("shard %d manifest: %v", i, err)
		}
		err = manifest.Read(f, nil, func(r *manifest.Record) error {
			if r.RecordType == manifest.TypeManifest && r.Classification == manifest.ClassPDF {
				saved[r.WorkID]++
			}
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatalf("shard %d manifest: %v", i, err)
		}
	}
	var missing, twice []string
	for _, w := range fr.s.Works() {
		switch saved[w.ID] {
		case 1:
		case 0:
			missing = append(missing, w.ID)
		default:
			twice = append(twice, w.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("%d works not saved (%v…), %d saved more than once (%v)", len(missing), head(missing), len(twice), twice)
	}
}

// metric sums a metric's values over the members' metrics files (m.shard-I-of-N.prom).
func (fr *fleetRun) metric(t *testing.T, name string) (sum float64, files int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(fr.dir, "m.shard-*.prom"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, name+"{"); ok {
				var v float64
				if _, err := fmt.Sscan(rest[strings.IndexByte(rest, '}')+1:], &v); err == nil {
					sum += v
					files++
				}
			}
		}
	}
	return sum, files
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func (fr *fleetRun) logs() string {
	var b strings.Builder
	for i, p := range fr.procs {
		fmt.Fprintf(&b, "--- member %d stderr (last 3000 bytes):\n", i+1)
		s := p.stderr.String()
		b.WriteString(s[max(0, len(s)-3000):])
	}
	return b.String()
}

func report(t *testing.T, name string, f figures) {
	t.Helper()
	js, _ := json.Marshal(map[string]any{"windows": f.windows, "accepted_per_s": f.acc, "429_per_s": f.thr, "requests_after_warmup": f.requests,
		"429_after_warmup": f.throttle, "in_retry_after_window": f.inWindow, "per_process": f.perProc})
	t.Logf("%s: %s (bound %.1f per 5s window)", name, js, bound)
}

// TestFleetSharesOneHostsBudget: four processes, each configured at 2.5 × the host's
// hidden capacity C, share it through Redis. After the warm-up no 5 s window holds
// more than 1.05 × C × 5 requests, at most 1 % of them are 429s, nothing arrives
// inside a Retry-After window, and every work is saved exactly once.
func TestFleetSharesOneHostsBudget(t *testing.T) {
	t.Parallel()
	r := fleettest.Start(t)
	fr := startFleet(t, 320, r.URL())
	codes := fr.wait(t, 2*time.Minute)
	f := fr.figures(t)
	report(t, "shared", f)
	if os.Getenv("FLEET_LOGS") != "" { // FLEET_LOGS=1 shows what each member logged
		t.Log(fr.logs())
	}
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("member %d exited %d\n%s", i+1, c, fr.logs())
		}
	}
	fr.checkOnce(t)
	if len(f.windows) < 2 {
		t.Fatalf("only %d windows after the warm-up: the run was too short to judge", len(f.windows))
	}
	if m := f.maxWindow(); float64(m) > bound {
		t.Errorf("a 5 s window held %d requests, more than 1.05 × C × 5 = %.1f: %v\n%s", m, bound, f.windows, fr.logs())
	}
	if share := float64(f.throttle) / float64(f.requests); share > 0.01 {
		t.Errorf("429s after the warm-up: %d of %d (%.1f %%), want at most 1 %%\n%s", f.throttle, f.requests, 100*share, fr.logs())
	}
	if f.inWindow != 0 {
		t.Errorf("%d requests arrived inside Retry-After windows", f.inWindow)
	}
	if len(f.perProc) != members {
		t.Errorf("requests came from %d clients, want %d: %v", len(f.perProc), members, f.perProc)
	}
	if n, files := fr.metric(t, "contentdl_fleet_fallback"); files != members || n != 0 {
		t.Errorf("contentdl_fleet_fallback: %v over %d metrics files, want 0 over %d", n, files, members)
	}
}

// TestFleetWithoutRedisBreaksTheBound is the negative control: the same four
// processes without --redis each keep their own budget, and together they break the
// bound the shared run keeps, so that test can fail.
func TestFleetWithoutRedisBreaksTheBound(t *testing.T) {
	t.Parallel()
	fr := startFleet(t, 200, "")
	codes := fr.wait(t, 2*time.Minute)
	h, _ := fr.s.Stats().Host("pub")
	// Judge every 5 s window of the run: the excess is largest before learning cuts.
	first := h.Log[0].Arrived
	worst := 0
	for at := first; at < h.Log[len(h.Log)-1].Arrived; at += time.Second {
		n := 0
		for _, rec := range h.Log {
			if rec.Arrived >= at && rec.Arrived < at+window {
				n++
			}
		}
		worst = max(worst, n)
	}
	t.Logf("without redis: exit codes %v, busiest 5 s window %d requests (bound %.1f), %d requests, 429s %d",
		codes, worst, bound, h.Requests, h.ByStatus["429"])
	if float64(worst) <= bound {
		t.Fatalf("without a shared budget the busiest 5 s window held %d requests, within the bound %.1f: "+
			"the coordination test could not tell the difference", worst, bound)
	}
}

// TestFleetSurvivesRedisRestart: Redis is killed in the middle of the run and started
// again, empty. No member fails, every work is saved exactly once, and the rate the
// host is offered stays within the bound throughout: in fallback each member limits
// itself to the fleet's last rate divided by the members, and after the restart the
// members write their windows and learned rates back.
func TestFleetSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	r := fleettest.Start(t)
	fr := startFleet(t, 320, r.URL())
	time.Sleep(14 * time.Second) // into the steady state (real processes, real time)
	r.Stop()
	time.Sleep(6 * time.Second) // the fleet runs on local limits
	r.Restart()
	codes := fr.wait(t, 2*time.Minute)
	f := fr.figures(t)
	report(t, "redis restarted", f)
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("member %d exited %d\n%s", i+1, c, fr.logs())
		}
	}
	fr.checkOnce(t)
	if m := f.maxWindow(); float64(m) > bound {
		t.Errorf("a 5 s window held %d requests, more than 1.05 × C × 5 = %.1f: %v\n%s", m, bound, f.windows, fr.logs())
	}
	fell := 0
	for _, p := range fr.procs {
		if strings.Contains(p.stderr.String(), "fleet: redis unreachable") {
			fell++
		}
	}
	if fell == 0 {
		t.Errorf("no member logged the fallback\n%s", fr.logs())
	}
	if n, files := fr.metric(t, "contentdl_fleet_fallbacks_total"); files != members || n < float64(fell) {
		t.Errorf("contentdl_fleet_fallbacks_total: %v over %d files, want at least %d (the members that logged it)", n, files, fell)
	}
}
