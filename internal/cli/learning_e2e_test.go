package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/sim"
)

// limitedWorld is a simulated scholarly web (internal/sim) of n works whose PDFs
// live on one host with a hidden capacity of capRPS (burst 1, Retry-After 1 s), far
// below what the client is configured to send. Time is the fake clock's, for the
// client and the simulator alike.
type limitedWorld struct {
	*world // the fake clock runMain uses
	s      *sim.Sim
	pubURL string
}

func newLimitedWorld(t *testing.T, n int, capRPS float64) *limitedWorld {
	t.Helper()
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	s, err := sim.Start(sim.Scenario{Name: "limited", Seed: 4, Topic: "Limited", PDFSize: 2048,
		Works: sim.WorksSpec{Count: n, Mix: sim.Mix{DirectPDF: 1}},
		Hosts: []sim.HostSpec{{Name: "pub", ServiceSpec: sim.ServiceSpec{Capacity: sim.Capacity{RPS: capRPS, Burst: 1},
			RetryAfterSeconds: 1}}}}, sim.Options{Clock: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &limitedWorld{world: w, s: s, pubURL: s.HostURLByName("pub")}
}

// env is a hermetic environment pointing OpenAlex and Unpaywall at the simulator.
func (lw *limitedWorld) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, lw.s.OpenAlexURL(), lw.s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE": "3",
		"DOCSTOKG_RETRY_BASE_DELAY":  "100ms",
	}, extra)
}

// counts is the publisher's 429s and PDFs served so far.
func (lw *limitedWorld) counts() (int, int) {
	h, _ := lw.s.Stats().Host("pub")
	return int(h.ByStatus["429"]), int(h.ByStatus["200"])
}

