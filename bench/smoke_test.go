// Package bench holds contentdl's benchmark suite (bench/suite, driven by `make
// bench` through bench/cmd/benchsuite) and this smoke test, the suite's quick
// version that runs in CI with `go test ./...`.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/docstokg/contentdl/internal/cli"
	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/sim"
)

// smokeScenario is three publisher hosts that each hide a capacity of 4 rps behind a
// configured limit of 10 rps. "hidden" says nothing but 429 + Retry-After in
// seconds, "dated" the same with HTTP-date Retry-Afters, and "advertised" also sends
// IETF RateLimit headers, from which the limit can be learned before any 429.
const smokeScenario = `
name: smoke
seed: 5
topic: smoke testing
years: {from: 2020, to: 2024}
works:
  count: 60
  mix: {direct_pdf: 4, unpaywall_only: 1, not_found_then_unpaywall: 1}
pdf_size: 8KiB
politeness_grace: 10ms
hosts:
  - name: hidden
    capacity: {rps: 4, burst: 4}
    configured: {rps: 10, burst: 10}
    retry_after: seconds
    headers: none
  - name: dated
    capacity: {rps: 4, burst: 4}
    configured: {rps: 10, burst: 10}
    retry_after: http-date
    headers: none
  - name: advertised
    capacity: {rps: 4, burst: 4}
    configured: {rps: 10, burst: 10}
    retry_after: seconds
    headers: ietf
`

// TestSmokePolitenessAndLearning runs contentdl in-process, with both feature gates
// on, against the simulator on the real clock (about 10 s), and checks what must
// never regress: no request is sent inside a Retry-After window the host announced,
// every work is saved, and the learning file records a reduced rate for every
// limited host. It asserts no timings.
func TestSmokePolitenessAndLearning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs contentdl against the simulator for about 10 s on the real clock")
	}
	sc, err := sim.ParseScenario([]byte(smokeScenario))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	dir := t.TempDir()
	info := s.Info()
	cfg, err := yaml.Marshal(info.Config)
	if err != nil {
		t.Fatal(err)
	}
	// Only resolvers the simulator serves: the others would leave loopback.
	cfg = append(cfg, "resolvers:\n  order: [openalex, unpaywall, landing_page]\n"...)
	cfgPath := filepath.Join(dir, "contentdl.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "provider-learning.json")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.MainContext(ctx, []string{"run", "--config", cfgPath, "--topic", sc.Topic, "--out", filepath.Join(dir, "out"),
		"--workers", "8", "--mailto", "smoke@example.org", "--json", "--progress", "never", "--log-level", "warn",
		"--enable-contextual-retry", "--enable-provider-learning", "--provider-learning-path", state,
	}, &cli.State{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Clock: clock.Real{}})
	if code != cli.ExitOK {
		t.Fatalf("contentdl run exited %d; stderr:\n%s", code, stderr.String())
	}

	var sum download.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	want := 0
	for _, outcome := range s.Expected() {
		if outcome == sim.OutcomePDF {
			want++
		}
	}
	if got := sum.ByClassification["pdf"]; got != want || sum.Failed != 0 || sum.Deferred != 0 {
		t.Errorf("%d PDFs saved (classifications %v, reasons %v), %d failed, %d deferred; want all %d works with an open copy saved as PDF",
			got, sum.ByClassification, sum.ByReason, sum.Failed, sum.Deferred, want)
	}

	st := s.Stats()
	for _, h := range st.Hosts {
		if h.InRetryAfterWindow != 0 {
			t.Errorf("host %s: %d requests arrived inside a Retry-After window it had announced (%d announced)",
				h.Name, h.InRetryAfterWindow, h.RetryAfterAnnounced)
		}
	}

	file, err := learning.Load(state)
	if err != nil {
		t.Fatalf("learning file: %v", err)
	}
	for _, host := range []struct {
		name string
		// fromHeaders: the limit can be learned from headers, perhaps before any 429.
		fromHeaders bool
	}{{"hidden", false}, {"dated", false}, {"advertised", true}} {
		h, ok := st.Host(host.name)
		if !ok {
			t.Fatalf("no stats for host %s", host.name)
		}
		n429 := h.ByStatus["429"]
		if n429 == 0 && !host.fromHeaders {
			// 8 workers against a 4-token bucket overrun it at the start unless the
			// client knows the limit; without a 429 the politeness check tested nothing.
			t.Errorf("host %s sent no 429: the scenario did not exercise the limiter", host.name)
		}
		b, ok := file.Providers[learning.Key("web", h.Addr)]
		if !ok {
			t.Errorf("host %s (%s): not in the learning file; entries: %v", host.name, h.Addr, keys(file.Providers))
			continue
		}
		t.Logf("host %s: %d requests, %d 429s, %d in grace; learned %.2f of %.2f rps (reduction %.0f%%, ceiling %.2f)",
			host.name, h.Requests, n429, h.InRetryAfterGrace, b.EffectiveRPS, b.ConfiguredRPS, b.AppliedReductionPct, b.CeilingRPS)
		if b.EffectiveRPS <= 0 || b.EffectiveRPS >= b.ConfiguredRPS {
			t.Errorf("host %s: learned %.2f rps of %.2f configured after %d 429s; want a reduction",
				host.name, b.EffectiveRPS, b.ConfiguredRPS, n429)
		}
		if !host.fromHeaders && b.AppliedReductionPct <= 0 {
			t.Errorf("host %s: applied reduction %.1f%%; with no headers to read, the rate must come down on 429s alone",
				host.name, b.AppliedReductionPct)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
