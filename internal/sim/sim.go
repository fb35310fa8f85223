package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options are the simulator's dependencies.
type Options struct {
	// Logger receives one debug record per request and errors; nil discards.
	Logger *slog.Logger
	// Clock tells the time for token buckets, Retry-After windows, HTTP dates and
	// the stats; nil means time.Now. Slow faults stall in real time regardless.
	Clock func() time.Time
	// Sleep waits out a host's latency; it returns an error when ctx ends first.
	// nil waits in real time. A test with a fake Clock can pass one that advances
	// the clock, or that holds requests until it releases them.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Host roles.
const (
	RoleOpenAlex  = "openalex"
	RoleUnpaywall = "unpaywall"
	RolePublisher = "publisher"
)

// Sim is a running simulator. Its methods are safe for concurrent use.
type Sim struct {
	sc     Scenario
	log    *slog.Logger
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	cat    *catalogue
	api    *endpoint
	upw    *endpoint
	hosts  []*endpoint
	all    []*endpoint
	done   chan struct{}
	bufs   sync.Pool
	bombMu sync.Mutex
	bombs  map[int64][]byte
	cost   meter // OpenAlex spending (cost.go)

	mu      sync.Mutex // guards closing and the Add side of wg
	closing bool
	wg      sync.WaitGroup
	once    sync.Once
}

// endpoint is one listener: a host with its own capacity, headers and stats.
type endpoint struct {
	sim   *Sim
	name  string
	role  string
	spec  ServiceSpec
	host  *HostSpec // publishers only
	index int       // publisher index
	ln    net.Listener
	srv   *http.Server
	url   string
	app   func(*recorder, *http.Request, time.Time)

	mu       sync.Mutex
	limiter  *rate.Limiter
	stats    counters
	gen      uint64              // Reset generation of stats
	attempts map[string]int      // per path, publishers
	served   int                 // requests that took a fault choice (all paths), publishers
	listed   int                 // /works listing requests, openalex
	broken   map[int]int         // malformed answers given per page, openalex
	fixed    map[string]Response // SetResponse, publishers
	// expiredCursors answer 400 once (ExpireCursor), openalex
	expiredCursors map[string]bool
}

// Start binds one loopback listener per host (127.0.0.1, a free port each), generates
// the works and serves until Close.
func Start(sc Scenario, opts Options) (*Sim, error) {
	sc = sc.WithDefaults()
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s := &Sim{
		sc:    sc,
		log:   opts.Logger,
		now:   opts.Clock,
		sleep: opts.Sleep,
		done:  make(chan struct{}),
		bombs: map[int64][]byte{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	start := s.now()

	newEP := func(name, role string, spec ServiceSpec) (*endpoint, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("sim: listen for %s: %w", name, err)
		}
		e := &endpoint{sim: s, name: name, role: role, spec: spec, ln: ln, url: "http://" + ln.Addr().String(),
			stats: newCounters(start, 0), attempts: map[string]int{}, broken: map[int]int{},
			fixed: map[string]Response{}}
		e.limiter = e.newLimiter()
		s.all = append(s.all, e)
		return e, nil
	}
	fail := func(err error) (*Sim, error) {
		for _, e := range s.all {
			_ = e.ln.Close()
		}
		return nil, err
	}
	var err error
	if s.api, err = newEP(RoleOpenAlex, RoleOpenAlex, sc.OpenAlex.ServiceSpec); err != nil {
		return fail(err)
	}
	if s.upw, err = newEP(RoleUnpaywall, RoleUnpaywall, sc.Unpaywall); err != nil {
		return fail(err)
	}
	urls := make([]string, len(sc.Hosts))
	for i := range sc.Hosts {
		e, err := newEP(sc.Hosts[i].Name, RolePublisher, sc.Hosts[i].ServiceSpec)
		if err != nil {
			return fail(err)
		}
		e.host, e.index = &s.sc.Hosts[i], i
		s.hosts = append(s.hosts, e)
		urls[i] = e.url
	}
	s.cat = generate(sc, urls)
	for i, h := range sc.Hosts {
		for _, sch := range h.Faults.Schedules {
			if _, ok := s.cat.routes[i][sch.Path]; !ok && !s.hosts[i].hasResponse(sch.Path) {
				s.log.Warn("sim: fault schedule for a path the host does not serve", "host", h.Name, "path", sch.Path)
			}
		}
	}
	for _, e := range s.all {
		if e.spec.Responses != nil {
			rs := slices.Clone(e.spec.Responses)
			for i := range rs {
				rs[i].Response = s.expand(rs[i].Response)
			}
			e.spec.Responses = rs
		}
	}
	s.api.app = s.serveOpenAlex
	s.upw.app = s.serveUnpaywall
	for _, e := range s.hosts {
		e.app = e.servePublisher
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	for _, e := range s.all {
		e.srv = &http.Server{Handler: e, ErrorLog: errLog, ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func(e *endpoint) {
			defer s.wg.Done()
			if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("sim: serve", "host", e.name, "err", err)
			}
		}(e)
	}
	s.log.Info("sim: started", "scenario", sc.Name, "works", len(s.cat.works), "openalex", s.api.url,
		"unpaywall", s.upw.url, "hosts", len(s.hosts))
	return s, nil
}

// Close stops every listener, cuts open connections and waits for all handlers to
// return. It is safe to call more than once.
func (s *Sim) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.done)
		for _, e := range s.all {
			if cerr := e.srv.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("sim: close %s: %w", e.name, cerr)
			}
		}
		s.wg.Wait()
	})
	return err
}

