package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MinPDFSize is the smallest PDF the simulator can generate: the fixed objects of a
// one-page document, the xref table and the trailer fit in it.
const MinPDFSize = 1024

// maxWorks bounds a scenario so that a typo cannot make the simulator allocate
// millions of records.
const maxWorks = 1_000_000

// Scenario describes a simulated scholarly web: the works, the mix of ways their full
// texts can (or cannot) be reached, the API services and the publisher hosts. Load one
// with LoadScenario or ParseScenario; YAML and JSON are both accepted and unknown keys
// are errors. A zero value field takes the default documented on it.
type Scenario struct {
	// Name labels the scenario in logs and in the printed configuration.
	Name string `yaml:"name"`
	// Description is free text for humans.
	Description string `yaml:"description"`
	// Seed drives every random choice (titles, years, kinds, fault shares, PDF
	// padding). Default 1.
	Seed uint64 `yaml:"seed"`
	// Topic is included verbatim in every work's title, so that a search for it
	// matches every generated work. Default "open science".
	Topic string `yaml:"topic"`
	// TopicIDs are OpenAlex topic ids (T123). Every work carries the first; each other
	// one is attached to about half of the works.
	TopicIDs []string `yaml:"topic_ids"`
	// Years bounds publication years (inclusive). Default 2015..2024.
	Years Years `yaml:"years"`
	// Works sets how many works exist and how they can be reached.
	Works WorksSpec `yaml:"works"`
	// PDFSize is the exact size of every served PDF, e.g. 65536 or "256KiB".
	// Default 64KiB; at least MinPDFSize.
	PDFSize ByteSize `yaml:"pdf_size"`
	// PolitenessGrace excludes requests that arrive within this long after a
	// Retry-After was announced from the politeness metric (they were most likely
	// already in flight); they are counted separately. Default 0: strict.
	PolitenessGrace time.Duration `yaml:"politeness_grace"`
	// OpenAlex configures the OpenAlex-like API host.
	OpenAlex OpenAlexSpec `yaml:"openalex"`
	// Unpaywall configures the Unpaywall-like API host.
	Unpaywall ServiceSpec `yaml:"unpaywall"`
	// Hosts are the publisher hosts; each gets its own listener. At least one.
	Hosts []HostSpec `yaml:"hosts"`
}

// Years is an inclusive range of publication years.
type Years struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

// WorksSpec sets the number of works and the mix of their kinds.
type WorksSpec struct {
	// Count is the number of works. Default 0 (an empty catalogue).
	Count int `yaml:"count"`
	// Mix weighs the kinds of works. The weights are relative: shares (0.5, 0.25, …)
	// and counts (25, 10, …) both work; counts are apportioned by largest
	// remainder. All zero means every work is a direct PDF.
	Mix Mix `yaml:"mix"`
	// List gives the works one by one instead of Count and Mix (which must then be
	// zero): each with its own kind and host, or with its own locations.
	List []WorkSpec `yaml:"list"`
}

// WorkSpec is one work of WorksSpec.List. A work of kind listed (the default for a
// work with Locations, Unpaywall or UnpaywallRaw) is placed exactly as written, at
// no location at all if it has none; any other kind gets the locations and pages of
// that kind, as a generated work does.
type WorkSpec struct {
	// ID is the W-id. Default W<n>, n its 1-based position in the list.
	ID string `yaml:"id"`
	// DOI is the bare DOI. Default 10.5555/sim.<n>.
	DOI string `yaml:"doi"`
	// Title is the title. Default a generated one containing the topic.
	Title string `yaml:"title"`
	// Year is the publication year. Default a seeded one within Years.
	Year int `yaml:"year"`
	// Kind is listed or places the work like a generated one. Default listed for a
	// work with locations of its own, direct_pdf otherwise.
	Kind Kind `yaml:"kind"`
	// Host is the name of the host of the work's primary location (the copy of a
	// Kind that needs a second host goes to the next host). Default: the hosts in
	// turn by weight.
	Host string `yaml:"host"`
	// Locations are the work's OpenAlex locations in order; the first is its
	// primary and best location.
	Locations []LocationSpec `yaml:"locations"`
	// Unpaywall are the work's Unpaywall oa_locations in order, the first being
	// the best. A work with neither these nor UnpaywallRaw is unknown to Unpaywall
	// (404).
	Unpaywall []LocationSpec `yaml:"unpaywall"`
	// UnpaywallRaw, when set, is the Unpaywall answer sent verbatim (200,
	// application/json), even if it is not valid JSON. ${name} is replaced with the
	// base URL of the publisher host called name.
	UnpaywallRaw string `yaml:"unpaywall_raw"`
	// OpenAlex replaces or adds top-level fields of the work's OpenAlex record, each
	// a JSON value (null included) with ${name} replaced as in UnpaywallRaw. The
	// added fields can be asked for with select=.
	OpenAlex map[string]string `yaml:"openalex"`
}

