package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// helperEnv makes the test binary run Main, so a test can run rusage as its own
// process, as the suite does.
const helperEnv = "RUSAGE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestRusageReportsTheChildsCostAndExitCode(t *testing.T) {
	// Hold 96 MiB here, as the suite holds the simulator: the child measured through
	// a separate rusage process must not report it (see the package comment).
	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	defer runtime.KeepAlive(ballast)
	out := filepath.Join(t.TempDir(), "cost.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-o", out, "--", "sh", "-c", "echo hi; exit 3")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit %d, want the child's 3; stderr %q", code, stderr.String())
	}
	if stdout.String() != "hi\n" {
		t.Fatalf("child's stdout %q not passed through", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var c Cost
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if c.ExitCode != 3 || c.WallNS <= 0 || c.MaxRSSBytes <= 0 {
		t.Fatalf("cost = %+v", c)
	}
	// The child's peak RSS is its own, not the ballast of this test binary.
	if c.MaxRSSBytes > 48<<20 {
		t.Fatalf("sh peaked at %d bytes: the parent's RSS leaked into the child's", c.MaxRSSBytes)
	}
}

func TestRusageUsageErrors(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{{}, {"--", "true"}, {"-o", filepath.Join(t.TempDir(), "c.json")}} {
		if code := Main(args, nil, &bytes.Buffer{}, &stderr); code != exitFailed {
			t.Errorf("Main(%q) = %d, want %d", args, code, exitFailed)
		}
	}
	out := filepath.Join(t.TempDir(), "c.json")
	if code := Main([]string{"-o", out, "--", "/nonexistent/command"}, nil, &bytes.Buffer{}, &stderr); code != exitFailed {
		t.Errorf("a command that cannot start: exit %d, want %d", code, exitFailed)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a command that never ran has no cost file")
	}
}