func TestProviderLearningEndToEnd(t *testing.T) {
	lw := newLimitedWorld(t, 60, 3)
	state := filepath.Join(t.TempDir(), "state", "learning.json")
	host := strings.TrimPrefix(lw.pubURL, "http://")
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("rate_limits:\n  hosts:\n    - host: %s\n      rps: 10\n      burst: 1\n      concurrency: 1\n", host)), 0o644)
	getenv := lw.env(t, map[string]string{
		"DOCSTOKG_ENABLE_PROVIDER_LEARNING": "1",
		"DOCSTOKG_PROVIDER_LEARNING_PATH":   state,
		"DOCSTOKG_RESOLVERS_ORDER":          "openalex",
	})
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, lw.world, getenv, "run", "--config", cfgFile, "--topic", "limited", "--out", out, "--workers", "1", "--json")
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	first429, _ := lw.counts()
	var sum struct {
		ProviderLearning bool `json:"provider_learning"`
		Hosts            []struct {
			Host          string  `json:"host"`
			ConfiguredRPS float64 `json:"configured_rps"`
			EffectiveRPS  float64 `json:"effective_rps"`
			Count429      int     `json:"429s"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if !sum.ProviderLearning {
		t.Error("summary says provider_learning false")
	}
	found := false
	for _, h := range sum.Hosts {
		if h.Host == host {
			found = true
			if h.ConfiguredRPS != 10 || h.EffectiveRPS >= 10 || h.Count429 == 0 {
				t.Errorf("host %s: configured %.2f effective %.2f 429s %d; want a learned reduction", host, h.ConfiguredRPS, h.EffectiveRPS, h.Count429)
			}
		}
	}
	if !found {
		t.Fatalf("host %s missing from summary", host)
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("learning file not saved: %v", err)
	}
	var file struct {
		SchemaVersion int `json:"schema_version"`
		Providers     map[string]struct {
			AppliedReductionPct float64 `json:"applied_reduction_pct"`
			EffectiveRPS        float64 `json:"effective_rps"`
			Total429s           int     `json:"total_429s"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	entry, ok := file.Providers["web@"+host]
	if !ok || entry.AppliedReductionPct <= 0 || entry.EffectiveRPS >= 10 {
		t.Fatalf("learning file entry %+v (ok=%v), want a reduction for web@%s", entry, ok, host)
	}

	// The status command shows it, as a table and as JSON.
	st := runMain(t, lw.world, getenv, "provider-learning-status")
	if st.code != 0 || !strings.Contains(st.stdout, "web@"+host) {
		t.Errorf("status exit %d:\n%s%s", st.code, st.stdout, st.stderr)
	}
	js := runMain(t, lw.world, getenv, "provider-learning-status", "--json", "--provider", host)
	var doc struct {
		Providers []struct {
			Key                 string  `json:"key"`
			AppliedReductionPct float64 `json:"applied_reduction_pct"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil || len(doc.Providers) != 1 || doc.Providers[0].Key != "web@"+host {
		t.Errorf("status --json: %v %+v\n%s", err, doc, js.stdout)
	}

	// A second run starts at the learned rate: far fewer 429s than the first.
	res2 := runMain(t, lw.world, getenv, "run", "--config", cfgFile, "--topic", "limited", "--out", out, "--no-resume", "--workers", "1", "--json")
	if res2.code != ExitOK {
		t.Fatalf("second run exit %d\n%s", res2.code, res2.stderr)
	}
	total429, _ := lw.counts()
	second429 := total429 - first429
	t.Logf("429s: first run %d, second run %d", first429, second429)

	if second429*2 > first429 {
		t.Errorf("second run got %d 429s, first %d: the learned rate was not applied", second429, first429)
	}

	// Learning off: no file is read or written.
	off := filepath.Join(t.TempDir(), "never.json")
	getenvOff := lw.env(t, map[string]string{"DOCSTOKG_PROVIDER_LEARNING_PATH": off, "DOCSTOKG_RESOLVERS_ORDER": "openalex"})
	if r := runMain(t, lw.world, getenvOff, "run", "--topic", "limited", "--out", filepath.Join(t.TempDir(), "o2"), "--quiet"); r.code != ExitOK && r.code != ExitIncomplete {
		t.Fatalf("learning-off run exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(off); !os.IsNotExist(err) {
		t.Errorf("learning off, yet %s exists (%v)", off, err)
	}
}

func TestProviderLearningStatusEmptyAndReset(t *testing.T) {
	w := newWorld(t)
	state := filepath.Join(t.TempDir(), "l.json")
	getenv := w.env(t, map[string]string{"DOCSTOKG_PROVIDER_LEARNING_PATH": state})
	r := runMain(t, w, getenv, "provider-learning-status", "--json")
	if r.code != 0 {
		t.Fatalf("missing file: exit %d %s", r.code, r.stderr)
	}
	var doc struct {
		Providers []any `json:"providers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Providers) != 0 {
		t.Errorf("missing file: %v %s", err, r.stdout)
	}
	os.WriteFile(state, []byte("{not json"), 0o644)
	if r := runMain(t, w, getenv, "provider-learning-status"); r.code != ExitError || !strings.Contains(r.stderr, state) {
		t.Errorf("unreadable file: exit %d, stderr %q", r.code, r.stderr)
	}
	os.WriteFile(state, []byte(`{"schema_version":1,"updated_at":"2026-05-01T12:00:00Z","providers":{"web@a.example":{"provider":"web","host":"a.example","configured_rps":5,"effective_rps":4,"applied_reduction_pct":20,"status":"reducing","updated_at":"2026-05-01T12:00:00Z"},"web@b.example":{"provider":"web","host":"b.example","configured_rps":5,"effective_rps":5,"status":"normal","updated_at":"2026-05-01T12:00:00Z"}}}`), 0o644)
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset=web@a.example"); r.code != 0 || !strings.Contains(r.stdout, "forgot 1 entry") {
		t.Errorf("reset one: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Forgetting all asks first; without a yes nothing is forgotten.
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset"); r.code != ExitError {
		t.Errorf("reset all without confirmation: exit %d", r.code)
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--json"); !strings.Contains(r.stdout, "b.example") {
		t.Errorf("entry lost without confirmation: %s", r.stdout)
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset", "--yes"); r.code != 0 {
		t.Errorf("reset all --yes: exit %d %s", r.code, r.stderr)
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--json"); strings.Contains(r.stdout, "b.example") {
		t.Errorf("entries left after reset --yes: %s", r.stdout)
	}
}

func TestProviderLearningStatusShowsRelaxedRates(t *testing.T) {
	w := newWorld(t) // fake clock at 2026-05-01T12:00Z
	state := filepath.Join(t.TempDir(), "l.json")
	getenv := w.env(t, map[string]string{"DOCSTOKG_PROVIDER_LEARNING_PATH": state})
	// Learned 40 % three and a half days ago; forget_after is 7 days: half relaxed.
	os.WriteFile(state, []byte(`{"schema_version":1,"updated_at":"2026-04-28T00:00:00Z","providers":{"web@a.example":{"provider":"web","host":"a.example","configured_rps":10,"effective_rps":6,"applied_reduction_pct":40,"status":"reducing","updated_at":"2026-04-28T00:00:00Z"}}}`), 0o644)
	r := runMain(t, w, getenv, "provider-learning-status", "--json")
	var doc struct {
		Providers []struct {
			AppliedReductionPct float64 `json:"applied_reduction_pct"`
			EffectiveRPS        float64 `json:"effective_rps"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Providers) != 1 {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if p := doc.Providers[0]; p.AppliedReductionPct != 20 || p.EffectiveRPS != 8 {
		t.Errorf("shown reduction %.2f%% at %.2f rps; want 20%% at 8 rps (half of 40%% relaxed)", p.AppliedReductionPct, p.EffectiveRPS)
	}
}
