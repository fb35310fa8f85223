package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// liveWorld is a simulated OpenAlex and publisher (internal/sim) for a contentdl
// child process, on real time: every PDF answer sends half its body, waits delay,
// then sends the rest, so that a run lasts long enough to be killed in the middle
// and a kill often finds a temp file half written. With stallAfter > 0, from the
// publisher's stallAfter+1-th request on every PDF answer sends half its body and
// hangs until the client goes away.
type liveWorld struct {
	s   *sim.Sim
	ids []string // the works, in id order
}

// liveTopic is in every live world's title: `run --topic` with it finds every work.
const liveTopic = "live world"

func newLiveWorld(t *testing.T, n int, delay time.Duration, stallAfter int) *liveWorld {
	t.Helper()
	shares := []sim.Share{{Fault: sim.Fault{Kind: sim.FaultSlowBody, Delay: delay}, Share: 1, PathPrefix: "/pdf/"}}
	if stallAfter > 0 {
		// First in the list, so it wins once it applies.
		shares = append([]sim.Share{{Fault: sim.Fault{Kind: sim.FaultSlowBody, Delay: 30 * time.Second}, Share: 1,
			PathPrefix: "/pdf/", After: stallAfter}}, shares...)
	}
	s, err := sim.Start(sim.Scenario{Name: "live", Seed: 9, Topic: liveTopic,
		Works: sim.WorksSpec{Count: n, Mix: sim.Mix{DirectPDF: 1}}, PDFSize: 24 << 10,
		Hosts: []sim.HostSpec{{Name: "pub", Faults: sim.FaultSpec{Shares: shares}}}}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	lw := &liveWorld{s: s}
	for _, w := range s.Works() {
		lw.ids = append(lw.ids, w.ID)
	}
	return lw
}

// hitsCopy is the publisher's request count per PDF path.
func (lw *liveWorld) hitsCopy() map[string]int {
	out := make(map[string]int, len(lw.ids))
	for _, id := range lw.ids {
		out["/pdf/"+id] = lw.s.Requests("pub", "/pdf/"+id)
	}
	return out
}

func (lw *liveWorld) env(t *testing.T) []string {
	dead := "http://127.0.0.1:1"
	env := []string{
		execMainEnv + "=1",
		"HOME=" + t.TempDir(),
		"XDG_STATE_HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"DOCSTOKG_OPENALEX_BASE_URL=" + lw.s.OpenAlexURL(),
		"DOCSTOKG_OPENALEX_PER_PAGE=20",
		"DOCSTOKG_UNPAYWALL_BASE_URL=" + dead,
		"DOCSTOKG_CROSSREF_BASE_URL=" + dead,
		"DOCSTOKG_ARXIV_BASE_URL=" + dead,
		"DOCSTOKG_EUROPE_PMC_BASE_URL=" + dead,
		"DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL=" + dead,
		"DOCSTOKG_RESOLVERS_ORDER=openalex",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS=1000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST=100",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_CONCURRENCY=8",
		"DOCSTOKG_RETRY_BASE_DELAY=10ms",
	}
	return env
}

// child is a contentdl process: the test binary re-executed as Main.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait returns the exit code, or -1 with the signal's name when a signal ended it.
func (c *child) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("contentdl did not end within %s\nstderr:\n%s", timeout, c.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

// savedWorks reads the manifest (which may end in a torn line) and returns the works
// recorded as saved.
func savedWorks(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := manifest.Read(f, nil, func(r *manifest.Record) error {
		if r.RecordType == manifest.TypeManifest && (r.Classification == manifest.ClassPDF || r.Classification == manifest.ClassSkipped) {
			out[r.WorkID] = true
		}
		return nil
	}); err != nil {
		t.Fatalf("manifest reader failed on a killed run's manifest: %v", err)
	}
	return out
}

func TestCrashAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts contentdl processes")
	}
	// About 1.5 s for a whole run at 8 workers; each kill lands 60-360 ms in.
	const works = 300
	lw := newLiveWorld(t, works, 40*time.Millisecond, 0)
	out := filepath.Join(t.TempDir(), "out")
	manPath := filepath.Join(out, "manifest.jsonl")
	env := lw.env(t)
	args := []string{"run", "--topic", liveTopic, "--out", out, "--workers", "8", "--quiet"}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill-point seed %d", seed)

	// recordedAt[work] = the publisher's request count for it when a run was first
	// seen to have recorded it complete (the process was dead then, so nothing was in
	// flight).
	recordedAt := map[string]int{}
	kills := 0
	torn := false
	for i := 0; kills < 6 && i < 20; i++ {
		c := startChild(t, env, args...)
		time.Sleep(time.Duration(60+rng.IntN(300)) * time.Millisecond)
		select {
		case <-c.done: // finished before the kill point: try again with what is left
			t.Logf("run %d ended before its kill point (exit %d)", i, c.wait(t, time.Second))
		default:
			c.cmd.Process.Signal(syscall.SIGKILL)
			if code := c.wait(t, 5*time.Second); code != -1 {
				t.Logf("run %d: exit %d at SIGKILL", i, code)
			}
			kills++
		}
		hits := lw.hitsCopy()
		saved := savedWorks(t, manPath)
		for id := range saved {
			if _, ok := recordedAt[id]; !ok {
				recordedAt[id] = hits["/pdf/"+id]
			}
		}
		tmp, _ := os.ReadDir(filepath.Join(out, ".tmp"))
		t.Logf("after run %d: %d works recorded saved, %d temp files left", i, len(saved), len(tmp))
		if kills >= 2 && !torn {
			// A crash can also tear the manifest's last line (a power cut mid-write).
			// On a loaded machine an early kill may land before the manifest exists:
			// tear it after the first kill that left one.
			f, err := os.OpenFile(manPath, os.O_APPEND|os.O_WRONLY, 0)
			if err == nil {
				f.WriteString(`{"record_type":"manifest","schema_version":1,"work_id":"W1`)
				f.Close()
				torn = true
			}
		}
		switch kills {
		case 3:
			// And it leaves temp files behind; the next run must remove them.
			os.MkdirAll(filepath.Join(out, ".tmp"), 0o755)
			os.WriteFile(filepath.Join(out, ".tmp", "dl-leftover.part"), []byte("%PDF-1.4 half"), 0o644)
		}
		if len(saved) == works {
			break
		}
	}
	if kills < 5 {
		t.Fatalf("only %d runs were killed mid-run; the world is too fast for the kill points", kills)
	}

	// The last run completes.
	c := startChild(t, env, append(args, "--json")...)
	if code := c.wait(t, 60*time.Second); code != ExitOK {
		t.Fatalf("final run: exit %d\nstderr:\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "skipping unreadable manifest line") && torn {
		t.Errorf("the torn manifest line was not reported:\n%s", c.stderr.String())
	}
	recs := readManifest(t, manPath)
	invalid := checkOutput(t, out, recs)
	if len(invalid) > 0 {
		t.Errorf("invalid files: %v", invalid)
	}
	latest := latestByWork(recs, "")
	hits := lw.hitsCopy()
	if len(lw.ids) != works {
		t.Fatalf("the simulator made %d works, want %d", len(lw.ids), works)
	}
	for _, id := range lw.ids {
		r, ok := latest[id]
		if !ok || (r.Classification != manifest.ClassPDF && r.Classification != manifest.ClassSkipped) {
			t.Errorf("%s: ended %q (%s), want saved", id, r.Classification, r.Reason)
			continue
		}
		if _, err := os.Stat(filepath.Join(out, r.Path)); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if at, ok := recordedAt[id]; ok && hits["/pdf/"+id] != at {
			t.Errorf("%s: downloaded again after it was recorded complete (%d requests then, %d now)", id, at, hits["/pdf/"+id])
		}
	}
	if _, err := os.Stat(filepath.Join(out, ".tmp", "dl-leftover.part")); err == nil {
		t.Error("the leftover temp file of a killed run is still there")
	}
	total := 0
	for _, n := range hits {
		total += n
	}
	t.Logf("%d kills; %d works recorded saved before the last run; %d publisher requests for %d works", kills, len(recordedAt), total, works)
}

func TestInterruptExits130AndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts contentdl processes")
	}
	// The first works arrive; from the publisher's 9th request on every body hangs
	// half-way, so requests are in flight with partial temp files when SIGINT comes.
	lw := newLiveWorld(t, 60, 5*time.Millisecond, 8)
	out := filepath.Join(t.TempDir(), "out")
	learnPath := filepath.Join(t.TempDir(), "learning.json")
	env := lw.env(t)
	c := startChild(t, env, "run", "--topic", liveTopic, "--out", out, "--workers", "4",
		"--enable-provider-learning", "--provider-learning-path", learnPath)
	deadline := time.Now().Add(10 * time.Second)
	for len(savedWorks(t, filepath.Join(out, "manifest.jsonl"))) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no works saved within 10s\n%s", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if tmp, _ := os.ReadDir(filepath.Join(out, ".tmp")); len(tmp) == 0 {
		t.Log("no partial temp file in flight at SIGINT (timing); the cleanup check is weaker this time")
	}
	sent := time.Now()
	c.cmd.Process.Signal(syscall.SIGINT)
	code := c.wait(t, 10*time.Second)
	took := time.Since(sent)
	if code != ExitInterrupted {
		t.Errorf("exit %d after SIGINT, want %d\nstderr:\n%s", code, ExitInterrupted, c.stderr.String())
	}
	if took > 5*time.Second {
		t.Errorf("took %s to stop after SIGINT, want < 5s", took)
	}
	var sum struct {
		Interrupted bool `json:"interrupted"`
		Works       int  `json:"works"`
	}
	data, err := os.ReadFile(filepath.Join(out, "manifest.summary.json"))
	if err != nil || json.Unmarshal(data, &sum) != nil || !sum.Interrupted {
		t.Errorf("manifest.summary.json missing or not marked interrupted: %v %s", err, data)
	}
	invalid := checkOutput(t, out, readManifest(t, filepath.Join(out, "manifest.jsonl")))
	if len(invalid) > 0 {
		t.Errorf("invalid files kept: %v", invalid)
	}
	var learned map[string]any
	if data, err := os.ReadFile(learnPath); err != nil || json.Unmarshal(data, &learned) != nil || learned["schema_version"] == nil {
		t.Errorf("learning state not written on SIGINT: %v %s", err, data)
	}
	t.Logf("stopped %s after SIGINT; %d works recorded", took.Round(time.Millisecond), sum.Works)
}