// Scenario returns a copy of the scenario the simulator runs, with defaults applied.
func (s *Sim) Scenario() Scenario {
	sc := s.sc
	sc.TopicIDs = slices.Clone(sc.TopicIDs)
	sc.Hosts = slices.Clone(sc.Hosts)
	sc.Works.List = slices.Clone(sc.Works.List)
	for i := range sc.Works.List {
		w := &sc.Works.List[i]
		w.Locations, w.Unpaywall, w.OpenAlex = slices.Clone(w.Locations), slices.Clone(w.Unpaywall), maps.Clone(w.OpenAlex)
	}
	sc.OpenAlex.Responses = slices.Clone(sc.OpenAlex.Responses)
	sc.Unpaywall.Responses = slices.Clone(sc.Unpaywall.Responses)
	for i := range sc.Hosts {
		sc.Hosts[i].Responses = slices.Clone(sc.Hosts[i].Responses)
		f := &sc.Hosts[i].Faults
		f.Shares = slices.Clone(f.Shares)
		f.Schedules = slices.Clone(f.Schedules)
		for j := range f.Schedules {
			f.Schedules[j].Attempts = slices.Clone(f.Schedules[j].Attempts)
		}
	}
	return sc
}

// OpenAlexURL is the base URL of the OpenAlex-like API (append /works).
func (s *Sim) OpenAlexURL() string { return s.api.url }

// UnpaywallURL is the base URL of the Unpaywall-like API (append /v2/{doi}).
func (s *Sim) UnpaywallURL() string { return s.upw.url }

// StatsURL is the URL of the JSON stats endpoint; POST to ResetURL zeroes them.
func (s *Sim) StatsURL() string { return s.api.url + "/__stats" }

// ResetURL is the URL that resets the simulator's state when POSTed to.
func (s *Sim) ResetURL() string { return s.api.url + "/__reset" }

// HostURL is the base URL of publisher host i (scenario order); "" if out of range.
func (s *Sim) HostURL(i int) string {
	if i < 0 || i >= len(s.hosts) {
		return ""
	}
	return s.hosts[i].url
}

// Hosts returns the base URLs of the publisher hosts in scenario order.
func (s *Sim) Hosts() []string {
	out := make([]string, len(s.hosts))
	for i, e := range s.hosts {
		out[i] = e.url
	}
	return out
}

// HostURLByName is the base URL of the named publisher host, or "".
func (s *Sim) HostURLByName(name string) string {
	for _, e := range s.hosts {
		if e.name == name {
			return e.url
		}
	}
	return ""
}

// Requests is how many requests for path the named publisher host has served since
// the start (or the last Reset); those over its capacity, answered 429 before any
// fault, are not counted. 0 for an unknown host.
func (s *Sim) Requests(host, path string) int {
	for _, e := range s.hosts {
		if e.name == host {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.attempts[path]
		}
	}
	return 0
}

// Works returns every generated work in id order (W1, W2, …).
func (s *Sim) Works() []Work {
	out := make([]Work, len(s.cat.works))
	for i, w := range s.cat.works {
		out[i] = w.Work
		out[i].TopicIDs = append([]string{}, w.TopicIDs...)
	}
	return out
}

// Expected maps each W-id to OutcomePDF or OutcomeMiss. It assumes a client that
// follows every lead and retries transient faults; a scenario whose faults make a
// copy permanently unreachable (a share of 1 for a fatal fault) is not reflected.
func (s *Sim) Expected() map[string]string {
	out := make(map[string]string, len(s.cat.works))
	for _, w := range s.cat.works {
		out[w.ID] = w.Expected
	}
	return out
}

// PDF returns the exact bytes a host serves as the PDF of the work, or false for an
// unknown or closed work.
func (s *Sim) PDF(id string) ([]byte, bool) {
	w, ok := s.cat.byID[id]
	if !ok || w.PDFSize == 0 {
		return nil, false
	}
	doc, err := newPDF(s.sc.Seed, w.ID, w.Title, w.PDFSize)
	if err != nil {
		return nil, false
	}
	b := make([]byte, doc.Size())
	if _, err := doc.ReadAt(b, 0); err != nil {
		return nil, false
	}
	return b, true
}

