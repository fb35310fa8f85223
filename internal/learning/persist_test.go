package learning

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

func TestLoadMissingFileIsEmpty(t *testing.T) {
	f, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || f.SchemaVersion != SchemaVersion || f.Providers == nil || len(f.Providers) != 0 {
		t.Fatalf("Load(missing) = %+v, %v", f, err)
	}
}

// TestPersistenceRoundTrip: what one run learns is in the file, in the documented
// shape, and the next run applies it to the limiter before its first request.
func TestPersistenceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "learning.json") // the directory is created
	clk := clock.NewFake(t0)
	tr := NewTracker(noWindow(), clk, nil)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	tr.Register("web", testHost, 10, 4, &recLimiter{})
	tr.Register("crossref", "api.crossref.org", 20, 1, &recLimiter{})
	for i := 0; i < 5; i++ {
		tr.Observe(Observation{Host: testHost, Status: 200})
	}
	for i := 0; i < 10; i++ {
		tr.Observe(Observation{Host: testHost, Status: 429, Header: retryAfter(2)})
	}
	tr.Observe(Observation{Host: "api.crossref.org", Status: 200, Header: hdr("X-Rate-Limit-Limit", "5", "X-Rate-Limit-Interval", "1s")})
	if err := tr.Save(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema_version"] != float64(1) || doc["updated_at"] == nil {
		t.Fatalf("header fields: %v", doc)
	}
	entry := doc["providers"].(map[string]any)["web@pub.example"].(map[string]any)
	for _, k := range []string{"provider", "host", "consecutive_429s", "total_429s", "total_requests", "recovery_times",
		"applied_reduction_pct", "configured_rps", "effective_rps", "last_429_at", "updated_at", "status"} {
		if _, ok := entry[k]; !ok {
			t.Errorf("entry lacks %q: %v", k, entry)
		}
	}
	if entry["applied_reduction_pct"] != float64(30) || entry["effective_rps"] != float64(7) || entry["status"] != "reducing" {
		t.Fatalf("entry %v", entry)
	}

	clk.Advance(10 * time.Minute)
	tr2 := NewTracker(noWindow(), clk, nil)
	if err := tr2.Open(path); err != nil {
		t.Fatal(err)
	}
	lim := &recLimiter{}
	tr2.Register("web", testHost, 10, 4, lim)
	// 30 % relaxed by ten minutes out of seven days: 29.97 %.
	if l, b := lim.last(); !approx(l, 10*(1-0.3*(1-10.0/(7*24*60)))) || b != 1 {
		t.Fatalf("Register applied %v rps burst %d, want the learned ~7 rps burst 1 (4 × 0.7 × 0.5, rounded)", l, b)
	}
	b, _ := tr2.Behavior(testHost)
	if b.TotalRequests != 15 || b.Total429s != 10 || len(b.RecoveryTimes) != 10 || b.Last429At == nil || !b.Last429At.Equal(t0) {
		t.Fatalf("reloaded: %+v", b)
	}
	cr := &recLimiter{}
	tr2.Register("crossref", "api.crossref.org", 20, 1, cr)
	if l, _ := cr.last(); l != 5 {
		t.Fatalf("the advertised ceiling was not reloaded: %v", l)
	}
	if got := tr2.Snapshot(); len(got) != 2 {
		t.Fatalf("snapshot %v", got)
	}
}

