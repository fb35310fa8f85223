package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestQuietPrintsNothingOnSuccess(t *testing.T) {
	w := newWorld(t, firstWorks(4)) // W1..W4 all end saved: a clean success
	// With an OpenAlex API key and a mailto nothing needs a warning.
	env := w.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": "k-123"})
	res := runMain(t, w, env, "run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"), "--quiet")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if res.stdout != "" || res.stderr != "" {
		t.Errorf("--quiet printed:\nstdout: %q\nstderr: %q", res.stdout, res.stderr)
	}
}

// Without an OpenAlex API key, and with unpaywall in the order but no mailto, a run
// says so once each, at the start, even with --quiet, and how to fix it.
func TestStartWarnings(t *testing.T) {
	w := newWorld(t, firstWorks(1))
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--out", filepath.Join(t.TempDir(), "out"), "--quiet")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"no OpenAlex API key", "DOCSTOKG_OPENALEX_API_KEY", "UNPAYWALL IS SKIPPED", "--mailto"} {
		if strings.Count(res.stderr, want) != 1 {
			t.Errorf("stderr has %q %d times, want once:\n%s", want, strings.Count(res.stderr, want), res.stderr)
		}
	}
	if strings.Contains(res.stderr, "k-123") {
		t.Error("a key leaked")
	}
	// With both set, neither warning.
	res = runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": "k-123", "DOCSTOKG_MAILTO": "me@example.org"}),
		"run", "--topic", "kg", "--out", filepath.Join(t.TempDir(), "out2"))
	if strings.Contains(res.stderr, "API key") || strings.Contains(res.stderr, "UNPAYWALL") || strings.Contains(res.stderr, "k-123") {
		t.Errorf("warned with key and mailto set:\n%s", res.stderr)
	}
}

func TestDefaultOutputIsSummaryLineAndTableWithoutProgress(t *testing.T) {
	w := newWorld(t)
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"))
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "9 works") {
		t.Errorf("stdout is not one summary line: %q", res.stdout)
	}
	// stderr is not a terminal here: no progress bar (no carriage returns), but the table.
	if strings.Contains(res.stderr, "\r") {
		t.Errorf("progress drawn on a non-TTY stderr: %q", res.stderr)
	}
	if !strings.Contains(res.stderr, "no_oa_candidates") {
		t.Errorf("summary table missing from stderr:\n%s", res.stderr)
	}
}

func TestProgressAlwaysDrawsOnNonTTY(t *testing.T) {
	w := newWorld(t)
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"), "--progress", "always")
	if res.code != ExitOK || !strings.Contains(res.stderr, "\r") {
		t.Errorf("exit %d; --progress always drew no bar: %q", res.code, res.stderr)
	}
	if r := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--progress", "sometimes"); r.code != ExitUsage || !strings.Contains(r.stderr, "--progress") {
		t.Errorf("bad --progress: exit %d %q", r.code, r.stderr)
	}
}

func TestMetricsFile(t *testing.T) {
	w := newWorld(t)
	metrics := filepath.Join(t.TempDir(), "contentdl.prom")
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"), "--metrics-file", metrics, "--quiet")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	f, err := os.Open(metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("metrics file does not parse: %v", err)
	}
	for _, name := range []string{"contentdl_works_total", "contentdl_http_requests_total", "contentdl_retries_total",
		"contentdl_request_duration_seconds", "contentdl_provider_effective_rps", "contentdl_run_duration_seconds",
		"contentdl_last_run_timestamp_seconds", "contentdl_last_run_success"} {
		if _, ok := families[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	for _, m := range families["contentdl_works_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "classification" && l.GetValue() == "pdf" && m.GetCounter().GetValue() != 7 {
				t.Errorf("works_total{pdf} = %v, want 7", m.GetCounter().GetValue())
			}
		}
	}
	if v := families["contentdl_last_run_success"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("last_run_success = %v", v)
	}
}

func TestTyposSuggest(t *testing.T) {
	w := newWorld(t)
	r := runMain(t, w, w.env(t, nil), "rn")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `did you mean "run"`) {
		t.Errorf("mistyped command: exit %d %q", r.code, r.stderr)
	}
	r = runMain(t, w, w.env(t, nil), "run", "--topik", "x")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--topic") {
		t.Errorf("mistyped flag: exit %d %q", r.code, r.stderr)
	}
	r = runMain(t, w, w.env(t, nil), "run", "--help")
	if r.code != 0 || strings.Count(r.stdout, "contentdl run ") < 2 {
		t.Errorf("run --help lacks two examples:\n%s", r.stdout)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if r := runMain(t, w, w.env(t, nil), "completion", sh); r.code != 0 || len(r.stdout) < 100 {
			t.Errorf("completion %s: exit %d, %d bytes", sh, r.code, len(r.stdout))
		}
	}
}

