package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fullScenario = `
name: full
seed: 9
topic: deep learning
topic_ids: [T1, https://openalex.org/T2]
years: {from: 2019, to: 2021}
works:
  count: 12
  mix: {direct_pdf: 0.5, closed: 0.5}
pdf_size: 2KiB
politeness_grace: 50ms
openalex:
  capacity: {rps: 5}
  headers: openalex
  malformed_page: 2
  repeat_cursor_page: 3
  throttle_every: 4
unpaywall:
  retry_after: none
hosts:
  - name: a
    capacity: {rps: 2.5, burst: 3}
    configured: {rps: 6}
    retry_after: http-date
    retry_after_seconds: 2
    headers: crossref
    slow_delay: 10ms
    faults:
      schedules:
        - path: /pdf/W1
          attempts: [reset, truncated, 503, "503:2", "429:3", 404, html_as_pdf, slow_headers, "slow_body:5ms", redirect_loop, "gzip_bomb:1MiB", "oversize:2MiB", ok]
      shares:
        - {fault: "503", share: 0.25, path_prefix: /pdf/}
  - weight: 2
`

func TestParseScenarioFull(t *testing.T) {
	sc, err := ParseScenario([]byte(fullScenario))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "full" || sc.Seed != 9 || sc.Works.Count != 12 || sc.PDFSize != 2048 || sc.PolitenessGrace != 50*time.Millisecond {
		t.Fatalf("top level: %+v", sc)
	}
	if sc.OpenAlex.Capacity != (Capacity{RPS: 5, Burst: 5}) || sc.OpenAlex.Headers != HeadersOpenAlex || sc.OpenAlex.MalformedTimes != 1 ||
		sc.OpenAlex.RetryAfter != RetryAfterSeconds || sc.OpenAlex.ThrottleEvery != 4 {
		t.Fatalf("openalex: %+v", sc.OpenAlex)
	}
	if sc.Unpaywall.RetryAfter != RetryAfterNone || sc.Unpaywall.Headers != HeadersNone {
		t.Fatalf("unpaywall: %+v", sc.Unpaywall)
	}
	a, b := sc.Hosts[0], sc.Hosts[1]
	if a.Capacity != (Capacity{RPS: 2.5, Burst: 3}) || a.Configured != (Capacity{RPS: 6, Burst: 6}) || a.RetryAfter != RetryAfterHTTPDate ||
		a.RetryAfterSeconds != 2 || a.Headers != HeadersCrossref || a.SlowDelay != 10*time.Millisecond || a.Weight != 1 {
		t.Fatalf("host a: %+v", a)
	}
	got := make([]string, len(a.Faults.Schedules[0].Attempts))
	for i, f := range a.Faults.Schedules[0].Attempts {
		got[i] = f.String()
	}
	want := "reset truncated 503 503:2 429:3 404 html_as_pdf slow_headers slow_body:5ms redirect_loop gzip_bomb:1048576 oversize:2097152 ok"
	if strings.Join(got, " ") != want {
		t.Fatalf("attempts:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if sh := a.Faults.Shares[0]; sh.Fault.Kind != FaultUnavailable || sh.Share != 0.25 || sh.PathPrefix != "/pdf/" {
		t.Fatalf("share: %+v", sh)
	}
	if b.Name != "pub2" || b.Weight != 2 || b.SlowDelay != 2*time.Second || !b.Capacity.Unlimited() {
		t.Fatalf("host defaults: %+v", b)
	}
}

func TestParseScenarioJSON(t *testing.T) {
	sc, err := ParseScenario([]byte(`{"name": "j", "works": {"count": 3}, "pdf_size": "1.5KB", "hosts": [{"name": "h", "capacity": {"rps": 1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "j" || sc.PDFSize != 1500 || sc.Hosts[0].Capacity.Burst != 1 || sc.Topic == "" || sc.Years.From != 2015 {
		t.Fatalf("%+v", sc)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown top-level key", "hosts: [{}]\nwork: {count: 2}\n", "field work not found"},
		{"unknown nested key", "hosts: [{name: a, capacity: {rps: 1, brust: 2}}]\n", "field brust not found"},
		{"unknown mix kind", "works: {count: 1, mix: {pdf: 1}}\nhosts: [{}]\n", "field pdf not found"},
		{"empty", "", "empty scenario"},
		{"two documents", "hosts: [{}]\n---\nhosts: [{}]\n", "exactly one document"},
		{"no hosts", "works: {count: 1}\n", "hosts: at least one"},
		{"duplicate host", "hosts: [{name: a}, {name: a}]\n", `hosts[1].name: "a" is already taken`},
		{"reserved host name", "hosts: [{name: openalex}]\n", "already taken"},
		{"bad retry style", "hosts: [{retry_after: sometimes}]\n", "hosts[0].retry_after"},
		{"bad header style", "hosts: [{headers: github}]\n", "hosts[0].headers"},
		{"negative rps", "hosts: [{capacity: {rps: -1}}]\n", "hosts[0].capacity"},
		{"bad fault", "hosts: [{faults: {schedules: [{path: /x, attempts: [explode]}]}}]\n", `unknown fault "explode"`},
		{"fault param", "hosts: [{faults: {schedules: [{path: /x, attempts: [\"reset:3\"]}]}}]\n", "takes no parameter"},
		{"bad delay", "hosts: [{faults: {schedules: [{path: /x, attempts: [\"slow_body:soon\"]}]}}]\n", "duration"},
		{"relative path", "hosts: [{faults: {schedules: [{path: pdf/W1, attempts: [reset]}]}}]\n", "absolute path"},
		{"two schedules", "hosts: [{faults: {schedules: [{path: /a, attempts: [reset]}, {path: /a, attempts: [ok]}]}}]\n", "two schedules"},
		{"share range", "hosts: [{faults: {shares: [{fault: reset, share: 1.5}]}}]\n", "want 0..1"},
		{"share without fault", "hosts: [{faults: {shares: [{share: 0.5}]}}]\n", "fault: missing"},
		{"tiny pdf", "pdf_size: 100\nhosts: [{}]\n", "pdf_size"},
		{"bad size", "pdf_size: 12XB\nhosts: [{}]\n", "unknown unit"},
		{"years", "years: {from: 2024, to: 2020}\nhosts: [{}]\n", "years"},
		{"negative count", "works: {count: -1}\nhosts: [{}]\n", "works.count"},
		{"negative weight", "works: {count: 1, mix: {closed: -1}}\nhosts: [{}]\n", "works.mix"},
		{"topic id", "topic_ids: [X1]\nhosts: [{}]\n", "topic_ids[0]"},
		{"zero host weights", "hosts: [{weight: -0.0}, {weight: -1}]\n", "hosts[1].weight"},
		{"malformed times", "openalex: {malformed_times: -2}\nhosts: [{}]\n", "malformed_times"},
		{"duration as int", "politeness_grace: 5\nhosts: [{}]\n", "into time.Duration"},
		{"negative latency", "hosts: [{latency: -1s}]\n", "hosts[0].latency: want 0..1m"},
		{"huge latency", "unpaywall: {latency: 2m}\nhosts: [{}]\n", "unpaywall.latency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestLoadScenarioNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("hosts: [{}]\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadScenario(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("error %v should name the file and the key", err)
	}
	if _, err := LoadScenario(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1024": 1024, "256KiB": 256 << 10, "2 MiB": 2 << 20, "1GiB": 1 << 30,
		"1.5KB": 1500, "3MB": 3_000_000, "64k": 64 << 10, "10B": 10} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "1TiB", "1e400"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}

// TestExampleScenarios loads every scenario in testdata and checks that each fault
// schedule names a path its host really serves, so a typo cannot silently disable a
// fault.
func TestExampleScenarios(t *testing.T) {
	files, err := filepath.Glob("../../testdata/scenarios/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("want the example scenarios, got %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			urls := make([]string, len(sc.Hosts))
			for i := range urls {
				urls[i] = "http://host" + string(rune('a'+i))
			}
			cat := generate(sc, urls)
			if len(cat.works) != sc.Works.Count {
				t.Fatalf("%d works, want %d", len(cat.works), sc.Works.Count)
			}
			for i, h := range sc.Hosts {
				for _, sch := range h.Faults.Schedules {
					if _, ok := cat.routes[i][sch.Path]; !ok {
						t.Errorf("host %s: schedule path %s is not served by that host", h.Name, sch.Path)
					}
				}
			}
		})
	}
}

// TestDocExampleParses keeps the scenario reference in the package documentation
// honest.
func TestDocExampleParses(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "//\tname: ") {
			in = true
		}
		if in && !strings.HasPrefix(line, "//\t") {
			break
		}
		if in {
			doc = append(doc, strings.TrimPrefix(line, "//\t"))
		}
	}
	if len(doc) < 30 {
		t.Fatalf("found only %d lines of the example", len(doc))
	}
	sc, err := ParseScenario([]byte(strings.Join(doc, "\n")))
	if err != nil {
		t.Fatalf("the documented scenario does not parse: %v", err)
	}
	if sc.Works.Count != 50 || sc.OpenAlex.ThrottleEvery != 50 || len(sc.Hosts[0].Faults.Shares) != 2 ||
		sc.Hosts[0].Faults.Shares[1].After != 8 || sc.Hosts[0].Responses[0].Status != 302 {
		t.Fatalf("parsed: %+v", sc)
	}

	// The listed-works example, with two hosts.
	_, rest, ok := strings.Cut(string(src), "//\tworks:\n//\t  list:\n")
	if !ok {
		t.Fatal("no listed-works example")
	}
	list := []string{"works:", "  list:"}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "//\t") {
			break
		}
		list = append(list, strings.TrimPrefix(line, "//\t"))
	}
	sc, err = ParseScenario([]byte(strings.Join(append(list, "hosts: [{name: pub1}, {name: pub2}]"), "\n")))
	if err != nil {
		t.Fatalf("the listed-works example does not parse: %v", err)
	}
	if len(sc.Works.List) != 3 || len(sc.Works.List[1].Locations) != 2 || sc.Works.List[2].OpenAlex["content_urls"] == "" {
		t.Fatalf("parsed: %+v", sc.Works)
	}
	s, err := Start(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}
