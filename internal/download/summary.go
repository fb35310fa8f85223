package download

import (
	"encoding/json"
	"time"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
)

// Summary is what manifest.summary.json (a shard's manifest.shard-I-of-N.summary.json) holds and what --json prints.
type Summary struct {
	RunID            string    `json:"run_id"`
	StartedAt        time.Time `json:"started_at"`
	FinishedAt       time.Time `json:"finished_at"`
	DurationSeconds  float64   `json:"duration_seconds"`
	RetryPolicy      string    `json:"retry_policy"`
	ProviderLearning bool      `json:"provider_learning"`
	// Shard is "I/N" for a run of one shard (--shard), omitted otherwise.
	Shard          string `json:"shard,omitempty"`
	Works          int    `json:"works"`
	Saved          int    `json:"saved"`
	Failed         int    `json:"failed"`
	Deferred       int    `json:"deferred"`
	Interrupted    bool   `json:"interrupted"`
	InputErrors    int    `json:"input_errors,omitempty"`
	DiscoveryError string `json:"discovery_error,omitempty"`
	// StopReason says why the run stopped early on purpose: "budget_exhausted" when
	// openalex.max_cost_usd was reached (exit 3; a later run resumes).
	StopReason string `json:"stop_reason,omitempty"`
	// OpenAlex is what the run spent on OpenAlex (cost_usd) and the allowance left as
	// last reported (remaining_usd).
	OpenAlex         *openalex.Usage          `json:"openalex,omitempty"`
	ByClassification map[string]int           `json:"by_classification"`
	ByReason         map[string]int           `json:"by_reason"`
	Hosts            []fetch.HostStats        `json:"hosts"`
	Operations       map[string]fetch.OpStats `json:"operations,omitempty"`
}

// Incomplete reports whether some works failed for reasons a later run may fix, or
// were deferred: the run finished, but cron should hear about it (exit 3).
func (s *Summary) Incomplete() bool {
	return s.Failed > 0 || s.Deferred > 0 || s.DiscoveryError != "" || s.InputErrors > 0 || s.StopReason != ""
}

func (r *Runner) fillSummary(s *Summary) {
	r.mu.Lock()
	s.ByClassification = map[string]int{}
	for k, v := range r.byClass {
		s.ByClassification[k] = v
		s.Works += v
	}
	s.ByReason = map[string]int{}
	for k, v := range r.byReason {
		s.ByReason[k] = v
	}
	s.Failed = r.failed
	s.InputErrors = r.inputErrors
	r.mu.Unlock()
	s.Saved = s.ByClassification[manifest.ClassPDF] + s.ByClassification[manifest.ClassXML] +
		s.ByClassification[manifest.ClassHTML] + s.ByClassification[manifest.ClassSkipped]
	s.Deferred = s.ByClassification[manifest.ClassDeferred]
	s.DurationSeconds = s.FinishedAt.Sub(s.StartedAt).Seconds()
	s.Hosts = r.deps.Fetch.HostStats()
	s.Operations = r.deps.Fetch.OpStats()
}

// writeSummary writes the summary atomically.
func writeSummary(path string, s *Summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(data, '\n'))
}

// writeFile writes a file under OUT atomically, 0666 &^ umask.
func writeFile(path string, data []byte) error {
	return fileperm.WriteFile(path, data, fileperm.Shared)
}
