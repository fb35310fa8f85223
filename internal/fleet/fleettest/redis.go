package fleettest

import (
	"errors"
	"os"
	"testing"
)

// Redis is a Server started for one test: its errors fail the test.
type Redis struct {
	*Server
	t testing.TB
}

// Start starts redis-server on a free loopback port, stopped at the test's end.
// Without redis-server on PATH the test is skipped, except under CI (CI=true), where
// .ci/run installs it: there it fails. extra are more config lines
// ("requirepass s3cret").
func Start(t testing.TB, extra ...string) *Redis {
	t.Helper()
	s, err := StartServer(t.TempDir(), extra...)
	switch {
	case errors.Is(err, ErrNotFound) && os.Getenv("CI") != "":
		t.Fatalf("redis-server not found: .ci/run installs it (apt-get install redis-server)")
	case errors.Is(err, ErrNotFound):
		t.Skip("redis-server not found; " + InstallHint + " to run the fleet tests")
	case err != nil:
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &Redis{Server: s, t: t}
}

// Restart starts the server again on the same port, empty; an error fails the test.
func (r *Redis) Restart() {
	r.t.Helper()
	if err := r.Server.Restart(); err != nil {
		r.t.Fatal(err)
	}
}