// LocationSpec is one place a listed work can be found: a PDF and/or a landing page
// on a publisher host. The PDF path serves the work's PDF (PDFSize bytes) and the
// landing path an HTML page whose citation_pdf_url names the location's PDF, or,
// without one, an abstract page with no way to the full text. A path of a host's
// Responses or faults answers as they say instead.
type LocationSpec struct {
	// Host is the publisher host's name. Default the first host.
	Host string `yaml:"host"`
	// PDF is the path of pdf_url (url_for_pdf on Unpaywall), e.g. /pdf/W3.
	PDF string `yaml:"pdf"`
	// Landing is the path of landing_page_url (url_for_landing_page).
	Landing string `yaml:"landing"`
	// LandingHost is the host of the landing page when it is not Host.
	LandingHost string `yaml:"landing_host"`
}

// Mix holds one relative weight per Kind.
type Mix struct {
	DirectPDF             float64 `yaml:"direct_pdf"`
	UnpaywallOnly         float64 `yaml:"unpaywall_only"`
	LandingPage           float64 `yaml:"landing_page"`
	BadFirstLocation      float64 `yaml:"bad_first_location"`
	NotFoundThenUnpaywall float64 `yaml:"not_found_then_unpaywall"`
	Closed                float64 `yaml:"closed"`
}

func (m Mix) weights() []float64 {
	return []float64{m.DirectPDF, m.UnpaywallOnly, m.LandingPage, m.BadFirstLocation, m.NotFoundThenUnpaywall, m.Closed}
}

// Capacity is a token bucket: RPS tokens per second, holding at most Burst.
type Capacity struct {
	// RPS is the sustained rate; 0 means unlimited.
	RPS float64 `yaml:"rps"`
	// Burst is the bucket size. Default: RPS rounded up (one second's worth), at least 1.
	Burst int `yaml:"burst"`
}

// Unlimited reports whether the capacity imposes no limit.
func (c Capacity) Unlimited() bool { return c.RPS <= 0 }

// RetryAfterStyle is how a host writes Retry-After on 429 responses.
type RetryAfterStyle string

// The Retry-After styles.
const (
	RetryAfterSeconds  RetryAfterStyle = "seconds"   // Retry-After: 2
	RetryAfterHTTPDate RetryAfterStyle = "http-date" // Retry-After: Tue, 03 Jun 2025 10:00:02 GMT
	RetryAfterNone     RetryAfterStyle = "none"      // no Retry-After header
)

// HeaderStyle selects the rate-limit headers a host sends with every response.
type HeaderStyle string

// The rate-limit header styles.
const (
	HeadersNone     HeaderStyle = "none"     // no rate-limit headers
	HeadersOpenAlex HeaderStyle = "openalex" // X-RateLimit-Limit, -Remaining, -Reset
	HeadersCrossref HeaderStyle = "crossref" // x-rate-limit-limit, x-rate-limit-interval
	HeadersIETF     HeaderStyle = "ietf"     // RateLimit-Policy and RateLimit (draft 11)
)

