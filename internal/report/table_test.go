package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/golden"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/openalex"
)

func TestSummaryTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummaryTable(&b, fixtureSummary()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "summary_table.golden", b.Bytes())
}

func TestSummaryTableInterruptedGolden(t *testing.T) {
	s := &download.Summary{
		RunID: "r2", DurationSeconds: 3725, RetryPolicy: "legacy", Works: 1, Deferred: 1,
		Interrupted: true, DiscoveryError: "openalex: status 503",
		ByClassification: map[string]int{"deferred": 1}, ByReason: map[string]int{"interrupted": 1},
	}
	var b bytes.Buffer
	if err := WriteSummaryTable(&b, s); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "summary_table_interrupted.golden", b.Bytes())
}

// The JSON summary (manifest.summary.json and --json) is an interface for scripts:
// its field names are pinned by this golden file.
func TestSummaryJSONGolden(t *testing.T) {
	data, err := json.MarshalIndent(fixtureSummary(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "summary.json.golden", append(data, '\n'))
}

func TestSummaryTableIsDeterministic(t *testing.T) {
	var first bytes.Buffer
	if err := WriteSummaryTable(&first, fixtureSummary()); err != nil {
		t.Fatal(err)
	}
	for range 20 { // map iteration order changes from call to call
		var b bytes.Buffer
		if err := WriteSummaryTable(&b, fixtureSummary()); err != nil {
			t.Fatal(err)
		}
		if b.String() != first.String() {
			t.Fatalf("output changed between calls:\n%s\nvs\n%s", b.String(), first.String())
		}
	}
}

func TestSummaryTableLinesAreAligned(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummaryTable(&b, fixtureSummary()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "HOST ") })
	if at < 0 {
		t.Fatalf("no host section:\n%s", b.String())
	}
	col := strings.Index(lines[at], "REQUESTS")
	for _, l := range lines[at+1:] {
		if l == "" {
			break
		}
		if c := l[col-1 : col]; c != " " {
			t.Errorf("REQUESTS column not aligned in %q", l)
		}
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing space in %q", l)
		}
	}
}

func TestMissReasonsTopFiveTiesByName(t *testing.T) {
	got := missReasons(map[string]int{
		"already_saved": 50, "not_modified": 9, "3_candidates": 9, "": 7,
		"b": 3, "a": 3, "c": 3, "top": 8, "d": 2, "e": 2, "zero": 0,
	}, 5)
	want := []string{"top", "a", "b", "c", "d"}
	if !slices.Equal(got, want) {
		t.Errorf("missReasons = %v, want %v", got, want)
	}
}

func TestSummaryTableCapsHosts(t *testing.T) {
	s := &download.Summary{RunID: "r", Works: 1, ByClassification: map[string]int{"pdf": 1}}
	for i := range topHosts + 3 {
		s.Hosts = append(s.Hosts, fetch.HostStats{Host: fmt.Sprintf("h%02d.example", i), Provider: "web", Requests: int64(100 - i), Successes: 1})
	}
	var b bytes.Buffer
	if err := WriteSummaryTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "h00.example") || !strings.Contains(out, fmt.Sprintf("h%02d.example", topHosts-1)) {
		t.Errorf("the busiest hosts are missing:\n%s", out)
	}
	if strings.Contains(out, fmt.Sprintf("h%02d.example", topHosts)) {
		t.Errorf("more than %d hosts listed:\n%s", topHosts, out)
	}
	// The three quietest hosts made 100-15 + 100-16 + 100-17 = 252 requests.
	if !strings.Contains(out, "(3 more hosts)") || !strings.Contains(out, " 252") {
		t.Errorf("no tally of the hidden hosts:\n%s", out)
	}
}

func TestSummaryTableNil(t *testing.T) {
	if err := WriteSummaryTable(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil summary: want an error")
	}
}

func TestFormatters(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatRPS(0.333), "0.33"}, {formatRPS(10), "10"}, {formatRPS(6.4), "6.4"}, {formatRPS(1e308), "inf"},
		{formatRPS(0), "0"}, {formatRPS(250.4), "250"}, {formatRPS(0.005), "0.005"}, {formatRPS(2), "2"},
		{formatMS(0), "-"}, {formatMS(7.25), "7.2ms"}, {formatMS(182.4), "182ms"}, {formatMS(3120.5), "3.12s"},
		{formatBytes(512), "512 B"}, {formatBytes(1234), "1.2 kB"}, {formatBytes(12_400_000), "12 MB"},
		{formatDuration(0), "0s"}, {formatDuration(45_400_000_000), "45s"}, {formatDuration(190e9), "3m10s"},
		{formatDuration(3725e9), "1h02m"}, {formatDuration(-5), "0s"},
		{formatDuration(2*time.Hour + 5*time.Minute), "2h05m"}, {formatDuration(76 * time.Hour), "3d04h"},
		{formatDuration(24 * time.Hour), "1d00h"}, {formatSeconds(2 * time.Second), "2s"}, {formatSeconds(1500 * time.Millisecond), "1.5s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The table names the OpenAlex spending and a budget stop.
func TestSummaryTableOpenAlexAndBudget(t *testing.T) {
	s := fixtureSummary()
	s.OpenAlex = &openalex.Usage{CostUSD: 0.0042, RemainingUSD: ptr(0.9958), MaxCostUSD: 0.005}
	s.StopReason = download.ReasonBudgetExhausted
	var b strings.Builder
	if err := WriteSummaryTable(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"openalex: cost_usd 0.0042, remaining_usd 0.9958 (budget 0.0050)", "stopped: budget_exhausted"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
