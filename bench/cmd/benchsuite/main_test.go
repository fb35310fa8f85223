package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/bench/suite"
)

func TestMainRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, 2, "unexpected arguments"},
		{"unknown part", []string{"--only", "learning"}, 2, `--only "learning": want manyhosts or fleet`},
		{"no contentdl binary", []string{"--contentdl", filepath.Join(dir, "missing")}, 1, "run `make build` first"},
		{"no go and no helper", []string{"--contentdl", "main.go", "--go", "none", "--workdir", dir, "--no-tmpfs"}, 1,
			"--go none needs --rusage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := Main(context.Background(), tc.args, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// --only names each part that runs alone.
func TestParseFlagsOnly(t *testing.T) {
	for _, part := range []string{"", suite.PartManyHosts, suite.PartFleet} {
		var stderr bytes.Buffer
		o, ok := parseFlags([]string{"--only", part}, &stderr)
		if !ok || o.only != part {
			t.Errorf("--only %q: ok %v, only %q; stderr %s", part, ok, o.only, stderr.String())
		}
	}
	o, _ := parseFlags(nil, &bytes.Buffer{})
	if o.fleetChart != "bench/fleet.png" {
		t.Errorf("--fleet-chart defaults to %q", o.fleetChart)
	}
}

// Asked for by name without redis-server on PATH, the fleet part fails with the
// install hint and leaves the results file and the chart as they were.
func TestOnlyFleetWithoutRedisServer(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir) // no redis-server (and no git: the machine description does without)
	results := filepath.Join(dir, "RESULTS.md")
	page := "# Benchmark results\n\n<!-- fleet:begin -->\nold figures\n<!-- fleet:end -->\n"
	if err := os.WriteFile(results, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(dir, "fleet.png")
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"--contentdl", "main.go", "--rusage", "main.go", "--go", "none",
		"--workdir", dir, "--only", "fleet", "--results", results, "--fleet-chart", chart}, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if want := "fleet part skipped: redis-server not found; install it with `apt-get install redis-server` (as root)"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if got, err := os.ReadFile(results); err != nil || string(got) != page {
		t.Fatalf("results file changed (%v):\n%s", err, got)
	}
	if _, err := os.Stat(chart); !os.IsNotExist(err) {
		t.Fatalf("a chart was written: %v", err)
	}
}
