package report

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/docstokg/contentdl/internal/fleet"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
)

// parseMetrics reads a textfile the way node_exporter does, with the Prometheus text
// parser.
func parseMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("the metrics file does not parse: %v", err)
	}
	return mfs
}

// find returns the metric of family name whose labels are exactly labels.
func find(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

func TestMetricsFileHoldsEverySeries(t *testing.T) {
	m := NewMetrics()
	m.ObserveRequest("api.openalex.org", 200, policy.ErrNone, 180*time.Millisecond)
	m.ObserveRequest("api.openalex.org", 200, policy.ErrNone, 420*time.Millisecond)
	m.ObserveRequest("api.openalex.org", 200, policy.ErrNone, 150*time.Millisecond)
	m.ObserveRequest("www.example-publisher.com", 0, policy.ErrTimeout, 30*time.Second)
	m.ObserveRequest("api.unpaywall.org", 429, policy.ErrNone, 40*time.Millisecond)

	path := filepath.Join(t.TempDir(), "contentdl.prom")
	s := fixtureSummary()
	if err := m.WriteFile(path, s, true); err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, path)

	var names []string
	for n := range mfs {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{
		"contentdl_http_requests_total", "contentdl_last_run_success", "contentdl_last_run_timestamp_seconds",
		"contentdl_openalex_cost_usd", "contentdl_openalex_remaining_usd", "contentdl_provider_effective_rps", "contentdl_request_duration_seconds", "contentdl_retries_total",
		"contentdl_run_duration_seconds", "contentdl_works_total",
	}
	if !slices.Equal(names, want) {
		t.Errorf("families %v, want %v", names, want)
	}
	for name, typ := range map[string]dto.MetricType{
		"contentdl_works_total": dto.MetricType_COUNTER, "contentdl_http_requests_total": dto.MetricType_COUNTER,
		"contentdl_retries_total": dto.MetricType_COUNTER, "contentdl_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"contentdl_provider_effective_rps": dto.MetricType_GAUGE, "contentdl_run_duration_seconds": dto.MetricType_GAUGE,
		"contentdl_last_run_timestamp_seconds": dto.MetricType_GAUGE, "contentdl_last_run_success": dto.MetricType_GAUGE,
		"contentdl_openalex_cost_usd": dto.MetricType_GAUGE, "contentdl_openalex_remaining_usd": dto.MetricType_GAUGE,
	} {
		if got := mfs[name].GetType(); got != typ {
			t.Errorf("%s is a %v, want a %v", name, got, typ)
		}
		if mfs[name].GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
	}

	for class, n := range map[string]float64{"pdf": 25, "xml": 3, "html": 1, "skipped": 2, "miss": 9, "deferred": 2, "dry_run": 0} {
		if got := value(find(t, mfs, "contentdl_works_total", map[string]string{"classification": class})); got != n {
			t.Errorf("works_total{classification=%q} = %v, want %v", class, got, n)
		}
	}
	for _, c := range []struct {
		host, code string
		n          float64
	}{
		{"api.openalex.org", "200", 3},
		{"api.unpaywall.org", "200", 40}, {"api.unpaywall.org", "404", 2}, {"api.unpaywall.org", "429", 2},
		{"www.example-publisher.com", "403", 2}, {"www.example-publisher.com", "timeout", 2},
		{"cdn.example.net", "200", 12}, {"export.arxiv.org", "200", 6},
	} {
		if got := value(find(t, mfs, "contentdl_http_requests_total", map[string]string{"host": c.host, "code": c.code})); got != c.n {
			t.Errorf("http_requests_total{host=%q,code=%q} = %v, want %v", c.host, c.code, got, c.n)
		}
	}
	if n := len(mfs["contentdl_http_requests_total"].GetMetric()); n != 9 {
		t.Errorf("%d http_requests_total series, want 9", n)
	}
	for op, n := range map[string]float64{"manifest_fetch": 0, "resolve": 2, "download": 3, "validate": 0, "extract": 0} {
		if got := value(find(t, mfs, "contentdl_retries_total", map[string]string{"operation": op})); got != n {
			t.Errorf("retries_total{operation=%q} = %v, want %v", op, got, n)
		}
	}
	for host, rps := range map[string]float64{"api.openalex.org": 10, "api.unpaywall.org": 6.4, "export.arxiv.org": 0.333,
		"www.example-publisher.com": 2, "cdn.example.net": math.Inf(1)} {
		if got := value(find(t, mfs, "contentdl_provider_effective_rps", map[string]string{"host": host})); got != rps {
			t.Errorf("provider_effective_rps{host=%q} = %v, want %v", host, got, rps)
		}
	}
	if got := value(find(t, mfs, "contentdl_run_duration_seconds", nil)); got != 125.4 {
		t.Errorf("run_duration_seconds = %v", got)
	}
	if got, want := value(find(t, mfs, "contentdl_last_run_timestamp_seconds", nil)), float64(s.FinishedAt.UnixNano())/1e9; got != want {
		t.Errorf("last_run_timestamp_seconds = %v, want %v", got, want)
	}
	if got := value(find(t, mfs, "contentdl_last_run_success", nil)); got != 1 {
		t.Errorf("last_run_success = %v, want 1", got)
	}

	h := find(t, mfs, "contentdl_request_duration_seconds", map[string]string{"host": "api.openalex.org"}).GetHistogram()
	if h.GetSampleCount() != 3 || math.Abs(h.GetSampleSum()-0.75) > 1e-9 {
		t.Errorf("openalex histogram: count %d sum %v, want 3 and 0.75", h.GetSampleCount(), h.GetSampleSum())
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if cum[0.1] != 0 || cum[0.25] != 2 || cum[0.5] != 3 || cum[60] != 3 {
		t.Errorf("openalex buckets %v", cum)
	}
	slow := find(t, mfs, "contentdl_request_duration_seconds", map[string]string{"host": "www.example-publisher.com"}).GetHistogram()
	if slow.GetSampleCount() != 1 || slow.GetSampleSum() != 30 {
		t.Errorf("a timed-out attempt is observed too: count %d sum %v", slow.GetSampleCount(), slow.GetSampleSum())
	}
}

func TestMetricsFailedRun(t *testing.T) {
	m := NewMetrics()
	path := filepath.Join(t.TempDir(), "contentdl.prom")
	if err := m.WriteFile(path, fixtureSummary(), false); err != nil {
		t.Fatal(err)
	}
	if got := value(find(t, parseMetrics(t, path), "contentdl_last_run_success", nil)); got != 0 {
		t.Errorf("last_run_success = %v after a failed run, want 0", got)
	}
}

// A run that ended before it had a summary (OUT locked, say) still tells cron's
// alerting that it ran and failed.
func TestMetricsWithoutSummary(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)
	m.SetClock(func() time.Time { return now })
	path := filepath.Join(t.TempDir(), "contentdl.prom")
	if err := m.WriteFile(path, nil, false); err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, path)
	if got := value(find(t, mfs, "contentdl_last_run_success", nil)); got != 0 {
		t.Errorf("last_run_success = %v", got)
	}
	if got := value(find(t, mfs, "contentdl_last_run_timestamp_seconds", nil)); got != float64(now.Unix()) {
		t.Errorf("last_run_timestamp_seconds = %v, want %v", got, now.Unix())
	}
	if _, ok := mfs["contentdl_works_total"]; ok {
		t.Error("works_total written without a summary")
	}
}

func TestMetricsWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "contentdl.prom")
	if err := os.WriteFile(path, []byte("# an old, unrelated file\nold_metric 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	if err := m.WriteFile(path, fixtureSummary(), true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "old_metric") || !strings.Contains(string(data), "contentdl_works_total") {
		t.Errorf("the old file was not replaced:\n%s", data)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "contentdl.prom" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want only contentdl.prom (no temp file left)", names)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// 0666 &^ umask, as a file the kernel creates with 0666 gets (0644 under umask
	// 022, so node_exporter can read it); internal/cli checks it under two umasks.
	ref := filepath.Join(t.TempDir(), "ref")
	rf, err := os.OpenFile(ref, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	rf.Close()
	want, _ := os.Stat(ref)
	if fi.Mode().Perm() != want.Mode().Perm() || fi.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("mode %v, want %v (0666 &^ umask)", fi.Mode().Perm(), want.Mode().Perm())
	}
}

func TestMetricsWriteErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "contentdl.prom")
	err := NewMetrics().WriteFile(path, fixtureSummary(), true)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v should name %s", err, path)
	}
	// A rename onto a directory fails after the temp file was written: it must go.
	target := filepath.Join(dir, "adir")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewMetrics().WriteFile(target, fixtureSummary(), true); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "adir" {
		t.Errorf("temp file left behind: %v", entries)
	}
}

