package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docstokg/contentdl/internal/clock"
)

// TestMain fails the package if any test leaves a goroutine behind: every simulator
// must Close cleanly.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var epoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// start runs a simulator for the test and closes it afterwards.
func start(t *testing.T, sc Scenario, opts Options) *Sim {
	t.Helper()
	s, err := Start(sc, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// startFake runs a simulator on a fake clock.
func startFake(t *testing.T, sc Scenario) (*Sim, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(epoch)
	return start(t, sc, Options{Clock: fc.Now}), fc
}

// client returns an HTTP client with its own transport, cleaned up after the test.
// With fresh set, every request uses a new connection.
func client(t *testing.T, fresh bool) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: fresh}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches url and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, body
}

// getJSON fetches url, expects status and decodes the body into v (unless nil).
func getJSON(t *testing.T, c *http.Client, url string, status int, v any) []byte {
	t.Helper()
	resp, body := get(t, c, url)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d; body %s", url, resp.StatusCode, status, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode: %v; body %s", url, err, body)
		}
	}
	return body
}

// oneHost is a small scenario with one unlimited publisher host.
func oneHost(count int, mix Mix) Scenario {
	return Scenario{Name: "test", Seed: 3, Topic: "Graph Neural Networks", Works: WorksSpec{Count: count, Mix: mix},
		PDFSize: 4096, TopicIDs: []string{"T100", "T200"}, Hosts: []HostSpec{{Name: "pub"}}}
}

// hostStats returns the named host's stats.
func hostStats(t *testing.T, s *Sim, name string) HostStats {
	t.Helper()
	h, ok := s.Stats().Host(name)
	if !ok {
		t.Fatalf("no stats for host %q", name)
	}
	return h
}
