package report

import (
	"math"
	"time"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fetch"
)

// fixtureSummary is a run with saved, missed, skipped and deferred works, five hosts
// (one unlimited, one with transport errors) and retry decisions on two operations.
func fixtureSummary() *download.Summary {
	start := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	end := start.Add(2*time.Minute + 5*time.Second + 400*time.Millisecond)
	return &download.Summary{
		RunID:            "20260314T120000Z-1a2b3c4d",
		StartedAt:        start,
		FinishedAt:       end,
		DurationSeconds:  end.Sub(start).Seconds(),
		RetryPolicy:      "contextual",
		ProviderLearning: true,
		Works:            42,
		Saved:            31,
		Failed:           3,
		Deferred:         2,
		ByClassification: map[string]int{"pdf": 25, "xml": 3, "html": 1, "skipped": 2, "miss": 9, "deferred": 2},
		ByReason: map[string]int{
			"already_saved": 2, "no_oa_candidates": 4, "html_not_pdf": 2, "http_403": 2,
			"rate_limited": 2, "timeout": 1, "too_large": 1, "empty": 1,
		},
		Hosts: []fetch.HostStats{
			{Host: "api.openalex.org", Provider: "openalex", Requests: 3, Successes: 3, Status: map[int]int64{200: 3},
				Bytes: 90_000, ConfiguredRPS: 10, EffectiveRPS: 10, P50MS: 182.4, P95MS: 410.9},
			{Host: "api.unpaywall.org", Provider: "unpaywall", Requests: 44, Successes: 40, Status: map[int]int64{200: 40, 404: 2, 429: 2},
				Count429: 2, Retries: 2, ConfiguredRPS: 10, EffectiveRPS: 6.4, P50MS: 95.2, P95MS: 640},
			{Host: "export.arxiv.org", Provider: "arxiv", Requests: 6, Successes: 6, Status: map[int]int64{200: 6},
				Bytes: 12_400_000, ConfiguredRPS: 0.333, EffectiveRPS: 0.333, P50MS: 1250, P95MS: 3120.5},
			{Host: "www.example-publisher.com", Provider: "web", Requests: 12, Successes: 8,
				Status: map[int]int64{200: 8, 403: 2}, Errors: map[string]int64{"timeout": 2},
				Retries: 3, Bytes: 8_200_000, ConfiguredRPS: 2, EffectiveRPS: 2, P50MS: 7.25, P95MS: 2400},
			{Host: "cdn.example.net", Provider: "web", Requests: 12, Successes: 12, Status: map[int]int64{200: 12},
				Bytes: 30_000_000, ConfiguredRPS: math.MaxFloat64, EffectiveRPS: math.MaxFloat64, P50MS: 40, P95MS: 88},
		},
		Operations: map[string]fetch.OpStats{
			"resolve":  {Retries: 2, Failovers: 1},
			"download": {Retries: 3, Defers: 2, Fails: 2},
		},
	}
}