// ServiceSpec is what every simulated host shares: its hidden capacity, the limit a
// client should be configured with, and how it announces limits.
type ServiceSpec struct {
	// Capacity is the hidden token bucket; requests over it get 429.
	Capacity Capacity `yaml:"capacity"`
	// Configured is the limit printed into the contentdl configuration snippet (it
	// may exceed Capacity on purpose, to exercise learning). RPS 0 leaves the host
	// out of the snippet.
	Configured Capacity `yaml:"configured"`
	// RetryAfter is the Retry-After style on 429 responses. Default seconds.
	RetryAfter RetryAfterStyle `yaml:"retry_after"`
	// RetryAfterSeconds is the announced delay. Default 0: the time until the bucket
	// has a token again, rounded up to a whole second.
	RetryAfterSeconds int `yaml:"retry_after_seconds"`
	// Headers is the rate-limit header style. Default none.
	Headers HeaderStyle `yaml:"headers"`
	// Latency delays every answer of the host by this long (a distant or slow
	// server): the capacity is checked when the request arrives, and the response,
	// 429s included, leaves Latency later. Default 0.
	Latency time.Duration `yaml:"latency"`
	// Responses fix what paths answer: on a publisher when no fault applies, in
	// place of the pages of the works; on the APIs in place of their answers. The
	// first match wins; Sim.SetResponse changes them while the simulator runs.
	// ${name} in a header or body stands for the base URL of the host called name.
	Responses []PathResponse `yaml:"responses"`
}

// OpenAlexSpec configures the OpenAlex-like host and its faults.
type OpenAlexSpec struct {
	ServiceSpec `yaml:",inline"`
	// MalformedPage (1-based) makes that page of a /works listing invalid JSON.
	MalformedPage int `yaml:"malformed_page"`
	// MalformedTimes is how many requests for MalformedPage are malformed before it
	// heals. Default 1; -1 means forever.
	MalformedTimes int `yaml:"malformed_times"`
	// RepeatCursorPage (1-based) makes that page return the cursor it was asked
	// with as its next_cursor, so a naive client loops.
	RepeatCursorPage int `yaml:"repeat_cursor_page"`
	// ThrottleEvery answers every Nth /works listing request with 429 and a
	// Retry-After (in the host's style, seconds if the style is none).
	ThrottleEvery int `yaml:"throttle_every"`
	// Cost meters listings in USD and sends OpenAlex's cost headers (cost.go).
	Cost CostSpec `yaml:"cost"`
	// LastPageNullCursor gives the page that holds the last result next_cursor null.
	// By default every page with results has a next_cursor, and the page after the
	// last result is empty, as on OpenAlex.
	LastPageNullCursor bool `yaml:"last_page_null_cursor"`
}

// HostSpec configures one publisher host.
type HostSpec struct {
	// Name identifies the host in stats and logs. Default pub1, pub2, …
	Name        string `yaml:"name"`
	ServiceSpec `yaml:",inline"`
	// Weight is the host's relative share of the works. Default 1.
	Weight float64 `yaml:"weight"`
	// SlowDelay is the stall of slow_headers and slow_body faults without their own
	// delay. Default 2s.
	SlowDelay time.Duration `yaml:"slow_delay"`
	// Faults injects failures.
	Faults FaultSpec `yaml:"faults"`
	// ETags gives every PDF an ETag and answers a request whose If-None-Match
	// matches it with 304 Not Modified.
	ETags bool `yaml:"etags"`
}

// PathResponse is the fixed Response of one path, or of every path starting with
// PathPrefix. The first entry that matches wins.
type PathResponse struct {
	Path       string `yaml:"path"`
	PathPrefix string `yaml:"path_prefix"`
	Response   `yaml:",inline"`
}

// Response is a fixed answer: a status, headers and a body, for example a redirect
// to another scheme, a page from a file or a body without Content-Length.
type Response struct {
	// Status is the status code. Default 200.
	Status int `yaml:"status"`
	// Headers are sent as given (Location for a redirect, Content-Encoding, …).
	// Without Content-Type a non-empty body is labelled by http.DetectContentType.
	Headers map[string]string `yaml:"headers"`
	// Body is sent as is (any bytes).
	Body string `yaml:"body"`
	// Chunked sends the body without Content-Length, in chunks.
	Chunked bool `yaml:"chunked"`
}

