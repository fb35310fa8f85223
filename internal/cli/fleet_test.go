package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/fleet/fleettest"
)

// TestBadRedisExits2: a --redis URL that is not Redis's, a server that is not there
// and refused credentials each end the run before any request with exit 2 and one
// line naming the value (password masked) and where it came from.
func TestBadRedisExits2(t *testing.T) {
	s, env := shardSim(t, 3, 0)
	locked := fleettest.Start(t, "requirepass right-pw")
	dead := fleettest.Start(t)
	deadURL := dead.URL()
	dead.Stop()
	out := filepath.Join(t.TempDir(), "out")
	run := []string{"run", "--topic", "fleet test", "--out", out, "--progress", "never"}
	with := func(extra ...string) []string { return append(run[:len(run):len(run)], extra...) }
	for _, c := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   string
	}{
		{"scheme", with("--redis", "http://127.0.0.1:6379/0"), env,
			"fleet.redis_url = http://127.0.0.1:6379/0 (from flag --redis): the scheme must be redis://"},
		{"unreachable", run, withEnv(env, "DOCSTOKG_FLEET_REDIS_URL", deadURL),
			"fleet.redis_url = " + deadURL + " (from env DOCSTOKG_FLEET_REDIS_URL): cannot reach redis at " + dead.Addr()},
		{"wrong password", with("--redis", "redis://:wrong-pw@"+locked.Addr()+"/0"), env,
			"fleet.redis_url = redis://:***@" + locked.Addr() + "/0 (from flag --redis): redis at " + locked.Addr() + " refused the credentials"},
		{"bad name", with("--redis", locked.URL(), "--fleet-name", "a b"), env, `fleet.name = "a b" (from flag --fleet-name)`},
	} {
		res := mainIn(c.args, c.getenv, "")
		if res.code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, res.code, ExitUsage, res.stderr)
		}
		if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%s: stderr %q, want one line containing %q", c.name, res.stderr, c.want)
		}
		if strings.Contains(res.stderr, "wrong-pw") {
			t.Errorf("%s: the password is shown: %q", c.name, res.stderr)
		}
	}
	if oa, _ := s.Stats().Host("openalex"); oa.Requests != 0 {
		t.Errorf("bad redis settings still sent %d requests", oa.Requests)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("bad redis settings created OUT")
	}
	// config print masks the password too.
	res := mainIn([]string{"config", "print"}, withEnv(env, "DOCSTOKG_FLEET_REDIS_URL", "redis://user:s3cret@"+locked.Addr()+"/0"), "")
	if res.code != 0 || strings.Contains(res.stdout, "s3cret") || !strings.Contains(res.stdout, "redis://user:***@"+locked.Addr()+"/0") {
		t.Errorf("config print: exit %d, stdout %q", res.code, res.stdout)
	}
}
