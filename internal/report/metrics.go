package report

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/fleet"
	"github.com/docstokg/contentdl/internal/policy"
)

// requestBuckets are the request-duration histogram's upper bounds in seconds, from a
// fast API answer to a slow, large PDF's time to headers.
var requestBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Metrics collects what a run reports to Prometheus through the node_exporter
// textfile collector. Request durations are observed live (ObserveRequest); the rest
// comes from the run's Summary when the file is written. It has its own registry and
// never touches prometheus.DefaultRegisterer. All methods are safe for concurrent use.
type Metrics struct {
	// Shard, when set ("1/3"), labels every series shard="1/3", so the files of
	// shards on one machine do not collide in the textfile collector.
	Shard string
	// Fleet, when set, reports the shared limiter's state for the fleet series.
	Fleet    func() fleet.Stats
	duration *prometheus.HistogramVec
	now      func() time.Time
}

// NewMetrics returns an empty collector.
func NewMetrics() *Metrics {
	return &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "contentdl_request_duration_seconds",
			Help:    "Time to response headers (or to the transport error) of every HTTP attempt, by host.",
			Buckets: requestBuckets,
		}, []string{"host"}),
		now: clock.Real{}.Now,
	}
}

// SetClock makes the metrics tell the time (the last run's time, when a run ended
// without a summary) with now instead of the real clock.
func (m *Metrics) SetClock(now func() time.Time) {
	if now != nil {
		m.now = now
	}
}

// ObserveRequest records one HTTP attempt. Its signature matches
// fetch.Options.Observe, so it can be passed there directly.
func (m *Metrics) ObserveRequest(host string, status int, errKind policy.ErrKind, d time.Duration) {
	m.duration.WithLabelValues(host).Observe(d.Seconds())
}

// WriteFile writes every metric in the Prometheus text format to path, atomically: a
// temp file in the same folder (hidden, so the textfile collector's *.prom glob never
// sees it), fsync, rename, fsync the folder. Its mode is 0666 &^ umask (fileperm.Shared),
// like every file contentdl writes: under the usual umask 022 node_exporter can read it.
// s may be nil when the run ended before it had a summary: then only the request
// histogram and the last-run series are written, stamped with the current time.
// success is whether the run ended with exit code 0.
func (m *Metrics) WriteFile(path string, s *download.Summary, success bool) error {
	reg := prometheus.NewRegistry()
	var into prometheus.Registerer = reg
	if m.Shard != "" {
		into = prometheus.WrapRegistererWith(prometheus.Labels{"shard": m.Shard}, reg)
	}
	if err := into.Register(m.duration); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	collectors := m.summaryCollectors(s, success)
	if m.Fleet != nil {
		collectors = append(collectors, fleetCollectors(m.Fleet())...)
	}
	for _, c := range collectors {
		if err := into.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return fileperm.WriteAtomic(path, fileperm.Shared, func(f *os.File) error {
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(f, mf); err != nil {
				return err
			}
		}
		return nil
	})
}

// summaryCollectors builds the series that come from the run's summary.
func (m *Metrics) summaryCollectors(s *download.Summary, success bool) []prometheus.Collector {
	lastSuccess := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "contentdl_last_run_success",
		Help: "1 when the last run completed with exit code 0, else 0.",
	})
	if success {
		lastSuccess.Set(1)
	}
	lastRun := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "contentdl_last_run_timestamp_seconds",
		Help: "Unix time at which the last run finished.",
	})
	out := []prometheus.Collector{lastSuccess, lastRun}
	if s == nil {
		lastRun.Set(unixSeconds(m.now()))
		return out
	}
	end := s.FinishedAt
	if end.IsZero() {
		end = m.now()
	}
	lastRun.Set(unixSeconds(end))

	runDuration := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "contentdl_run_duration_seconds",
		Help: "Wall-clock duration of the last run.",
	})
	runDuration.Set(s.DurationSeconds)

	works := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contentdl_works_total",
		Help: "Works processed by the last run, by classification.",
	}, []string{"classification"})
	for _, c := range classOrder {
		works.WithLabelValues(c) // every known class is present, at 0 when unseen
	}
	for c, n := range s.ByClassification {
		works.WithLabelValues(c).Add(float64(n))
	}

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contentdl_http_requests_total",
		Help: "HTTP attempts of the last run by host and code: the status number, or the error kind of a transport error.",
	}, []string{"host", "code"})
	rps := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contentdl_provider_effective_rps",
		Help: "Requests per second the host was allowed at the end of the run (learned or configured; +Inf = unlimited).",
	}, []string{"host"})
	for _, h := range s.Hosts {
		for status, n := range h.Status {
			requests.WithLabelValues(h.Host, strconv.Itoa(status)).Add(float64(n))
		}
		for kind, n := range h.Errors {
			requests.WithLabelValues(h.Host, kind).Add(float64(n))
		}
		v := h.EffectiveRPS
		if isUnlimited(v) {
			v = math.Inf(1)
		}
		rps.WithLabelValues(h.Host).Set(v)
	}

	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contentdl_retries_total",
		Help: "Retries the retry policy decided in the last run, by operation.",
	}, []string{"operation"})
	for _, op := range policy.Operations() {
		retries.WithLabelValues(op.String())
	}
	for op, st := range s.Operations {
		retries.WithLabelValues(op).Add(float64(st.Retries))
	}
	out = append(out, runDuration, works, requests, rps, retries)
	return append(out, openalexCollectors(s)...)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// fleetCollectors are the shared limiter's series: members, whether the run ended in
// fallback (Redis away, local limits), the fallback episodes and the failed calls.
func fleetCollectors(st fleet.Stats) []prometheus.Collector {
	fallback := 0.0
	if st.Fallback {
		fallback = 1
	}
	gauge := func(name, help string, v float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v })
	}
	counter := func(name, help string, v float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v })
	}
	return []prometheus.Collector{
		gauge("contentdl_fleet_members", "Processes of the fleet alive at the last heartbeat.", float64(st.Members)),
		gauge("contentdl_fleet_fallback",
			"1 when the run ended limiting locally because the fleet's Redis was unreachable.", fallback),
		counter("contentdl_fleet_fallbacks_total",
			"Times the run fell back to local limits because the fleet's Redis was unreachable.", float64(st.Fallbacks)),
		counter("contentdl_fleet_redis_errors_total",
			"Redis calls of the shared limiter that failed or timed out.", float64(st.Errors)),
	}
}