func TestUsageErrorsExit2BeforeAnyRequest(t *testing.T) {
	w := newWorld(t)
	for _, args := range [][]string{
		{"run"},
		{"run", "--topic", "x", "--topic-id", "T1"},
		{"run", "--topic", "x", "--workers", "0"},
		{"run", "--topic", "x", "--workers", "-3"},
		{"run", "--topic", "x", "--max-works", "-1"},
		{"run", "--topic", "x", "--year-start", "2024", "--year-end", "2020"},
		{"run", "--topic", "x", "--year-start", "20"},
		{"run", "--topic", "x", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"run", "--topic", "x", "--workers", "many"},
	} {
		r := runMain(t, w, w.env(t, nil), args...)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, r.code, r.stderr)
		}
	}
	if n := w.count("openalex", "/works"); n != 0 {
		t.Errorf("%d requests sent despite usage errors", n)
	}
}

func TestEveryFlagHasHelpAndDefault(t *testing.T) {
	root := NewRootCmd(&State{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			usage := pflag.NewFlagSet("x", pflag.ContinueOnError)
			usage.AddFlag(f)
			line := usage.FlagUsages()
			if f.Usage == "" || !strings.Contains(line, "(default") {
				t.Errorf("%s --%s: help %q lacks text or a default", c.CommandPath(), f.Name, line)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestDryRunRevalidateRejected(t *testing.T) {
	w := newWorld(t)
	r := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--dry-run", "--revalidate")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--dry-run") {
		t.Errorf("exit %d %q", r.code, r.stderr)
	}
}

// --json is JSON Lines: two runs appended to one file (the cron recipe's `>> runs.jsonl`)
// give two lines that each parse; manifest.summary.json stays indented.
func TestJSONSummaryIsOneLinePerRun(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(t.TempDir(), "out")
	var log strings.Builder
	for range 2 {
		res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
			"--out", out, "--json", "--quiet")
		if res.code != ExitOK {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		log.WriteString(res.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("two runs appended %d lines, want 2:\n%s", len(lines), log.String())
	}
	ids := map[string]bool{}
	for i, line := range lines {
		var sum struct {
			RunID string `json:"run_id"`
			Works int    `json:"works"`
		}
		if err := json.Unmarshal([]byte(line), &sum); err != nil || sum.RunID == "" || sum.Works != 9 {
			t.Errorf("line %d does not parse as a summary (%v): %s", i+1, err, line)
		}
		ids[sum.RunID] = true
	}
	if len(ids) != 2 {
		t.Errorf("the two lines share a run id: %v", ids)
	}
	data, err := os.ReadFile(filepath.Join(out, "manifest.summary.json"))
	if err != nil || !strings.Contains(string(data), "\n  \"run_id\"") {
		t.Errorf("manifest.summary.json is not indented (%v):\n%.200s", err, data)
	}
}

// The summary line never shows empty parentheses, even for a run with no works.
func TestSummaryLineWithoutWorksHasNoEmptyParentheses(t *testing.T) {
	w := newWorld(t, firstWorks(0))
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"))
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if strings.Contains(res.stdout, "()") || !strings.Contains(res.stdout, ": 0 works in ") {
		t.Errorf("summary line: %q", res.stdout)
	}
}

// A mistyped DOCSTOKG_* variable is not silently ignored: the run warns about it on
// stderr and names the variable it probably meant, in the run's log format.
func TestUnknownEnvVariableWarns(t *testing.T) {
	const typo = "DOCSTOKG_ENABLE_CONTEXTUAL_RETRYY"
	w := newWorld(t, firstWorks(1))
	getenv := w.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": "k-123"})
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Clock: w.clk,
		Getenv:  getenv,
		Environ: func() []string { return []string{"PATH=/bin", typo + "=true", "DOCSTOKG_WORKERS=2"} }}
	code := MainContext(context.Background(), []string{"run", "--topic", "kg", "--mailto", "me@example.org",
		"--out", filepath.Join(t.TempDir(), "out"), "--log-format", "json", "--quiet"}, st)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var warned bool
	for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line is not JSON (--log-format json): %q", line)
		}
		if m["msg"] == "ignoring unknown environment variable" {
			if m["level"] != "WARN" || m["name"] != typo || m["did_you_mean"] != "DOCSTOKG_ENABLE_CONTEXTUAL_RETRY" {
				t.Errorf("warning = %v", m)
			}
			warned = true
		}
		if m["name"] == "DOCSTOKG_WORKERS" || m["name"] == "PATH" {
			t.Errorf("warned about a known or foreign variable: %v", m)
		}
	}
	if !warned {
		t.Errorf("no warning about %s on stderr:\n%s", typo, errb.String())
	}

	// The real process state (OSState) hands the environment to config as well.
	c := startChild(t, []string{execMainEnv + "=1", "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(),
		typo + "=1"}, "config", "print")
	if got := c.wait(t, 30*time.Second); got != ExitOK {
		t.Fatalf("config print exit %d: %s", got, c.stderr.String())
	}
	if s := c.stderr.String(); !strings.Contains(s, "ignoring unknown environment variable") ||
		!strings.Contains(s, "name="+typo) || !strings.Contains(s, "did_you_mean=DOCSTOKG_ENABLE_CONTEXTUAL_RETRY") {
		t.Errorf("contentdl config print with %s set: stderr lacks the warning:\n%s", typo, s)
	}
}