// FaultSpec lists per-path attempt schedules and deterministic fault shares. A
// request that passed the capacity check takes the next entry of its path's schedule;
// once the schedule is used up, the shares apply in order; otherwise it is served
// normally.
type FaultSpec struct {
	Schedules []Schedule `yaml:"schedules"`
	Shares    []Share    `yaml:"shares"`
}

// Schedule is the fault for each successive attempt on one path, for example
// path /pdf/W3 with attempts [reset, truncated, ok].
type Schedule struct {
	Path     string  `yaml:"path"`
	Attempts []Fault `yaml:"attempts"`
}

// Share applies Fault to a fraction of the requests whose path starts with
// PathPrefix (all paths when empty). The choice is a hash of the seed, the host, the
// path and the attempt number, so it is the same in every run. After holds the share
// back until the host has served that many requests (of any path), so a run can
// start healthy and then turn bad, e.g. every body stalls from the 9th request on.
type Share struct {
	Fault      Fault   `yaml:"fault"`
	Share      float64 `yaml:"share"`
	PathPrefix string  `yaml:"path_prefix"`
	After      int     `yaml:"after"`
}

// FaultKind names a failure a publisher host can inject.
type FaultKind string

// The fault kinds. A fault is written "kind" or "kind:param" (see Fault).
const (
	FaultOK           FaultKind = "ok"            // serve normally
	FaultReset        FaultKind = "reset"         // close the connection before any header
	FaultTruncated    FaultKind = "truncated"     // Content-Length larger than the body sent
	FaultUnavailable  FaultKind = "503"           // 503; "503:N" adds Retry-After N seconds
	FaultTooMany      FaultKind = "429"           // 429 with the host's Retry-After; "429:N" for N seconds
	FaultNotFound     FaultKind = "404"           // 404
	FaultHTMLAsPDF    FaultKind = "html_as_pdf"   // an HTML error page labelled application/pdf
	FaultSlowHeaders  FaultKind = "slow_headers"  // stall before the headers; "slow_headers:50ms"
	FaultSlowBody     FaultKind = "slow_body"     // stall halfway through the body; "slow_body:50ms"
	FaultRedirectLoop FaultKind = "redirect_loop" // 302s that never end
	FaultGzipBomb     FaultKind = "gzip_bomb"     // gzip body inflating to 256MiB; "gzip_bomb:1GiB"
	FaultOversize     FaultKind = "oversize"      // a valid PDF of 512MiB; "oversize:2GiB"
	FaultTrickle      FaultKind = "trickle"       // a body of one byte per second that never ends; "trickle:50ms"
)

// Default sizes of the size-parameterised faults.
const (
	DefaultGzipBombSize = 256 << 20
	DefaultOversizeSize = 512 << 20
)

var faultKinds = []FaultKind{FaultOK, FaultReset, FaultTruncated, FaultUnavailable, FaultTooMany, FaultNotFound,
	FaultHTMLAsPDF, FaultSlowHeaders, FaultSlowBody, FaultRedirectLoop, FaultGzipBomb, FaultOversize, FaultTrickle}

// Fault is one injected failure. In a scenario it is a string: "kind" or
// "kind:param", where param is seconds of Retry-After for 503 and 429, a duration for
// slow_headers and slow_body, the interval between bytes for trickle, and a size for
// gzip_bomb and oversize.
type Fault struct {
	Kind FaultKind
	// RetryAfter is the announced delay of a 503 or 429 (0: none for 503, the host's
	// default for 429).
	RetryAfter time.Duration
	// Delay is the stall of a slow fault (0: the host's SlowDelay), or the interval
	// between the bytes of a trickle (0: one second).
	Delay time.Duration
	// Size is the inflated size of a gzip bomb or the size of an oversize PDF (0: the
	// default).
	Size int64
}

