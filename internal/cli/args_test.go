package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every usage error exits 2 with one line on stderr and nothing on stdout: stray
// positional arguments, unknown commands and flags, and bad flag values.
func TestEveryUsageErrorExits2(t *testing.T) {
	w := newWorld(t)
	for _, args := range [][]string{
		{"run", "--topic", "x", "stray"},
		{"run", "stray", "--topic", "x"},
		{"version", "extra"},
		{"config", "print", "extra"},
		{"config", "prnt"},
		{"completion", "bash", "extra"},
		{"completion", "tcsh"},
		{"provider-learning-status", "extra"},
		{"provider-learning-status", "--reset", "a", "b"},
		{"bogus"},
		{"help", "bogus"},
		{"help", "config", "prnt"},
		{"--bogus"},
		{"run", "--bogus", "--topic", "x"},
		{"run", "--topic", "x", "--workers", "many"},
		{"run", "--topic", "x", "--json=maybe"},
		{"run", "--topic", "x", "--progress", "sometimes"},
		{"provider-learning-status", "--json=perhaps"},
	} {
		r := runMain(t, w, w.env(t, nil), args...)
		if r.code != ExitUsage || r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one stderr line", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runMain(t, w, w.env(t, nil), "run", "--topic", "x", "stray")
	if !strings.Contains(r.stderr, `"stray"`) || !strings.Contains(r.stderr, "contentdl run") {
		t.Errorf("stray argument not named: %q", r.stderr)
	}
	r = runMain(t, w, w.env(t, nil), "config", "prnt")
	if !strings.Contains(r.stderr, `did you mean "print"`) {
		t.Errorf("no suggestion for a mistyped subcommand: %q", r.stderr)
	}
	if n := w.count("openalex", "/works"); n != 0 {
		t.Errorf("%d requests sent despite usage errors", n)
	}
	if r := runMain(t, w, w.env(t, nil), "help", "rn"); !strings.Contains(r.stderr, `did you mean "run"?`) {
		t.Errorf("help with a mistyped topic: %q", r.stderr)
	}
	for _, args := range [][]string{{"help"}, {"help", "run"}, {"help", "config", "print"}} {
		if r := runMain(t, w, w.env(t, nil), args...); r.code != ExitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%q: exit %d %q", args, r.code, r.stdout)
		}
	}
	// A group with no subcommand named still prints its help and succeeds.
	if r := runMain(t, w, w.env(t, nil), "config"); r.code != ExitOK || !strings.Contains(r.stdout, "print") {
		t.Errorf("config alone: exit %d %q", r.code, r.stdout)
	}
}

// --reset KEY (separate word) and --reset=KEY both forget one entry; --reset alone
// still means every entry, after confirmation.
func TestProviderLearningStatusResetKeyBothSpellings(t *testing.T) {
	w := newWorld(t)
	state := filepath.Join(t.TempDir(), "l.json")
	getenv := w.env(t, map[string]string{"DOCSTOKG_PROVIDER_LEARNING_PATH": state})
	const doc = `{"schema_version":1,"updated_at":"2026-05-01T12:00:00Z","providers":{` +
		`"web@a.example":{"provider":"web","host":"a.example","configured_rps":5,"effective_rps":4,"applied_reduction_pct":20,"status":"reducing","updated_at":"2026-05-01T12:00:00Z"},` +
		`"web@b.example":{"provider":"web","host":"b.example","configured_rps":5,"effective_rps":5,"status":"normal","updated_at":"2026-05-01T12:00:00Z"},` +
		`"web@c.example":{"provider":"web","host":"c.example","configured_rps":5,"effective_rps":5,"status":"normal","updated_at":"2026-05-01T12:00:00Z"}}}`
	if err := os.WriteFile(state, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"provider-learning-status", "--reset", "web@a.example"},
		{"provider-learning-status", "--reset=web@b.example"},
		{"provider-learning-status", "--reset", "web@c.example", "--yes"},
	} {
		r := runMain(t, w, getenv, args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "forgot 1 entry") {
			t.Errorf("%q: exit %d %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runMain(t, w, getenv, "provider-learning-status", "--json")
	for _, h := range []string{"a.example", "b.example", "c.example"} {
		if strings.Contains(r.stdout, h) {
			t.Errorf("%s still listed after its reset: %s", h, r.stdout)
		}
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset", "web@nope.example"); r.code != ExitUsage {
		t.Errorf("reset of an unknown key: exit %d, want 2", r.code)
	}
	if err := os.WriteFile(state, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset"); r.code != ExitError || !strings.Contains(r.stderr, "Forget all 3") {
		t.Errorf("bare --reset did not ask: exit %d %q", r.code, r.stderr)
	}
	if r := runMain(t, w, getenv, "provider-learning-status", "--reset", "--yes"); r.code != ExitOK || !strings.Contains(r.stdout, "forgot 3 entries") {
		t.Errorf("bare --reset --yes: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}
