package download

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/resolve"
)

// TestMain fails the package if a Run leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPDF is a small whole PDF whose bytes depend on id.
func testPDF(id string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n% " + id + "\n")
	for b.Len() < 3000 {
		b.WriteString("0123456789abcdef")
	}
	b.WriteString("\n%%EOF\n")
	return b.Bytes()
}

// testSite serves OpenAlex /works (one page of works) and their PDFs at /pdf/<id>.
type testSite struct {
	srv   *httptest.Server
	works []map[string]any
}

func newTestSite(t *testing.T, titles map[string]string) *testSite {
	t.Helper()
	s := &testSite{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/pdf/") {
			rw.Header().Set("Content-Type", "application/pdf")
			rw.Write(testPDF(strings.TrimPrefix(r.URL.Path, "/pdf/")))
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(s.works)}, "results": s.works})
	}))
	t.Cleanup(s.srv.Close)
	n := 0
	for id, title := range titles {
		n++
		loc := map[string]any{"is_oa": true, "pdf_url": s.srv.URL + "/pdf/" + strconv.Itoa(n)}
		s.works = append(s.works, map[string]any{"id": id, "title": title, "publication_year": 2021,
			"best_oa_location": loc, "locations": []any{loc}})
	}
	return s
}

// resolverFunc adapts a function to resolve.Resolver.
type resolverFunc struct {
	name string
	fn   func(ctx context.Context, w *openalex.Work) ([]resolve.Candidate, error)
}

func (r resolverFunc) Name() string { return r.name }
func (r resolverFunc) Resolve(ctx context.Context, w *openalex.Work) ([]resolve.Candidate, error) {
	return r.fn(ctx, w)
}

func newTestRunner(t *testing.T, site *testSite, out string, resolvers ...resolve.Resolver) (*Runner, *fetch.Client) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	fc := fetch.New(fetch.Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: time.Minute, Clock: clk,
		Timeout: 2 * time.Second, LimitFor: func(string) fetch.HostLimit {
			return fetch.HostLimit{RPS: 1000, Burst: 100, Concurrency: 8, Cooldown: time.Second}
		}})
	t.Cleanup(fc.CloseIdleConnections)
	if len(resolvers) == 0 {
		rs, err := resolve.Chain([]string{providers.OpenAlex}, resolve.Options{Doer: fc})
		if err != nil {
			t.Fatal(err)
		}
		resolvers = rs
	}
	oa := &openalex.Client{BaseURL: site.srv.URL, Doer: fc}
	r := New(Options{Out: out, Workers: 4, MaxBytes: 1 << 20, MinPDFBytes: 1024, DeferRounds: 1, MaxWait: time.Minute,
		Query: openalex.Query{Search: "x"}, RunID: "test-run"}, Deps{Fetch: fc, OpenAlex: oa, Resolvers: resolvers, Clock: clk})
	return r, fc
}

func readRecords(t *testing.T, out string) []manifest.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []manifest.Record
	if err := manifest.Read(f, nil, func(r *manifest.Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// The summary file of an interrupted run says so (found by the CLI's SIGINT test:
// manifest.summary.json was written before Interrupted was set, so it read false).
func TestInterruptedRunSummarySaysInterrupted(t *testing.T) {
	site := newTestSite(t, map[string]string{"W1": "One", "W2": "Two"})
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := resolverFunc{name: "stop", fn: func(ctx context.Context, w *openalex.Work) ([]resolve.Candidate, error) {
		cancel()
		return nil, ctx.Err()
	}}
	r, _ := newTestRunner(t, site, out, stop)
	sum, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) || !sum.Interrupted {
		t.Fatalf("Run: err %v, interrupted %t", err, sum.Interrupted)
	}
	var onDisk Summary
	data, err := os.ReadFile(filepath.Join(out, "manifest.summary.json"))
	if err != nil || json.Unmarshal(data, &onDisk) != nil {
		t.Fatalf("summary file: %v %s", err, data)
	}
	if !onDisk.Interrupted {
		t.Errorf("manifest.summary.json says interrupted=false:\n%s", data)
	}
}

// A work whose resolver failed, with no candidate from any other, is a failed miss
// with the resolver's reason, not "no_oa_candidates" (found by the CLI fault test:
// malformed Unpaywall JSON was reported as nothing to find, exit 0).
func TestResolverFailureIsAFailedMiss(t *testing.T) {
	site := newTestSite(t, map[string]string{"W1": "One"})
	out := filepath.Join(t.TempDir(), "out")
	broken := resolverFunc{name: "broken", fn: func(context.Context, *openalex.Work) ([]resolve.Candidate, error) {
		return nil, errors.New("decode: unexpected EOF")
	}}
	r, _ := newTestRunner(t, site, out, broken)
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || !sum.Incomplete() {
		t.Errorf("failed %d incomplete %t, want 1 and true", sum.Failed, sum.Incomplete())
	}
	for _, rec := range readRecords(t, out) {
		if rec.RecordType == manifest.TypeManifest && (rec.Classification != manifest.ClassMiss || rec.Reason != "resolver_error") {
			t.Errorf("W1 ended %s (%s), want miss (resolver_error)", rec.Classification, rec.Reason)
		}
	}
}

// Temp files a killed run left behind are removed when the next run starts, and a
// run leaves none of its own.
func TestLeftoverTempFilesAreCleanedOnStart(t *testing.T) {
	site := newTestSite(t, map[string]string{"W1": "One", "W2": "Two", "W3": "Three"})
	out := filepath.Join(t.TempDir(), "out")
	tmp := filepath.Join(out, dirTmp)
	if err := os.MkdirAll(filepath.Join(tmp, "x-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmp, "dl-123.part"), []byte("%PDF-1.4 half"), 0o644)
	os.WriteFile(filepath.Join(tmp, "x-dir", "member"), []byte("x"), 0o644)
	r, _ := newTestRunner(t, site, out)
	sum, err := r.Run(context.Background())
	if err != nil || sum.Saved != 3 {
		t.Fatalf("Run: %v, saved %d", err, sum.Saved)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("%d entries left in OUT/.tmp", len(ents))
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// A run releases every file descriptor it opened: temp files, the manifest, the lock,
// response bodies and (once idle connections are closed) sockets.
func TestRunReleasesFileDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	titles := map[string]string{}
	for i := range 40 {
		titles["W"+strconv.Itoa(i+1)] = "Paper " + strconv.Itoa(i)
	}
	site := newTestSite(t, titles)
	out := filepath.Join(t.TempDir(), "out")
	// Warm up the packages' lazily opened descriptors (none expected, but be fair).
	r0, fc0 := newTestRunner(t, site, filepath.Join(t.TempDir(), "warm"))
	if _, err := r0.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	fc0.CloseIdleConnections()
	before := openFDs(t)
	r, fc := newTestRunner(t, site, out)
	sum, err := r.Run(context.Background())
	if err != nil || sum.Saved != 40 {
		t.Fatalf("Run: %v, saved %d", err, sum.Saved)
	}
	fc.CloseIdleConnections()
	site.srv.CloseClientConnections()
	// Closed sockets can take a moment to be reaped by the runtime's poller.
	deadline := time.Now().Add(2 * time.Second)
	after := openFDs(t)
	for after > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after = openFDs(t)
	}
	if after > before {
		t.Errorf("open file descriptors: %d before the run, %d after", before, after)
	}
}