// ParseFault parses "kind" or "kind:param".
func ParseFault(s string) (Fault, error) {
	kind, param, hasParam := strings.Cut(strings.TrimSpace(s), ":")
	f := Fault{Kind: FaultKind(strings.ToLower(kind))}
	known := false
	for _, k := range faultKinds {
		if f.Kind == k {
			known = true
			break
		}
	}
	if !known {
		return Fault{}, fmt.Errorf("unknown fault %q (want one of %s)", s, joinKinds())
	}
	if !hasParam {
		return f, nil
	}
	switch f.Kind {
	case FaultUnavailable, FaultTooMany:
		n, err := strconv.Atoi(param)
		if err != nil || n < 0 {
			return Fault{}, fmt.Errorf("fault %q: Retry-After must be whole seconds >= 0", s)
		}
		f.RetryAfter = time.Duration(n) * time.Second
	case FaultSlowHeaders, FaultSlowBody, FaultTrickle:
		d, err := time.ParseDuration(param)
		if err != nil || d < 0 {
			return Fault{}, fmt.Errorf("fault %q: want a duration such as 50ms", s)
		}
		f.Delay = d
	case FaultGzipBomb, FaultOversize:
		n, err := ParseByteSize(param)
		if err != nil || n <= 0 {
			return Fault{}, fmt.Errorf("fault %q: want a positive size such as 64MiB", s)
		}
		f.Size = int64(n)
	default:
		return Fault{}, fmt.Errorf("fault %q: %s takes no parameter", s, f.Kind)
	}
	return f, nil
}

func joinKinds() string {
	names := make([]string, len(faultKinds))
	for i, k := range faultKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// String renders the fault in the scenario syntax.
func (f Fault) String() string {
	switch {
	case f.RetryAfter > 0:
		return fmt.Sprintf("%s:%d", f.Kind, int64(f.RetryAfter/time.Second))
	case f.Delay > 0:
		return fmt.Sprintf("%s:%s", f.Kind, f.Delay)
	case f.Size > 0:
		return fmt.Sprintf("%s:%d", f.Kind, f.Size)
	case f.Kind == "":
		return string(FaultOK)
	}
	return string(f.Kind)
}

// UnmarshalYAML reads a fault from a scalar such as reset, 503 or "slow_body:50ms".
func (f *Fault) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a fault is a string such as reset or \"503:2\"", n.Line)
	}
	parsed, err := ParseFault(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*f = parsed
	return nil
}

// MarshalYAML writes the fault in the scenario syntax.
func (f Fault) MarshalYAML() (any, error) { return f.String(), nil }

// ByteSize is a size in bytes; in a scenario it is an integer or a string with a
// unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

// ParseByteSize parses "262144", "256KiB", "1.5MB" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v*mult, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: not a size", s)
	}
	return ByteSize(math.Round(v * mult)), nil
}

// UnmarshalYAML reads an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size is a number or a string such as 256KiB", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// LoadScenario reads a YAML or JSON scenario file.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes a YAML or JSON scenario (JSON is YAML), rejects unknown keys,
// applies the defaults and validates the result.
func ParseScenario(data []byte) (Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return Scenario{}, errors.New("empty scenario")
		}
		return Scenario{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Scenario{}, errors.New("a scenario file holds exactly one document")
	}
	sc = sc.WithDefaults()
	if err := sc.Validate(); err != nil {
		return Scenario{}, err
	}
	return sc, nil
}

