// Package fleettest starts a real redis-server on a free loopback port, with no
// persistence. Start gives each test its own, stopped at the test's end; StartServer
// is the same without a testing.TB, for the benchmark suite (bench/suite's fleet
// part), which must stop and restart the server in the middle of a run.
package fleettest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned by StartServer when redis-server is not on PATH.
var ErrNotFound = errors.New("redis-server not found")

// InstallHint says how to get redis-server on the distributions .ci/run knows.
const InstallHint = "install it with `apt-get install redis-server` (as root)"

// Server is a running (or stopped) redis-server with its config and its folder.
type Server struct {
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
}

// Lookup returns the path of redis-server on PATH, or an error wrapping ErrNotFound.
func Lookup() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w on PATH: %w", ErrNotFound, err)
	}
	return bin, nil
}

// StartServer starts redis-server on a free loopback port with dir as its working
// folder (its config file goes there; it saves nothing), and waits until it answers
// PING. extra are more config lines ("requirepass s3cret"). The caller stops it.
func StartServer(dir string, extra ...string) (*Server, error) {
	bin, err := Lookup()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, port: port}
	s.args = append([]string{
		"port " + strconv.Itoa(s.port), "bind 127.0.0.1", "save \"\"", "appendonly no",
		"dir " + s.dir, "daemonize no", "loglevel warning",
	}, extra...)
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redis-server: finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	conf := filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(s.args, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	cmd := exec.Command(s.bin, conf)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // waiting for a real server to listen; no backoff is being tested
	}
	s.Stop()
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s", s.port)
}

// ping sends an inline PING (and AUTH first when a password is configured).
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	for _, a := range s.args {
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
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }
func (s *Server) URL() string  { return "redis://" + s.Addr() + "/0" }

// Stop kills the server (as a crash would) and waits for it. Its data is lost: it
// keeps none on disk. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}