// Stats returns a snapshot of every host's counters.
func (s *Sim) Stats() Stats {
	st := Stats{Now: s.now(), Hosts: make([]HostStats, 0, len(s.all))}
	for _, e := range s.all {
		e.mu.Lock()
		h := e.stats.snapshot(st.Now)
		if st.Start.IsZero() {
			st.Start = e.stats.start
		}
		e.mu.Unlock()
		h.Name, h.Role, h.Addr = e.name, e.role, e.ln.Addr().String()
		st.Hosts = append(st.Hosts, h)
	}
	return st
}

// Reset returns the simulator to its starting state without restarting it: it
// zeroes the stats and restarts the timeline, refills the token buckets, closes every
// Retry-After window and rewinds the fault schedules and API fault counters, so that
// consecutive runs against one simulator meet the same conditions.
func (s *Sim) Reset() {
	now := s.now()
	for _, e := range s.all {
		e.mu.Lock()
		inFlight := e.stats.inFlight
		e.gen++
		e.stats = newCounters(now, e.gen)
		e.stats.inFlight, e.stats.maxInFlight = inFlight, inFlight
		e.limiter = e.newLimiter()
		e.attempts = map[string]int{}
		e.served = 0
		e.broken = map[int]int{}
		e.listed = 0
		e.mu.Unlock()
	}
	s.log.Info("sim: reset")
}

// enter registers a handler unless the simulator is closing.
func (s *Sim) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// wait waits out a host's latency with Options.Sleep, or in real time; false
// means the request or the simulator ended first.
func (s *Sim) wait(ctx context.Context, d time.Duration) bool {
	if s.sleep == nil {
		return s.pause(ctx, d)
	}
	select {
	case <-s.done:
		return false
	default:
	}
	return s.sleep(ctx, d) == nil
}

// pause stalls for d; false means the request or the simulator ended first.
func (s *Sim) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func (e *endpoint) newLimiter() *rate.Limiter {
	if e.spec.Capacity.Unlimited() {
		return nil
	}
	return rate.NewLimiter(rate.Limit(e.spec.Capacity.RPS), e.spec.Capacity.Burst)
}

// recorder wraps the ResponseWriter and counts the response as it goes out: the
// status when the header is written and the bytes before they are handed to the
// connection, so that a client that has read a response always finds it in the
// stats.
type recorder struct {
	http.ResponseWriter
	e       *endpoint
	arrived time.Time
	ref     logRef
	status  int
	bytes   int64
	cut     string // "reset" or "aborted" when the connection was closed without a response
	fault   string
	counted bool
}

// count records the outcome once: a status code or a cut.
func (r *recorder) count(key string, throttled bool) {
	if r.counted {
		return
	}
	r.counted = true
	answered := r.e.sim.now()
	r.e.mu.Lock()
	r.e.stats.respond(r.ref, r.arrived, answered, key, throttled)
	r.e.mu.Unlock()
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.count(strconv.Itoa(code), code == http.StatusTooManyRequests)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	r.e.sent(int64(len(p)))
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	if n < len(p) {
		r.e.sent(int64(n - len(p)))
	}
	return n, err
}

// cutConn records a connection closed without a response.
func (r *recorder) cutConn(why string) {
	r.cut = why
	r.count(why, false)
}

func (e *endpoint) sent(n int64) {
	e.mu.Lock()
	e.stats.bytes += n
	e.mu.Unlock()
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

// ServeHTTP counts the request, applies the hidden capacity and the rate-limit
// headers, and hands over to the host's application.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.sim
	if !s.enter() {
		w.Header().Set("Connection", "close")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	if e.role == RoleOpenAlex && strings.HasPrefix(r.URL.Path, "/__") {
		s.serveAdmin(w, r)
		return
	}
	now := s.now()
	rec := &recorder{ResponseWriter: w, e: e, arrived: now}
	e.mu.Lock()
	rec.ref = e.stats.arrive(now, s.sc.PolitenessGrace, r.UserAgent(), r.URL)
	allowed := e.limiter == nil || e.limiter.AllowN(now, 1)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.stats.inFlight--
		e.mu.Unlock()
		// A handler that wrote nothing gets net/http's empty 200.
		rec.count("200", false)
		s.log.Debug("sim: request", "host", e.name, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "cut", rec.cut, "fault", rec.fault, "bytes", rec.bytes)
	}()
	if d := e.spec.Latency; d > 0 {
		// The host decided at arrival (its bucket); it answers after its latency,
		// and the answer (headers, Retry-After window) is dated then.
		if !s.wait(r.Context(), d) {
			e.cut(rec, "aborted", false)
			return
		}
		now = s.now()
	}
	e.rateHeaders(rec.Header(), now)
	if !allowed {
		e.reject(rec, now, 0)
		return
	}
	if e.role != RolePublisher {
		if fr, ok := e.response(r.URL.Path); ok {
			rec.fault = "response"
			e.send(rec, r, fixed(fr), sendOpts{})
			return
		}
	}
	e.app(rec, r, now)
}