// WithDefaults returns a copy with every zero field that has a default filled in.
// Start applies it too, so a Scenario built in Go needs only the fields it cares
// about.
func (sc Scenario) WithDefaults() Scenario {
	if sc.Name == "" {
		sc.Name = "scenario"
	}
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	if strings.TrimSpace(sc.Topic) == "" {
		sc.Topic = "open science"
	}
	if sc.Years == (Years{}) {
		sc.Years = Years{From: 2015, To: 2024}
	} else if sc.Years.To == 0 {
		sc.Years.To = sc.Years.From
	} else if sc.Years.From == 0 {
		sc.Years.From = sc.Years.To
	}
	if sc.PDFSize == 0 {
		sc.PDFSize = 64 << 10
	}
	sc.OpenAlex.ServiceSpec = sc.OpenAlex.withDefaults()
	if sc.OpenAlex.MalformedTimes == 0 {
		sc.OpenAlex.MalformedTimes = 1
	}
	sc.Unpaywall = sc.Unpaywall.withDefaults()
	list := make([]WorkSpec, len(sc.Works.List))
	for i, w := range sc.Works.List {
		if w.ID == "" {
			w.ID = fmt.Sprintf("W%d", i+1)
		}
		if w.DOI == "" {
			w.DOI = fmt.Sprintf("10.5555/sim.%d", i+1)
		}
		w.DOI = normDOI(w.DOI)
		if w.Kind == "" {
			w.Kind = KindDirectPDF
			if len(w.Locations) > 0 || len(w.Unpaywall) > 0 || w.UnpaywallRaw != "" {
				w.Kind = KindListed
			}
		}
		list[i] = w
	}
	if sc.Works.List != nil {
		sc.Works.List = list
	}
	hosts := make([]HostSpec, len(sc.Hosts))
	for i, h := range sc.Hosts {
		if h.Name == "" {
			h.Name = fmt.Sprintf("pub%d", i+1)
		}
		if h.Weight == 0 {
			h.Weight = 1
		}
		if h.SlowDelay == 0 {
			h.SlowDelay = 2 * time.Second
		}
		h.ServiceSpec = h.withDefaults()
		hosts[i] = h
	}
	sc.Hosts = hosts
	return sc
}

func (s ServiceSpec) withDefaults() ServiceSpec {
	if s.RetryAfter == "" {
		s.RetryAfter = RetryAfterSeconds
	}
	if s.Headers == "" {
		s.Headers = HeadersNone
	}
	if s.Capacity.RPS > 0 && s.Capacity.Burst == 0 {
		s.Capacity.Burst = max(1, int(math.Ceil(s.Capacity.RPS)))
	}
	if s.Configured.RPS > 0 && s.Configured.Burst == 0 {
		s.Configured.Burst = max(1, int(math.Ceil(s.Configured.RPS)))
	}
	if s.Responses != nil {
		rs := make([]PathResponse, len(s.Responses))
		for j, r := range s.Responses {
			if r.Status == 0 {
				r.Status = http.StatusOK
			}
			rs[j] = r
		}
		s.Responses = rs
	}
	return s
}

