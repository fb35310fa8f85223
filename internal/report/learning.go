package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/docstokg/contentdl/internal/learning"
)

// WriteLearningTable writes the status table of `contentdl provider-learning-status`,
// one row per entry in the given order:
//
//	PROVIDER@HOST  STATUS  CONSEC 429  TOTAL 429  REDUCTION  RPS (CONFIGURED → EFFECTIVE)  RECOVERY EST  LAST 429
//
// The status is evaluated at now (an expired quota mark no longer shows); a quota in
// force shows its reset. The recovery estimate is the median Retry-After, or 2s; the
// last 429 is the time since it, or "never". Rates and durations use the same
// formatters as the run's summary table. The output is stable for golden tests.
func WriteLearningTable(w io.Writer, rows []learning.ProviderBehavior, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER@HOST\tSTATUS\tCONSEC 429\tTOTAL 429\tREDUCTION\tRPS (CONFIGURED → EFFECTIVE)\tRECOVERY EST\tLAST 429")
	for _, b := range rows {
		st := string(b.StatusAt(now))
		if b.StatusAt(now) == learning.StatusQuotaExhausted {
			st += " (resets in " + formatDuration(b.QuotaResetAt.Sub(now)) + ")"
		}
		last := "never"
		if b.Last429At != nil {
			last = formatDuration(now.Sub(*b.Last429At)) + " ago"
		}
		rps := formatRPS(b.ConfiguredRPS) + " → " + formatRPS(b.EffectiveRPS)
		if b.CeilingRPS > 0 && b.CeilingRPS <= b.EffectiveRPS {
			rps += " (advertised)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s%%\t%s\t%s\t%s\n",
			b.Key(), st, b.Consecutive429s, b.Total429s,
			strconv.FormatFloat(finiteOr0(b.AppliedReductionPct), 'f', 1, 64),
			rps, formatSeconds(b.RecoveryEstimate()), last)
	}
	return tw.Flush()
}

// statusJSON is the stable schema of WriteLearningJSON (documented in docs/provider-learning.md).
type statusJSON struct {
	SchemaVersion int             `json:"schema_version"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Providers     []statusJSONRow `json:"providers"`
}

type statusJSONRow struct {
	Key                 string          `json:"key"`
	Provider            string          `json:"provider"`
	Host                string          `json:"host"`
	Status              learning.Status `json:"status"`
	Consecutive429s     int             `json:"consecutive_429s"`
	Total429s           int64           `json:"total_429s"`
	TotalRequests       int64           `json:"total_requests"`
	AppliedReductionPct float64         `json:"applied_reduction_pct"`
	ConfiguredRPS       float64         `json:"configured_rps"`
	EffectiveRPS        float64         `json:"effective_rps"`
	CeilingRPS          *float64        `json:"ceiling_rps"`
	RecoveryEstimateS   float64         `json:"recovery_estimate_s"`
	Last429At           *time.Time      `json:"last_429_at"`
	SecondsSinceLast429 *float64        `json:"seconds_since_last_429"`
	QuotaResetAt        *time.Time      `json:"quota_reset_at"`
}

// WriteLearningJSON writes the machine-readable status of
// `contentdl provider-learning-status --json`:
//
//	{"schema_version":1,"generated_at":…,"providers":[{"key","provider","host","status",
//	 "consecutive_429s","total_429s","total_requests","applied_reduction_pct",
//	 "configured_rps","effective_rps","ceiling_rps","recovery_estimate_s","last_429_at",
//	 "seconds_since_last_429","quota_reset_at"}]}
//
// Every key is always present; absent times and the absent ceiling are null. providers
// is [] when empty. Times are RFC 3339 UTC.
func WriteLearningJSON(w io.Writer, rows []learning.ProviderBehavior, now time.Time) error {
	out := statusJSON{SchemaVersion: learning.SchemaVersion, GeneratedAt: now.UTC(), Providers: make([]statusJSONRow, 0, len(rows))}
	for _, b := range rows {
		r := statusJSONRow{
			Key:                 b.Key(),
			Provider:            b.Provider,
			Host:                b.Host,
			Status:              b.StatusAt(now),
			Consecutive429s:     b.Consecutive429s,
			Total429s:           b.Total429s,
			TotalRequests:       b.TotalRequests,
			AppliedReductionPct: round6(b.AppliedReductionPct),
			ConfiguredRPS:       round6(b.ConfiguredRPS),
			EffectiveRPS:        round6(b.EffectiveRPS),
			RecoveryEstimateS:   round6(b.RecoveryEstimate().Seconds()),
		}
		if b.CeilingRPS > 0 {
			c := round6(b.CeilingRPS)
			r.CeilingRPS = &c
		}
		if b.Last429At != nil {
			t := b.Last429At.UTC()
			r.Last429At = &t
			s := math.Max(0, math.Round(now.Sub(t).Seconds()*1000)/1000)
			r.SecondsSinceLast429 = &s
		}
		if r.Status == learning.StatusQuotaExhausted {
			t := b.QuotaResetAt.UTC()
			r.QuotaResetAt = &t
		}
		out.Providers = append(out.Providers, r)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// formatSeconds renders a duration in seconds with at most one decimal: "2s", "1.5s".
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + "s"
}

func finiteOr0(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// round6 rounds to 6 decimals (and maps non-finite values to 0, which JSON cannot hold).
func round6(v float64) float64 {
	v = finiteOr0(v)
	return math.Round(v*1e6) / 1e6
}