// reject answers 429 with the host's Retry-After; d > 0 overrides its delay.
func (e *endpoint) reject(rec *recorder, now time.Time, d time.Duration) {
	if d <= 0 {
		d = e.defaultRetryAfter(now)
	}
	e.retryAfter(rec.Header(), now, d, e.spec.RetryAfter)
	if e.role == RolePublisher {
		writeBody(rec, http.StatusTooManyRequests, "text/html; charset=utf-8",
			"<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>\n")
		return
	}
	writeJSONError(rec, http.StatusTooManyRequests, "Too Many Requests", "Rate limit exceeded; slow down.")
}

// defaultRetryAfter is the configured delay, or the time until the bucket holds a
// token again, rounded up to a whole second (at least 1 s).
func (e *endpoint) defaultRetryAfter(now time.Time) time.Duration {
	if e.spec.RetryAfterSeconds > 0 {
		return time.Duration(e.spec.RetryAfterSeconds) * time.Second
	}
	secs := 1.0
	e.mu.Lock()
	if e.limiter != nil {
		if missing := 1 - e.limiter.TokensAt(now); missing > 0 {
			secs = math.Max(1, math.Ceil(missing/e.spec.Capacity.RPS))
		}
	}
	e.mu.Unlock()
	return time.Duration(secs) * time.Second
}

// retryAfter writes a Retry-After of d in the given style (none falls back to
// seconds when a fault asked for one explicitly) and opens the politeness window.
func (e *endpoint) retryAfter(h http.Header, now time.Time, d time.Duration, style RetryAfterStyle) {
	if style == RetryAfterNone {
		return
	}
	secs := int64(math.Ceil(d.Seconds()))
	end := now.Add(time.Duration(secs) * time.Second)
	if style == RetryAfterHTTPDate {
		// An HTTP date has whole seconds: round the end up so that a client that
		// waits until the date never lands inside the window.
		if t := end.Truncate(time.Second); t.Before(end) {
			end = t.Add(time.Second)
		}
		h.Set("Retry-After", end.UTC().Format(http.TimeFormat))
	} else {
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	e.mu.Lock()
	e.stats.announce(now, end)
	e.mu.Unlock()
}

// rateHeaders writes the host's rate-limit headers describing its bucket at now.
func (e *endpoint) rateHeaders(h http.Header, now time.Time) {
	if e.spec.Headers == HeadersNone || e.spec.Capacity.Unlimited() {
		return
	}
	c := e.spec.Capacity
	e.mu.Lock()
	tokens := e.limiter.TokensAt(now)
	e.mu.Unlock()
	remaining := max(0, int(math.Floor(tokens)))
	// Express the rate as quota q per window w whole seconds.
	q, w := int(math.Floor(c.RPS)), 1
	if c.RPS < 1 {
		q, w = 1, int(math.Ceil(1/c.RPS))
	}
	full := int(math.Ceil((float64(c.Burst) - tokens) / c.RPS))
	next := 0
	if tokens < 1 {
		next = int(math.Ceil((1 - tokens) / c.RPS))
	}
	switch e.spec.Headers {
	case HeadersOpenAlex:
		h.Set("X-RateLimit-Limit", strconv.Itoa(q))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("X-RateLimit-Reset", strconv.Itoa(max(0, full)))
	case HeadersCrossref:
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(q))
		h.Set("X-Rate-Limit-Interval", strconv.Itoa(w)+"s")
	case HeadersIETF:
		h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, q, w))
		h.Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, remaining, max(0, next)))
	}
}

// serveAdmin answers /__stats (GET) and /__reset (POST); they are not counted.
func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/__stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "use GET")
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	case "/__reset":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeJSONError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "use POST")
			return
		}
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	default:
		writeJSONError(w, http.StatusNotFound, "404 Not Found", "no such admin endpoint")
	}
}

// writeJSON writes v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b := mustJSON(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSONError writes an OpenAlex-style error object.
func writeJSONError(w http.ResponseWriter, status int, title, msg string) {
	writeJSON(w, status, map[string]string{"error": title, "message": msg})
}

// writeBody writes a small complete body.
func writeBody(w http.ResponseWriter, status int, ctype, body string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
