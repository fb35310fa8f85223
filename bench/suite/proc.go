package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Proc is what one child process cost: its wall time as the suite saw it and the
// kernel's account of its CPU time and peak resident set (wait4 rusage).
type Proc struct {
	Wall     time.Duration
	User     time.Duration
	Sys      time.Duration
	MaxRSS   int64 // bytes; 0 where the platform does not report it
	ExitCode int
}

// CPU is user plus system time.
func (p Proc) CPU() time.Duration { return p.User + p.Sys }

// runProc runs name with args, writing its stdout to stdout (may be nil) and its
// stderr to the file stderrPath, and measures it. A non-zero exit is not an error
// here; the caller decides which exit codes are acceptable.
func runProc(ctx context.Context, stdout io.Writer, stderrPath, name string, args ...string) (Proc, error) {
	errf, err := os.Create(stderrPath)
	if err != nil {
		return Proc{}, err
	}
	defer errf.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = stdout
	cmd.Stderr = errf
	cmd.Env = childEnv()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Proc{}, fmt.Errorf("%s: %w", name, err)
	}
	if ctx.Err() != nil {
		return Proc{}, ctx.Err()
	}
	ps := cmd.ProcessState
	return Proc{Wall: wall, User: ps.UserTime(), Sys: ps.SystemTime(), MaxRSS: maxRSS(ps), ExitCode: ps.ExitCode()}, nil
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