// TestForgetAfter: persisted reductions relax linearly with the time that passed.
func TestForgetAfter(t *testing.T) {
	for _, tc := range []struct {
		age         time.Duration
		wantPct     float64
		wantStatus  Status
		wantQuotaOK bool
	}{
		{time.Minute, 60 * (1 - 1.0/(7*24*60)), StatusRecovering, true},
		{84 * time.Hour, 30, StatusRecovering, false},
		{8 * 24 * time.Hour, 0, StatusNormal, false},
	} {
		path := filepath.Join(t.TempDir(), "learning.json")
		quotaUntil := t0.Add(2 * time.Hour)
		file := &File{SchemaVersion: 1, UpdatedAt: t0, Providers: map[string]ProviderBehavior{
			"web@pub.example": {Provider: "web", Host: "pub.example", AppliedReductionPct: 60, ConfiguredRPS: 10,
				EffectiveRPS: 4, LastGoodRPS: 5, UpdatedAt: t0, Status: StatusRecovering, QuotaResetAt: &quotaUntil},
		}}
		if err := writeFileAtomic(path, file); err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(t0.Add(tc.age))
		tr := NewTracker(DefaultConfig(), clk, nil)
		if err := tr.Open(path); err != nil {
			t.Fatal(err)
		}
		tr.Register("web", "pub.example", 10, 1, &recLimiter{})
		b, _ := tr.Behavior("pub.example")
		if !approx(b.AppliedReductionPct, tc.wantPct) {
			t.Errorf("after %v: %v%%, want %v%%", tc.age, b.AppliedReductionPct, tc.wantPct)
		}
		if _, ok := tr.QuotaExhausted("pub.example"); ok != tc.wantQuotaOK {
			t.Errorf("after %v: quota %v, want %v", tc.age, ok, tc.wantQuotaOK)
		}
		if !tc.wantQuotaOK && b.Status != tc.wantStatus {
			t.Errorf("after %v: status %s, want %s", tc.age, b.Status, tc.wantStatus)
		}
	}
}

func TestRelaxedLastGoodRate(t *testing.T) {
	b := ProviderBehavior{AppliedReductionPct: 60, ConfiguredRPS: 10, LastGoodRPS: 5, UpdatedAt: t0, Status: StatusReducing}
	r := Relaxed(b, DefaultConfig(), t0.Add(84*time.Hour))
	if !approx(r.AppliedReductionPct, 30) || !approx(r.LastGoodRPS, 7.5) || !approx(r.EffectiveRPS, 7) {
		t.Fatalf("half-way: %+v", r)
	}
	if r := Relaxed(b, DefaultConfig(), t0.Add(-time.Hour)); r.AppliedReductionPct != 60 {
		t.Fatalf("an update time in the future must not relax: %+v", r)
	}
}

// TestNewConfiguredRateKeepsTheLearnedRate: a reduction learned against 25 rps that
// allowed 10 rps still allows 10 rps when the user now configures 20 (50 %), and
// nothing when the new configured rate is below what was learned.
func TestNewConfiguredRateKeepsTheLearnedRate(t *testing.T) {
	// At 100 configured, keeping 10 rps would need 90 %: the 80 % cap gives 20 rps.
	for _, tc := range []struct{ configured, wantEff, wantPct float64 }{{20, 10, 50}, {8, 8, 0}, {25, 10, 60}, {100, 20, 80}} {
		path := filepath.Join(t.TempDir(), "learning.json")
		file := &File{SchemaVersion: 1, UpdatedAt: t0, Providers: map[string]ProviderBehavior{
			"web@pub.example": {AppliedReductionPct: 60, ConfiguredRPS: 25, EffectiveRPS: 10, UpdatedAt: t0, Status: StatusRecovering},
		}}
		if err := writeFileAtomic(path, file); err != nil {
			t.Fatal(err)
		}
		tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
		if err := tr.Open(path); err != nil {
			t.Fatal(err)
		}
		tr.Register("web", "pub.example", tc.configured, 1, &recLimiter{})
		b, _ := tr.Behavior("pub.example")
		if !approx(b.EffectiveRPS, tc.wantEff) || !approx(b.AppliedReductionPct, tc.wantPct) {
			t.Errorf("configured %v: %v rps at %v%%, want %v at %v%%", tc.configured, b.EffectiveRPS, b.AppliedReductionPct, tc.wantEff, tc.wantPct)
		}
	}
}

func TestCorruptFileIsMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"invalid json":    `{"schema_version": 1, "providers": {`,
		"wrong version":   `{"schema_version": 2, "updated_at": "2026-01-01T00:00:00Z", "providers": {}}`,
		"missing version": `{"providers": {}}`,
		"empty":           ``,
		"not an object":   `[1,2,3]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "learning.json")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %v, want ErrCorrupt", err)
			}
			logs := &testkit.Buffer{}
			tr := NewTracker(DefaultConfig(), clock.NewFake(t0), newLogger(logs))
			if err := tr.Open(path); err != nil {
				t.Fatalf("Open of a corrupt file must not fail: %v", err)
			}
			aside := path + ".corrupt-20260301T120000Z"
			if got, err := os.ReadFile(aside); err != nil || string(got) != content {
				t.Fatalf("moved-aside file: %q, %v", got, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the corrupt file is still in place: %v", err)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "moved_to="+aside) {
				t.Fatalf("no warning: %s", logs)
			}
			tr.Register("web", testHost, 10, 1, nil)
			tr.Observe(Observation{Host: testHost, Status: 200})
			if err := tr.Save(); err != nil {
				t.Fatal(err)
			}
			if f, err := Load(path); err != nil || f.Providers["web@pub.example"].TotalRequests != 1 {
				t.Fatalf("fresh file: %+v, %v", f, err)
			}
		})
	}
}

// TestSaveMovesAsideAFileCorruptedMeanwhile: Save never merges into garbage.
func TestSaveMovesAsideAFileCorruptedMeanwhile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	tr.Observe(Observation{Host: testHost, Status: 200})
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tr.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".corrupt-20260301T120000Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

// TestSaveToUnwritablePlace: a clear error, and the learning stays in memory.
func TestSaveToUnwritablePlace(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"under a regular file": filepath.Join(plain, "learning.json")}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if probe := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o644); probe == nil {
		t.Log("the read-only directory is writable here (running as root?): testing the regular-file case only")
	} else {
		paths["read-only directory"] = filepath.Join(ro, "learning.json")
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			tr := NewTracker(noWindow(), clock.NewFake(t0), nil)
			if err := tr.Open(path); err == nil && name == "under a regular file" {
				t.Fatal("Open under a regular file: want an error to warn about")
			}
			tr.Register("web", testHost, 10, 1, nil)
			for i := 0; i < 10; i++ {
				tr.Observe(Observation{Host: testHost, Status: 429})
			}
			err := tr.Save()
			if err == nil || !strings.Contains(err.Error(), filepath.Dir(path)) {
				t.Fatalf("Save = %v, want an error naming the directory", err)
			}
			if b, _ := tr.Behavior(testHost); b.AppliedReductionPct != 30 {
				t.Fatalf("the learning was lost: %+v", b)
			}
		})
	}
}

func TestSaveWithoutOpen(t *testing.T) {
	tr := NewTracker(DefaultConfig(), nil, nil)
	if err := tr.Save(); !errors.Is(err, ErrNoPath) {
		t.Fatalf("Save = %v", err)
	}
}

func TestSaveIfDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	clk := clock.NewFake(t0)
	tr := NewTracker(DefaultConfig(), clk, nil)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	if err := tr.SaveIfDue(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("saved with nothing changed")
	}
	requests := func() int64 {
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return f.Providers["web@pub.example"].TotalRequests
	}
	tr.Observe(Observation{Host: testHost, Status: 200})
	if err := tr.SaveIfDue(); err != nil || requests() != 1 {
		t.Fatalf("first change not saved: %v", err)
	}
	tr.Observe(Observation{Host: testHost, Status: 200})
	clk.Advance(4 * time.Second)
	if err := tr.SaveIfDue(); err != nil || requests() != 1 {
		t.Fatalf("saved again within save_every: %v", err)
	}
	clk.Advance(time.Second)
	if err := tr.SaveIfDue(); err != nil || requests() != 2 {
		t.Fatalf("not saved after save_every: %v", err)
	}
}

func totals(t *testing.T, path string) map[string]ProviderBehavior {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Providers
}

// TestTwoTrackersInTurn: two runs sharing the file, saving one after the other, keep
// each other's counts.
func TestTwoTrackersInTurn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	clk := clock.NewFake(t0)
	a := NewTracker(DefaultConfig(), clk, nil)
	b := NewTracker(DefaultConfig(), clk, nil)
	for _, tr := range []*Tracker{a, b} {
		if err := tr.Open(path); err != nil {
			t.Fatal(err)
		}
	}
	obs := func(tr *Tracker, host string, n, n429 int) {
		for i := 0; i < n; i++ {
			st := 200
			if i < n429 {
				st = 429
			}
			tr.Observe(Observation{Host: host, Status: st, Header: retryAfter(1)})
			tr.Observe(Observation{Host: host, Status: 200})
		}
	}
	obs(a, "shared.example", 10, 2)
	obs(a, "a.example", 5, 0)
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	obs(b, "shared.example", 7, 3)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	obs(a, "shared.example", 3, 1)
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(); err != nil { // nothing new from b: nothing double-counted
		t.Fatal(err)
	}
	got := totals(t, path)
	s := got["web@shared.example"]
	if s.TotalRequests != 2*(10+7+3) || s.Total429s != 2+3+1 || len(s.RecoveryTimes) != 6 {
		t.Fatalf("shared: %d requests / %d 429s / %d recovery times, want 40 / 6 / 6", s.TotalRequests, s.Total429s, len(s.RecoveryTimes))
	}
	if got["web@a.example"].TotalRequests != 10 {
		t.Fatalf("a's own host: %+v", got["web@a.example"])
	}
	// The in-memory totals follow the file after a save.
	if bb, _ := b.Behavior("shared.example"); bb.TotalRequests != 40 {
		t.Fatalf("b's view after its last save: %d, want 40 (the file's total)", bb.TotalRequests)
	}
}

// TestTwoTrackersConcurrently: goroutines of two trackers observing and saving at once
// lose nothing. The trackers stand for two processes contending for the file lock, so
// they run on the real clock: a tracker's clock also paces its wait for the lock, and
// a fake clock's instant sleeps would time that wait out while the other one writes.
func TestTwoTrackersConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	const perWorker = 300
	trackers := []*Tracker{NewTracker(DefaultConfig(), clock.Real{}, nil), NewTracker(DefaultConfig(), clock.Real{}, nil)}
	for _, tr := range trackers {
		if err := tr.Open(path); err != nil {
			t.Fatal(err)
		}
		tr.Register("web", "shared.example", 10, 1, &recLimiter{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for ti, tr := range trackers {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWorker; i++ {
					st := 200
					if i%10 == 0 {
						st = 429
					}
					tr.Observe(Observation{Host: "shared.example", Status: st})
					tr.Observe(Observation{Host: fmt.Sprintf("own%d.example", ti), Status: 200})
					if i%25 == 0 {
						if err := tr.Save(); err != nil {
							errs <- err
							return
						}
						_ = tr.Snapshot()
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, tr := range trackers {
		if err := tr.Save(); err != nil {
			t.Fatal(err)
		}
	}
	got := totals(t, path)
	if s := got["web@shared.example"]; s.TotalRequests != 2*3*perWorker || s.Total429s != 2*3*perWorker/10 {
		t.Fatalf("shared: %d requests / %d 429s, want %d / %d", s.TotalRequests, s.Total429s, 2*3*perWorker, 2*3*perWorker/10)
	}
	for i := 0; i < 2; i++ {
		if n := got[fmt.Sprintf("web@own%d.example", i)].TotalRequests; n != 3*perWorker {
			t.Fatalf("own%d: %d requests, want %d", i, n, 3*perWorker)
		}
	}
}

// helperEnv names the environment that turns the test binary into one of the
// processes of TestTwoProcessesShareTheFile.
const helperEnv = "LEARNING_TEST_HELPER"

// TestTwoProcessesShareTheFile runs two real processes (this test binary, re-executed)
// that observe and save to the same file at the same time; the file ends with both
// processes' counts.
func TestTwoProcessesShareTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "learning.json")
	const n = 400
	var cmds []*exec.Cmd
	for id := 0; id < 2; id++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+path+"|"+strconv.Itoa(id)+"|"+strconv.Itoa(n))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("process %d output:\n%s", id, out)
			}
		})
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	got := totals(t, path)
	if s := got["web@shared.example"]; s.TotalRequests != 2*n || s.Total429s != 2*n/8 {
		t.Fatalf("shared: %d requests / %d 429s, want %d / %d", s.TotalRequests, s.Total429s, 2*n, 2*n/8)
	}
	for id := 0; id < 2; id++ {
		if s := got[fmt.Sprintf("web@proc%d.example", id)]; s.TotalRequests != n {
			t.Fatalf("proc%d: %d requests, want %d", id, s.TotalRequests, n)
		}
	}
}

// TestHelperProcess is one process of TestTwoProcessesShareTheFile; it does nothing in
// a normal run.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestTwoProcessesShareTheFile")
	}
	parts := strings.Split(spec, "|")
	path, id := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	tr := NewTracker(DefaultConfig(), clock.Real{}, nil)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	tr.Register("web", "shared.example", 10, 1, nil)
	for i := 0; i < n; i++ {
		st := 200
		if i%8 == 0 {
			st = 429
		}
		tr.Observe(Observation{Host: "shared.example", Status: st})
		tr.Observe(Observation{Host: "proc" + id + ".example", Status: 200})
		if i%20 == 0 {
			if err := tr.Save(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.Save(); err != nil {
		t.Fatal(err)
	}
}

func TestReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	clk := clock.NewFake(t0.Add(time.Hour)) // Reset stamps the file with its clock's time
	if n, err := Reset(path, "", clk); n != 0 || err != nil {
		t.Fatalf("Reset of a missing file = %d, %v", n, err)
	}
	tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a.example", "b.example", "c.example"} {
		tr.Observe(Observation{Host: h, Status: 200})
	}
	if err := tr.Save(); err != nil {
		t.Fatal(err)
	}
	if n, err := Reset(path, "web@b.example", clk); n != 1 || err != nil {
		t.Fatalf("Reset(one) = %d, %v", n, err)
	}
	if n, err := Reset(path, "web@nope.example", clk); n != 0 || err != nil {
		t.Fatalf("Reset(unknown) = %d, %v", n, err)
	}
	if got := totals(t, path); len(got) != 2 || got["web@b.example"].TotalRequests != 0 {
		t.Fatalf("after Reset(one): %v", got)
	}
	if f, err := Load(path); err != nil || !f.UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("after Reset(one): updated_at %v (%v), want the injected clock's %v", f.UpdatedAt, err, clk.Now())
	}
	if n, err := Reset(path, "", clk); n != 2 || err != nil {
		t.Fatalf("Reset(all) = %d, %v", n, err)
	}
	if got := totals(t, path); len(got) != 0 {
		t.Fatalf("after Reset(all): %v", got)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Reset(path, "", clk); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reset of a corrupt file = %v, want ErrCorrupt (and the file left alone)", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","providers":{"web@a":{"applied_reduction_pct":60,"configured_rps":10,"recovery_times":[1,2]}}}`))
	f.Add([]byte(`{"schema_version":1,"providers":{"@":{},"x":{"applied_reduction_pct":-5,"total_requests":-1,"recovery_times":[-1,1e308]},"a@b":{"applied_reduction_pct":1e300,"last_good_rps":-3,"status":"weird"}}}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "learning.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := Load(path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load error that is not ErrCorrupt: %v", err)
			}
			return
		}
		if file.SchemaVersion != SchemaVersion || file.Providers == nil {
			t.Fatalf("Load accepted %+v", file)
		}
		// Whatever Load accepts, a tracker can open, use and save.
		tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
		if err := tr.Open(path); err != nil {
			t.Fatal(err)
		}
		for key := range file.Providers {
			if _, host, ok := SplitKey(key); ok {
				lim := &recLimiter{}
				tr.Register("web", host, 10, 2, lim)
				tr.Observe(Observation{Host: host, Status: 429})
				if l, b := lim.last(); !(l > 0) || l > 10 || b < 1 {
					t.Fatalf("limiter got %v rps burst %d", l, b)
				}
			}
		}
		for _, b := range tr.Snapshot() {
			if b.AppliedReductionPct < 0 || b.AppliedReductionPct > 80 || len(b.RecoveryTimes) > 50 {
				t.Fatalf("snapshot %+v", b)
			}
		}
		if err := tr.Save(); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err != nil {
			t.Fatalf("re-load of a saved file: %v", err)
		}
	})
}
