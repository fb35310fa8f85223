package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// On the simulator, with a mix of every kind of work and no Unpaywall in the chain,
// no landing, abstract, paywall or challenge page is ever saved: HTML/ stays empty.
// The works whose only OA link is the publisher's abstract page (it asks to
// "subscribe or purchase") end as paywall misses; the run's OpenAlex cost equals
// what the simulator charged.
func TestSimulatorNeverSavesPages(t *testing.T) {
	s, err := sim.Start(sim.Scenario{Name: "pages", Seed: 11, Topic: "graph pages",
		Works: sim.WorksSpec{Count: 60, Mix: sim.Mix{DirectPDF: 2, UnpaywallOnly: 2, LandingPage: 2, BadFirstLocation: 2,
			NotFoundThenUnpaywall: 2, Closed: 1}},
		PDFSize: 4 << 10, Hosts: []sim.HostSpec{{Name: "pub1"}, {Name: "pub2"}},
		OpenAlex: sim.OpenAlexSpec{Cost: sim.CostSpec{SearchUSD: 0.001, ListUSD: 0.0001, AllowanceUSD: 5}},
	}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := world{clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))} // sleeps advance it
	out := filepath.Join(t.TempDir(), "out")
	env := hermeticEnv(t, s.OpenAlexURL(), s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_RESOLVERS_ORDER":           "openalex,landing_page",
		"DOCSTOKG_OPENALEX_API_KEY":          "k",
		"DOCSTOKG_OPENALEX_PER_PAGE":         "25",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS":   "10000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST": "100",
	})
	res := runMain(t, &w, env, "run", "--topic", "graph pages", "--out", out, "--json")
	if res.code != ExitOK && res.code != ExitIncomplete {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	var sum download.Summary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "HTML")); len(ents) != 0 {
		t.Errorf("HTML/ holds %d files", len(ents))
	}
	if sum.ByClassification["html"] != 0 || sum.ByClassification["pdf"] == 0 || sum.ByReason["paywall"] == 0 {
		t.Errorf("classes %v reasons %v", sum.ByClassification, sum.ByReason)
	}
	for _, r := range readManifest(t, filepath.Join(out, "manifest.jsonl")) {
		if r.Classification == manifest.ClassHTML {
			t.Errorf("%s recorded as html: %s", r.WorkID, r.URL)
		}
	}
	if sum.OpenAlex == nil || math.Abs(sum.OpenAlex.CostUSD-s.Spent()) > 1e-9 || s.Spent() < 0.003 {
		t.Errorf("ledger %+v, simulator charged %v", sum.OpenAlex, s.Spent())
	}
	if r := sum.OpenAlex.RemainingUSD; r == nil || math.Abs(*r-(5-s.Spent())) > 1e-6 {
		t.Errorf("remaining %v, want %v", r, 5-s.Spent())
	}
}
