package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is what one child process cost, as bench/cmd/rusage reports it from the
// kernel's wait4 accounting.
type Proc struct {
	Wall     time.Duration
	User     time.Duration
	Sys      time.Duration
	MaxRSS   int64 // bytes
	ExitCode int
}

// CPU is user plus system time.
func (p Proc) CPU() time.Duration { return p.User + p.Sys }

// cost is bench/cmd/rusage's JSON.
type cost struct {
	WallNS      int64 `json:"wall_ns"`
	UserNS      int64 `json:"user_ns"`
	SysNS       int64 `json:"sys_ns"`
	MaxRSSBytes int64 `json:"maxrss_bytes"`
	ExitCode    int   `json:"exit_code"`
}

// runProc runs name with args under the rusage helper, writing its stdout to
// stdout (may be nil) and its stderr to the file stderrPath, and measures it. A
// non-zero exit is not an error here; the caller decides which exit codes are
// acceptable. Cancelling ctx sends SIGTERM, which the helper passes on.
func (s *Suite) runProc(ctx context.Context, stdout io.Writer, stderrPath, name string, args ...string) (Proc, error) {
	errf, err := os.Create(stderrPath)
	if err != nil {
		return Proc{}, err
	}
	defer errf.Close()
	costPath := stderrPath + ".cost.json"
	defer os.Remove(costPath)
	cmd := exec.CommandContext(ctx, s.opts.Rusage, append([]string{"-o", costPath, "--", name}, args...)...)
	cmd.Stdout = stdout
	cmd.Stderr = errf
	cmd.Env = childEnv()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return Proc{}, ctx.Err()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Proc{}, fmt.Errorf("%s: %w", name, err)
	}
	data, rerr := os.ReadFile(costPath)
	if rerr != nil {
		return Proc{}, fmt.Errorf("%s: no cost from the rusage helper (exit %d): %s", name, cmd.ProcessState.ExitCode(), tail(stderrPath, 1000))
	}
	var c cost
	if err := json.Unmarshal(data, &c); err != nil {
		return Proc{}, fmt.Errorf("%s: rusage helper output: %w", name, err)
	}
	return Proc{Wall: time.Duration(c.WallNS), User: time.Duration(c.UserNS), Sys: time.Duration(c.SysNS),
		MaxRSS: c.MaxRSSBytes, ExitCode: c.ExitCode}, nil
}

// childEnv is the environment of every child: the suite's own, minus contentdl's
// DOCSTOKG_* settings, so that a developer's shell cannot change what is measured.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCSTOKG_") {
			env = append(env, kv)
		}
	}
	return env
}

// tail returns the last n bytes of the file at path, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return string(bytes.TrimSpace(b))
}
