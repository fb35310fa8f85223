package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/golden"
	"github.com/docstokg/contentdl/internal/learning"
)

func tp(t time.Time) *time.Time { return &t }

// statusRows covers every status and column state.
func statusRows(now time.Time) []learning.ProviderBehavior {
	return []learning.ProviderBehavior{
		{Provider: "crossref", Host: "api.crossref.org", TotalRequests: 1200, ConfiguredRPS: 10, EffectiveRPS: 5,
			CeilingRPS: 5, UpdatedAt: now.Add(-time.Minute), Status: learning.StatusNormal, RecoveryTimes: []float64{}},
		{Provider: "openalex", Host: "api.openalex.org", Total429s: 3, TotalRequests: 5000, ConfiguredRPS: 10, EffectiveRPS: 10,
			Last429At: tp(now.Add(-2 * time.Hour)), QuotaResetAt: tp(now.Add(5*time.Hour + 30*time.Minute)),
			UpdatedAt: now.Add(-2 * time.Hour), Status: learning.StatusQuotaExhausted},
		{Provider: "unpaywall", Host: "api.unpaywall.org", Total429s: 1, TotalRequests: 50, ConfiguredRPS: 5, EffectiveRPS: 5,
			Last429At: tp(now.Add(-26 * time.Hour)), QuotaResetAt: tp(now.Add(-time.Hour)),
			UpdatedAt: now.Add(-26 * time.Hour), Status: learning.StatusQuotaExhausted}, // the mark has expired
		{Provider: "web", Host: "export.arxiv.org", Consecutive429s: 4, Total429s: 17, TotalRequests: 310,
			RecoveryTimes: []float64{1, 3, 2}, AppliedReductionPct: 20, ConfiguredRPS: 0.33, EffectiveRPS: 0.264,
			Last429At: tp(now.Add(-45 * time.Second)), UpdatedAt: now.Add(-45 * time.Second), Status: learning.StatusReducing},
		{Provider: "web", Host: "pub.example:8443", Total429s: 9, TotalRequests: 900, RecoveryTimes: []float64{1, 2, 4, 30},
			AppliedReductionPct: 57.123456789, ConfiguredRPS: 25, EffectiveRPS: 10.719135802749999, LastGoodRPS: 11,
			Last429At: tp(now.Add(-3*time.Minute - 12*time.Second)), UpdatedAt: now, Status: learning.StatusRecovering},
		{Provider: "web", Host: "slow.example", Total429s: 200, TotalRequests: 400, AppliedReductionPct: 80, ConfiguredRPS: 0.2,
			EffectiveRPS: 0.05, Last429At: tp(now.Add(-3*24*time.Hour - 4*time.Hour)), UpdatedAt: now.Add(-3 * 24 * time.Hour),
			Status: learning.StatusRecovering},
	}
}

var renderNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRenderTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteLearningTable(&buf, statusRows(renderNow), renderNow); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "learning_status_table.golden", buf.Bytes())

	buf.Reset()
	if err := WriteLearningTable(&buf, nil, renderNow); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "learning_status_table_empty.golden", buf.Bytes())
}

func TestRenderJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteLearningJSON(&buf, statusRows(renderNow), renderNow); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "learning_status.json.golden", buf.Bytes())

	// The schema is stable: every key of every row is present, absent values are null.
	var doc struct {
		SchemaVersion int              `json:"schema_version"`
		GeneratedAt   time.Time        `json:"generated_at"`
		Providers     []map[string]any `json:"providers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := []string{"key", "provider", "host", "status", "consecutive_429s", "total_429s", "total_requests",
		"applied_reduction_pct", "configured_rps", "effective_rps", "ceiling_rps", "recovery_estimate_s",
		"last_429_at", "seconds_since_last_429", "quota_reset_at"}
	for _, row := range doc.Providers {
		if len(row) != len(keys) {
			t.Errorf("row has %d keys, want %d: %v", len(row), len(keys), row)
		}
		for _, k := range keys {
			if _, ok := row[k]; !ok {
				t.Errorf("row lacks %q: %v", k, row)
			}
		}
	}
	if doc.SchemaVersion != 1 || !doc.GeneratedAt.Equal(renderNow) || doc.Providers[2]["status"] != "normal" {
		t.Fatalf("doc %+v", doc)
	}

	buf.Reset()
	if err := WriteLearningJSON(&buf, nil, renderNow); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "learning_status_empty.json.golden", buf.Bytes())
}

// rows1000 is a status table of 1,000 providers.
func rows1000() []learning.ProviderBehavior {
	rows := make([]learning.ProviderBehavior, 1000)
	for i := range rows {
		rows[i] = learning.ProviderBehavior{Provider: "web", Host: fmt.Sprintf("host%04d.example.org", i), Total429s: int64(i),
			TotalRequests: int64(10 * i), RecoveryTimes: []float64{1, 2, float64(i % 7)}, AppliedReductionPct: float64(i % 80),
			ConfiguredRPS: 10, EffectiveRPS: 10 * (1 - float64(i%80)/100), Last429At: tp(renderNow.Add(-time.Duration(i) * time.Second)),
			UpdatedAt: renderNow, Status: learning.StatusRecovering}
	}
	return rows
}

func BenchmarkRenderTable1000(b *testing.B) {
	rows := rows1000()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteLearningTable(&buf, rows, renderNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderJSON1000(b *testing.B) {
	rows := rows1000()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteLearningJSON(&buf, rows, renderNow); err != nil {
			b.Fatal(err)
		}
	}
}
