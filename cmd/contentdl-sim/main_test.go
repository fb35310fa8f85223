package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/docstokg/contentdl/internal/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const scenarioYAML = `
name: cli
works: {count: 3}
pdf_size: 2KiB
hosts:
  - name: capped
    capacity: {rps: 2}
    configured: {rps: 5, burst: 1}
`

func writeScenario(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFlagErrors(t *testing.T) {
	good := writeScenario(t, scenarioYAML)
	bad := writeScenario(t, "hosts: [{}]\nsurprise: true\n")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"-h"}, exitOK, "Usage: contentdl-sim"},
		{"no scenario", nil, exitUsage, "--scenario is required"},
		{"unknown flag", []string{"--scenario", good, "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"extra argument", []string{"--scenario", good, "extra"}, exitUsage, "unexpected arguments: extra"},
		{"bad log level", []string{"--scenario", good, "--log-level", "loud"}, exitUsage, "--log-level"},
		{"missing file", []string{"--scenario", filepath.Join(t.TempDir(), "none.yaml")}, exitError, "no such file"},
		{"unknown key", []string{"--scenario", bad}, exitError, "field surprise not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", code, c.code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Fatalf("nothing should reach stdout: %q", stdout.String())
			}
		})
	}
}

// run starts Main in the background and returns the simulator's info from the
// address file, and a stop function that returns the exit code.
func run(t *testing.T, args ...string) (sim.Info, *bytes.Buffer, func() int) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "sim.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append(args, "--addr-file", addrFile), &stdout, &stderr) }()
	var info sim.Info
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(addrFile)
		if err == nil {
			if err := json.Unmarshal(data, &info); err != nil {
				t.Fatalf("addr file: %v\n%s", err, data)
			}
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("Main exited early with %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no addr file after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := false
	stop := func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		code := <-done
		if _, err := os.Stat(addrFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("addr file should be removed on exit: %v", err)
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return info, &stdout, stop
}

func TestRunServesAndPrintsInfo(t *testing.T) {
	info, stdout, stop := run(t, "--scenario", writeScenario(t, scenarioYAML), "--log-level", "warn")
	if info.Scenario != "cli" || info.Works != 3 || len(info.Hosts) != 1 || !strings.HasPrefix(info.OpenAlexURL, "http://127.0.0.1:") {
		t.Fatalf("info: %+v", info)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	resp, err := c.Get(info.Hosts[0].URL + "/pdf/W1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 2048 {
		t.Fatalf("PDF: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, err = c.Get(info.StatsURL)
	if err != nil {
		t.Fatal(err)
	}
	var st sim.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if h, ok := st.Host("capped"); err != nil || !ok || h.Requests != 1 {
		t.Fatalf("stats: %v %+v", err, st)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	// The printed block is YAML with the URLs and a contentdl config.
	var printed sim.Info
	if err := yaml.Unmarshal(stdout.Bytes(), &printed); err != nil {
		t.Fatalf("stdout is not YAML: %v\n%s", err, stdout)
	}
	want := []sim.HostLimit{{Host: info.Hosts[0].Addr, RPS: 5, Burst: 1}}
	if printed.OpenAlexURL != info.OpenAlexURL || printed.Config.Unpaywall.BaseURL != info.UnpaywallURL ||
		len(printed.Config.RateLimits.Hosts) != 1 || printed.Config.RateLimits.Hosts[0] != want[0] {
		t.Fatalf("printed:\n%s", stdout)
	}
}

func TestPrintConfigPrintsAContentdlConfig(t *testing.T) {
	info, stdout, stop := run(t, "--scenario", writeScenario(t, scenarioYAML), "--print-config", "--log-level", "error")
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg) != 3 || cfg["openalex"].(map[string]any)["base_url"] != info.OpenAlexURL {
		t.Fatalf("config:\n%s", stdout)
	}
	if !strings.Contains(stdout.String(), "rate_limits:\n    hosts:\n        - host: "+info.Hosts[0].Addr) {
		t.Fatalf("config should list the capped host:\n%s", stdout)
	}
}