func TestMetricsConcurrentObserveAndWrite(t *testing.T) {
	m := NewMetrics()
	dir := t.TempDir()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				m.ObserveRequest([]string{"a.example", "b.example"}[(g+i)%2], 200, policy.ErrNone, time.Duration(i)*time.Millisecond)
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := m.WriteFile(filepath.Join(dir, "c.prom"), fixtureSummary(), true); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := m.WriteFile(filepath.Join(dir, "c.prom"), fixtureSummary(), true); err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, filepath.Join(dir, "c.prom"))
	var total uint64
	for _, host := range []string{"a.example", "b.example"} {
		total += find(t, mfs, "contentdl_request_duration_seconds", map[string]string{"host": host}).GetHistogram().GetSampleCount()
	}
	if total != 8*200 {
		t.Errorf("%d observations, want %d", total, 8*200)
	}
}

// The OpenAlex ledger's figures reach the metrics file; an allowance never reported
// is NaN, not a misleading 0.
func TestMetricsCarryOpenAlexCost(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remaining *float64
	}{{"reported", ptr(4.25)}, {"never reported", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			s := fixtureSummary()
			s.OpenAlex = &openalex.Usage{CostUSD: 0.0123, RemainingUSD: tc.remaining}
			path := filepath.Join(t.TempDir(), "m.prom")
			if err := NewMetrics().WriteFile(path, s, true); err != nil {
				t.Fatal(err)
			}
			mfs := parseMetrics(t, path)
			if got := value(mfs["contentdl_openalex_cost_usd"].GetMetric()[0]); got != 0.0123 {
				t.Errorf("cost %v", got)
			}
			got := value(mfs["contentdl_openalex_remaining_usd"].GetMetric()[0])
			if tc.remaining == nil && !math.IsNaN(got) || tc.remaining != nil && got != *tc.remaining {
				t.Errorf("remaining %v, want %v", got, tc.remaining)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

// A shard's metrics carry shard="I/N" on every series, so two shards' files in one
// textfile folder never hold the same series.
func TestMetricsShardLabel(t *testing.T) {
	m := NewMetrics()
	m.Shard = "2/3"
	m.ObserveRequest("api.openalex.org", 200, policy.ErrNone, 180*time.Millisecond)
	path := filepath.Join(t.TempDir(), "contentdl.shard-2-of-3.prom")
	if err := m.WriteFile(path, fixtureSummary(), true); err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, path)
	if got := value(find(t, mfs, "contentdl_last_run_success", map[string]string{"shard": "2/3"})); got != 1 {
		t.Errorf("last_run_success{shard=2/3} = %v", got)
	}
	for name, mf := range mfs {
		for _, s := range mf.GetMetric() {
			has := false
			for _, l := range s.GetLabel() {
				has = has || (l.GetName() == "shard" && l.GetValue() == "2/3")
			}
			if !has {
				t.Errorf("%s %v has no shard label", name, s.GetLabel())
			}
		}
	}
}

// TestMetricsCarryTheFleet: with a fleet, the file has its members, whether the run
// ended in fallback, the fallback episodes and the failed Redis calls, labelled by
// shard like every series.
func TestMetricsCarryTheFleet(t *testing.T) {
	m := NewMetrics()
	m.Shard = "2/4"
	m.Fleet = func() fleet.Stats { return fleet.Stats{Members: 4, Fallback: true, Fallbacks: 2, Errors: 7} }
	path := filepath.Join(t.TempDir(), "contentdl.prom")
	if err := m.WriteFile(path, fixtureSummary(), true); err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, path)
	shard := map[string]string{"shard": "2/4"}
	for name, want := range map[string]float64{
		"contentdl_fleet_members":            4,
		"contentdl_fleet_fallback":           1,
		"contentdl_fleet_fallbacks_total":    2,
		"contentdl_fleet_redis_errors_total": 7,
	} {
		if got := value(find(t, mfs, name, shard)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if mfs["contentdl_fleet_fallbacks_total"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("contentdl_fleet_fallbacks_total is a %v, want a counter", mfs["contentdl_fleet_fallbacks_total"].GetType())
	}
	// Without a fleet, no fleet series.
	plain := filepath.Join(t.TempDir(), "plain.prom")
	if err := NewMetrics().WriteFile(plain, fixtureSummary(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := parseMetrics(t, plain)["contentdl_fleet_members"]; ok {
		t.Error("fleet series written without a fleet")
	}
}
