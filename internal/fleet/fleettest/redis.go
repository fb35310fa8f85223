// Package fleettest starts a real redis-server for tests: each test gets its own, on
// a free loopback port, with no persistence, stopped at the test's end.
package fleettest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server started for one test.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
}

// Start starts redis-server on a free loopback port. Without redis-server on PATH the
// test is skipped, except under CI (CI=true), where .ci/run installs it: there it
// fails. extra are more config lines ("requirepass s3cret").
func Start(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found: .ci/run installs it (apt-get install redis-server)")
		}
		t.Skip("redis-server not found; install it with `apt-get install redis-server` (as root) to run the fleet tests")
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	r.args = append([]string{
		"port " + strconv.Itoa(r.port), "bind 127.0.0.1", "save \"\"", "appendonly no",
		"dir " + r.dir, "daemonize no", "loglevel warning",
	}, extra...)
	r.start()
	t.Cleanup(r.Stop)
	return r
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *Redis) start() {
	r.t.Helper()
	conf := filepath.Join(r.dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(r.args, "\n")+"\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, conf)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.ping() {
			return
		}
		time.Sleep(20 * time.Millisecond) // waiting for a real server to listen; no backoff is being tested
	}
	r.Stop()
	r.t.Fatalf("redis-server on port %d did not answer PING within 10s", r.port)
}

// ping sends an inline PING (and AUTH first when a password is configured).
func (r *Redis) ping() bool {
	c, err := net.DialTimeout("tcp", r.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	for _, a := range r.args {
		if pw, ok := strings.CutPrefix(a, "requirepass "); ok {
			fmt.Fprintf(c, "AUTH %s\r\n", pw)
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				return false
			}
		}
	}
	fmt.Fprintf(c, "PING\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Addr is host:port; URL is redis://host:port/0.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }
func (r *Redis) URL() string  { return "redis://" + r.Addr() + "/0" }

// Stop kills the server (as a crash would) and waits for it. Its data is lost: it
// keeps none on disk.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	r.start()
}
