// Command rusage runs a command and writes what it cost as JSON: wall time, user and
// system CPU time and peak resident set size, from the kernel's wait4 accounting.
//
//	rusage -o cost.json -- contentdl run …
//
// The benchmark suite measures every child through it instead of reading the
// rusage of its own children directly, because on Linux a child's ru_maxrss starts
// at its parent's peak RSS: Go starts processes with vfork, the child shares the
// parent's memory until exec, and exec keeps the larger of the old and the new
// image's peak. The suite's process holds the simulator and its buffers (tens of
// MB); this program holds a few MB, so the peak it reports for its child is the
// child's own whenever the child uses more than that floor. The suite measures
// /bin/true the same way and reports the floor next to the figures.
//
// The exit status is the command's; 125 means rusage itself failed. SIGINT and
// SIGTERM are passed on to the command.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Cost is what rusage writes.
type Cost struct {
	WallNS      int64 `json:"wall_ns"`
	UserNS      int64 `json:"user_ns"`
	SysNS       int64 `json:"sys_ns"`
	MaxRSSBytes int64 `json:"maxrss_bytes"`
	ExitCode    int   `json:"exit_code"`
}

const exitFailed = 125

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs the command named by args and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rusage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the cost as JSON to this `file` (required)")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: rusage -o FILE -- COMMAND [ARG...]")
		return exitFailed
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "rusage: %v\n", err)
		return exitFailed
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "rusage: %v\n", err)
		return exitFailed
	}
	ps := cmd.ProcessState
	c := Cost{WallNS: wall.Nanoseconds(), UserNS: ps.UserTime().Nanoseconds(), SysNS: ps.SystemTime().Nanoseconds(),
		MaxRSSBytes: maxRSS(ps), ExitCode: ps.ExitCode()}
	data, _ := json.Marshal(c)
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		fmt.Fprintf(stderr, "rusage: %v\n", err)
		return exitFailed
	}
	if c.ExitCode < 0 { // killed by a signal
		return exitFailed
	}
	return c.ExitCode
}
