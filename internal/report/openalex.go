package report

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docstokg/contentdl/internal/download"
)

// openalexLine is the summary table's line about OpenAlex spending, "" when the run
// has no ledger figures.
func openalexLine(s *download.Summary) string {
	u := s.OpenAlex
	if u == nil {
		return ""
	}
	line := fmt.Sprintf("openalex: cost_usd %.4f", u.CostUSD)
	if u.RemainingUSD != nil {
		line += fmt.Sprintf(", remaining_usd %.4f", *u.RemainingUSD)
	} else {
		line += ", remaining_usd unknown"
	}
	if u.MaxCostUSD > 0 {
		line += fmt.Sprintf(" (budget %.4f)", u.MaxCostUSD)
	}
	return line + "\n"
}

// stopLine explains an early stop, "" when there was none.
func stopLine(s *download.Summary) string {
	if s.StopReason == download.ReasonBudgetExhausted {
		return "stopped: budget_exhausted (openalex.max_cost_usd reached); run again, with a higher budget or tomorrow, to resume\n"
	}
	if s.StopReason != "" {
		return "stopped: " + s.StopReason + "\n"
	}
	return ""
}

// openalexCollectors are the OpenAlex cost gauges: what the run spent and the
// allowance left as last reported (NaN when OpenAlex never said).
func openalexCollectors(s *download.Summary) []prometheus.Collector {
	cost := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "contentdl_openalex_cost_usd",
		Help: "USD the last run spent on OpenAlex (sum of X-RateLimit-Cost-USD).",
	})
	remaining := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "contentdl_openalex_remaining_usd",
		Help: "OpenAlex allowance left in USD as last reported (X-RateLimit-Remaining-USD); NaN when never reported.",
	})
	remaining.Set(math.NaN())
	if u := s.OpenAlex; u != nil {
		cost.Set(u.CostUSD)
		if u.RemainingUSD != nil {
			remaining.Set(*u.RemainingUSD)
		}
	}
	return []prometheus.Collector{cost, remaining}
}
