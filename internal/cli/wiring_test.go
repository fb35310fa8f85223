package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/testkit"
)

func wiringFor(t *testing.T, env map[string]string, o *RunOptions) (*runWiring, *testkit.Buffer) {
	t.Helper()
	env["DOCSTOKG_OUT"] = filepath.Join(t.TempDir(), "out")
	env["XDG_STATE_HOME"] = t.TempDir()
	cfg, err := config.Load(config.LoadOptions{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	o.Config = cfg
	var stderr testkit.Buffer
	st := &State{Stdin: strings.NewReader(""), Stdout: &strings.Builder{}, Stderr: &stderr,
		Clock: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	st.fillDefaults()
	w, err := newRunWiring(t.Context(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	return w, &stderr
}

// The composition root builds each part once, on first use, from the config: the
// policy the gate names, a tracker only with learning on, one fetch client shared by
// OpenAlex and the resolvers, and the resolver chain in the configured order.
func TestRunWiringBuildsEachPartOnceFromConfig(t *testing.T) {
	w, _ := wiringFor(t, map[string]string{"DOCSTOKG_RESOLVERS_ORDER": "openalex,crossref,arxiv"}, &RunOptions{Topic: "kg"})
	if got := w.Policy().Name(); got != "legacy" {
		t.Errorf("policy %q with the gate off", got)
	}
	if w.Tracker() != nil {
		t.Error("a tracker with provider learning off")
	}
	if fc1, fc2 := w.Fetch(), w.Fetch(); fc1 != fc2 {
		t.Error("Fetch built two clients")
	}
	if w.OpenAlex().Doer != w.Fetch() {
		t.Error("OpenAlex does not talk through the run's fetch client")
	}
	rs, err := w.Resolvers()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name())
	}
	if strings.Join(names, ",") != "openalex,crossref,arxiv" {
		t.Errorf("resolvers %v", names)
	}
	r1, err1 := w.Runner()
	r2, err2 := w.Runner()
	if err1 != nil || err2 != nil || r1 == nil || r1 != r2 {
		t.Errorf("Runner: %p %v, %p %v", r1, err1, r2, err2)
	}

	w, _ = wiringFor(t, map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "true", "DOCSTOKG_ENABLE_PROVIDER_LEARNING": "true"},
		&RunOptions{Topic: "kg"})
	if got := w.Policy().Name(); got != "contextual" {
		t.Errorf("policy %q with the gate on", got)
	}
	if t1, t2 := w.Tracker(), w.Tracker(); t1 == nil || t1 != t2 {
		t.Error("learning on: want one tracker")
	}
}

// A constructor can be swapped before first use, and the parts built on it see the
// swap; a missing --input file is a usage error from the Runner's constructor.
func TestRunWiringPartsCanBeSwapped(t *testing.T) {
	w, _ := wiringFor(t, map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "true"},
		&RunOptions{Input: filepath.Join(t.TempDir(), "missing.txt")})
	w.Policy = once(func() policy.Policy { return policy.NewLegacy(policy.DefaultConfig()) })
	if got := w.Fetch().PolicyName(); got != "legacy" {
		t.Errorf("fetch client runs policy %q, want the swapped-in legacy one", got)
	}
	if _, err := w.Runner(); err == nil || exitCode(t.Context(), err) != ExitUsage || !strings.Contains(err.Error(), "--input") {
		t.Errorf("Runner with a missing input: %v", err)
	}
}