// Validate reports the first problem, naming its key. Call it after WithDefaults.
func (sc Scenario) Validate() error {
	if sc.Years.From < 1000 || sc.Years.To > 9999 || sc.Years.From > sc.Years.To {
		return fmt.Errorf("years: want 1000 <= from <= to <= 9999, got %d..%d", sc.Years.From, sc.Years.To)
	}
	if sc.Works.Count < 0 || sc.Works.Count > maxWorks {
		return fmt.Errorf("works.count: want 0..%d, got %d", maxWorks, sc.Works.Count)
	}
	for _, w := range sc.Works.Mix.weights() {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return errors.New("works.mix: weights must be finite and >= 0")
		}
	}
	if sc.PDFSize < MinPDFSize {
		return fmt.Errorf("pdf_size: want at least %d bytes, got %d", MinPDFSize, sc.PDFSize)
	}
	if sc.PolitenessGrace < 0 {
		return errors.New("politeness_grace: must be >= 0")
	}
	for i, id := range sc.TopicIDs {
		if normTopicID(id) == "" {
			return fmt.Errorf("topic_ids[%d]: %q is not a topic id such as T10325", i, id)
		}
	}
	if err := sc.OpenAlex.validate("openalex"); err != nil {
		return err
	}
	if c := sc.OpenAlex.Cost; c.ListUSD < 0 || c.SearchUSD < 0 || c.AllowanceUSD < 0 {
		return errors.New("openalex: cost list_usd, search_usd and allowance_usd must be >= 0")
	}
	if sc.OpenAlex.MalformedPage < 0 || sc.OpenAlex.RepeatCursorPage < 0 || sc.OpenAlex.ThrottleEvery < 0 {
		return errors.New("openalex: malformed_page, repeat_cursor_page and throttle_every must be >= 0")
	}
	if sc.OpenAlex.MalformedTimes < -1 {
		return errors.New("openalex.malformed_times: want -1 (forever) or a count >= 0")
	}
	if err := sc.Unpaywall.validate("unpaywall"); err != nil {
		return err
	}
	if len(sc.Hosts) == 0 {
		return errors.New("hosts: at least one publisher host is required")
	}
	seen := map[string]bool{"openalex": true, "unpaywall": true}
	for i, h := range sc.Hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		if seen[h.Name] {
			return fmt.Errorf("%s.name: %q is already taken", key, h.Name)
		}
		seen[h.Name] = true
		if h.Weight < 0 || math.IsNaN(h.Weight) || math.IsInf(h.Weight, 0) {
			return fmt.Errorf("%s.weight: must be finite and >= 0", key)
		}
		if h.SlowDelay < 0 {
			return fmt.Errorf("%s.slow_delay: must be >= 0", key)
		}
		if err := h.validate(key); err != nil {
			return err
		}
		paths := map[string]bool{}
		for j, s := range h.Faults.Schedules {
			if !strings.HasPrefix(s.Path, "/") {
				return fmt.Errorf("%s.faults.schedules[%d].path: want an absolute path such as /pdf/W3, got %q", key, j, s.Path)
			}
			if paths[s.Path] {
				return fmt.Errorf("%s.faults.schedules[%d].path: %s has two schedules", key, j, s.Path)
			}
			paths[s.Path] = true
		}
		for j, s := range h.Faults.Shares {
			if s.Share < 0 || s.Share > 1 || math.IsNaN(s.Share) {
				return fmt.Errorf("%s.faults.shares[%d].share: want 0..1, got %v", key, j, s.Share)
			}
			if s.Fault.Kind == "" {
				return fmt.Errorf("%s.faults.shares[%d].fault: missing", key, j)
			}
			if s.After < 0 {
				return fmt.Errorf("%s.faults.shares[%d].after: want >= 0, got %d", key, j, s.After)
			}
		}
	}
	total := 0.0
	for _, h := range sc.Hosts {
		total += h.Weight
	}
	if total == 0 {
		return errors.New("hosts: at least one host needs a weight > 0")
	}
	return sc.validateList(seen)
}

// validateList checks works.list and the hosts' responses; hosts holds the names
// of the hosts (and of the two APIs).
func (sc Scenario) validateList(hosts map[string]bool) error {
	services := map[string][]PathResponse{"openalex": sc.OpenAlex.Responses, "unpaywall": sc.Unpaywall.Responses}
	for i, h := range sc.Hosts {
		services[fmt.Sprintf("hosts[%d]", i)] = h.Responses
	}
	for name, rs := range services {
		for j, r := range rs {
			key := fmt.Sprintf("%s.responses[%d]", name, j)
			if (r.Path == "") == (r.PathPrefix == "") {
				return fmt.Errorf("%s: want exactly one of path and path_prefix", key)
			}
			if !strings.HasPrefix(r.Path+r.PathPrefix, "/") {
				return fmt.Errorf("%s: want an absolute path such as /pdf/W3, got %q", key, r.Path+r.PathPrefix)
			}
			if err := r.validate(); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if len(sc.Works.List) == 0 {
		return nil
	}
	if sc.Works.Count != 0 || sc.Works.Mix != (Mix{}) {
		return errors.New("works: list replaces count and mix; give one or the other")
	}
	ids, dois := map[string]bool{}, map[string]bool{}
	isHost := func(name string) bool { return hosts[name] && name != RoleOpenAlex && name != RoleUnpaywall }
	for i, w := range sc.Works.List {
		key := fmt.Sprintf("works.list[%d]", i)
		if normWorkID(w.ID) != w.ID || workNumber(w.ID) == 0 || !strings.HasPrefix(w.ID, "W") {
			return fmt.Errorf("%s.id: want an id such as W12, got %q", key, w.ID)
		}
		if ids[w.ID] || dois[w.DOI] {
			return fmt.Errorf("%s: id %s or doi %s is already taken", key, w.ID, w.DOI)
		}
		ids[w.ID], dois[w.DOI] = true, true
		if !strings.HasPrefix(w.DOI, "10.") || !strings.Contains(w.DOI, "/") {
			return fmt.Errorf("%s.doi: want a DOI such as 10.5555/x.1, got %q", key, w.DOI)
		}
		if w.Year != 0 && (w.Year < 1000 || w.Year > 9999) {
			return fmt.Errorf("%s.year: want 1000..9999, got %d", key, w.Year)
		}
		if w.Kind != KindListed && !slices.Contains(Kinds(), w.Kind) {
			return fmt.Errorf("%s.kind: unknown kind %q", key, w.Kind)
		}
		if w.Kind != KindListed && (len(w.Locations) > 0 || len(w.Unpaywall) > 0 || w.UnpaywallRaw != "") {
			return fmt.Errorf("%s.kind: a work of kind %s has no locations or unpaywall answer of its own", key, w.Kind)
		}
		if w.Host != "" && !isHost(w.Host) {
			return fmt.Errorf("%s.host: no publisher host %q", key, w.Host)
		}
		for name, locs := range map[string][]LocationSpec{"locations": w.Locations, "unpaywall": w.Unpaywall} {
			for j, l := range locs {
				lk := fmt.Sprintf("%s.%s[%d]", key, name, j)
				if l.Host != "" && !isHost(l.Host) {
					return fmt.Errorf("%s.host: no publisher host %q", lk, l.Host)
				}
				if l.LandingHost != "" && (!isHost(l.LandingHost) || l.Landing == "") {
					return fmt.Errorf("%s.landing_host: want a publisher host and a landing path, got %q", lk, l.LandingHost)
				}
				if l.PDF == "" && l.Landing == "" {
					return fmt.Errorf("%s: want a pdf or a landing path", lk)
				}
				for _, p := range []string{l.PDF, l.Landing} {
					if p != "" && !strings.HasPrefix(p, "/") {
						return fmt.Errorf("%s: want absolute paths such as /pdf/W3, got %q", lk, p)
					}
				}
			}
		}
		for f, v := range w.OpenAlex {
			if !json.Valid([]byte(placeholder.ReplaceAllString(v, `http://127.0.0.1`))) {
				return fmt.Errorf("%s.openalex.%s: not a JSON value: %q", key, f, v)
			}
		}
	}
	return nil
}

// placeholder matches ${name} in raw records.
var placeholder = regexp.MustCompile(`\$\{[^}]*\}`)

func (r Response) validate() error {
	if r.Status < 100 || r.Status > 599 {
		return fmt.Errorf("status: want 100..599, got %d", r.Status)
	}
	for k := range r.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("headers: %q is not a header name", k)
		}
	}
	return nil
}

func (s ServiceSpec) validate(key string) error {
	for name, c := range map[string]Capacity{"capacity": s.Capacity, "configured": s.Configured} {
		if c.RPS < 0 || math.IsNaN(c.RPS) || math.IsInf(c.RPS, 0) || c.Burst < 0 {
			return fmt.Errorf("%s.%s: rps and burst must be finite and >= 0", key, name)
		}
	}
	switch s.RetryAfter {
	case RetryAfterSeconds, RetryAfterHTTPDate, RetryAfterNone:
	default:
		return fmt.Errorf("%s.retry_after: want seconds, http-date or none, got %q", key, s.RetryAfter)
	}
	switch s.Headers {
	case HeadersNone, HeadersOpenAlex, HeadersCrossref, HeadersIETF:
	default:
		return fmt.Errorf("%s.headers: want none, openalex, crossref or ietf, got %q", key, s.Headers)
	}
	if s.RetryAfterSeconds < 0 {
		return fmt.Errorf("%s.retry_after_seconds: must be >= 0", key)
	}
	if s.Latency < 0 || s.Latency > time.Minute {
		return fmt.Errorf("%s.latency: want 0..1m, got %s", key, s.Latency)
	}
	return nil
}
