package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// A landing page, and a PDF link, that redirect to a denied address: the candidate
// fails with blocked_address, is not retried, the denied listener never sees a
// connection, the refusal is logged once for the host, and the run still counts as
// complete (a blocked address is permanent). The test's own loopback server stays
// reachable through network.allow while the rest of 127.0.0.0/8 is denied.
func TestNetworkGuardBlocksRedirectToDeniedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (loopback beyond 127.0.0.1 is Linux behaviour): %v", err)
	}
	deniedLn := &countingListener{Listener: ln}
	denied := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/pdf")
		rw.Write(fakePDF("metadata", 4096))
	}))
	denied.Listener.Close()
	denied.Listener = deniedLn
	denied.Start()
	t.Cleanup(denied.Close)

	var mu sync.Mutex
	hits := map[string]int{}
	var base string
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/works":
			loc := func(pdf, landing string) map[string]any {
				return map[string]any{"is_oa": true, "pdf_url": nilIfEmpty(pdf), "landing_page_url": nilIfEmpty(landing)}
			}
			work := func(id string, l map[string]any) map[string]any {
				return map[string]any{"id": "https://openalex.org/" + id, "display_name": "Work " + id, "title": "Work " + id,
					"publication_year": 2024, "open_access": map[string]any{"is_oa": true}, "best_oa_location": l,
					"locations": []any{l}}
			}
			rw.Header().Set("Content-Type", "application/json")
			json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": 3}, "results": []any{
				work("W1", loc("", base+"/article/W1")),
				work("W2", loc(base+"/pdf/W2", "")),
				work("W3", loc(base+"/pdf/W3", "")),
			}})
		case "/article/W1":
			http.Redirect(rw, r, denied.URL+"/latest/meta-data/iam/security-credentials/", http.StatusFound)
		case "/pdf/W2":
			http.Redirect(rw, r, denied.URL+"/W2.pdf", http.StatusMovedPermanently)
		case "/pdf/W3":
			rw.Header().Set("Content-Type", "application/pdf")
			rw.Write(fakePDF("W3", 4096))
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(site.Close)
	base = site.URL

	out := filepath.Join(t.TempDir(), "out")
	env := hermeticEnv(t, site.URL, site.URL, map[string]string{
		"DOCSTOKG_RESOLVERS_ORDER":         "openalex,landing_page",
		"DOCSTOKG_RETRY_BASE_DELAY":        "10ms",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS": "1000",
		"DOCSTOKG_NETWORK_DENY":            "169.254.0.0/16,fe80::/10,fd00:ec2::254/128,100.100.100.200/32,127.0.0.0/8",
		"DOCSTOKG_NETWORK_ALLOW":           "127.0.0.1/32",
	})
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	res := runMain(t, w, env, "run", "--topic", "guard", "--out", out, "--json")
	if res.code != ExitOK {
		t.Fatalf("exit %d, want %d (blocked addresses are permanent)\n%s", res.code, ExitOK, res.stderr)
	}

	recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
	final := latestByWork(recs, "")
	if r := final["W3"]; r.Classification != manifest.ClassPDF {
		t.Errorf("W3 (allowed loopback server) = %+v, want a saved pdf", r)
	}
	for _, id := range []string{"W1", "W2"} {
		if r := final[id]; r.Classification != manifest.ClassMiss || r.Reason != "blocked_address" {
			t.Errorf("%s outcome = %s / %q, want miss / blocked_address", id, r.Classification, r.Reason)
		}
	}
	blocked := 0
	for _, r := range recs {
		if r.RecordType != manifest.TypeAttempt || r.Reason != "blocked_address" {
			continue
		}
		blocked++
		if r.Decision != "fail" {
			t.Errorf("attempt %s %s: decision %q, want fail", r.WorkID, r.URL, r.Decision)
		}
		if r.WorkID == "W1" && (r.Operation != "resolve" || r.Resolver != "landing_page") {
			t.Errorf("W1 attempt = %+v, want the landing_page resolver's resolve", r)
		}
		if r.WorkID == "W2" && (r.Operation != "download" || !strings.HasSuffix(r.URL, "/pdf/W2")) {
			t.Errorf("W2 attempt = %+v, want the download of /pdf/W2", r)
		}
	}
	if blocked != 2 {
		t.Errorf("%d blocked_address attempts, want 2 (one per candidate)", blocked)
	}
	mu.Lock()
	if hits["/article/W1"] != 1 || hits["/pdf/W2"] != 1 {
		t.Errorf("redirecting pages asked %d and %d times, want once each (never retried)", hits["/article/W1"], hits["/pdf/W2"])
	}
	mu.Unlock()
	if n := deniedLn.n.Load(); n != 0 {
		t.Errorf("the denied listener accepted %d connections, want 0", n)
	}
	if n := strings.Count(res.stderr, "refusing to connect to a denied address"); n != 1 {
		t.Errorf("refusal logged %d times for one host, want once:\n%s", n, res.stderr)
	}
	if !strings.Contains(res.stderr, "host=127.0.0.2") || !strings.Contains(res.stderr, "rule=127.0.0.0/8") {
		t.Errorf("refusal log lacks the host or rule:\n%s", res.stderr)
	}
	var sum struct {
		ByReason map[string]int `json:"by_reason"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ByReason["blocked_address"] != 2 {
		t.Errorf("summary by_reason = %v, want blocked_address: 2", sum.ByReason)
	}
}

// A bad network.deny entry is a usage error (exit 2) naming the key and its source,
// before any request.
func TestNetworkDenyBadEntryExits2(t *testing.T) {
	s, err := sim.Start(sim.Scenario{Name: "deny", Seed: 1, Topic: "x", Works: sim.WorksSpec{Count: 3}, PDFSize: sim.MinPDFSize,
		Hosts: []sim.HostSpec{{Name: "pub"}}}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	env := hermeticEnv(t, s.OpenAlexURL(), s.UnpaywallURL(), map[string]string{"DOCSTOKG_NETWORK_DENY": "10.0.0.0/8,metadata.internal"})
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	res := runMain(t, w, env, "run", "--topic", "x", "--out", filepath.Join(t.TempDir(), "out"))
	if res.code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", res.code, ExitUsage, res.stderr)
	}
	if !strings.Contains(res.stderr, "network.deny[1] = metadata.internal (from env DOCSTOKG_NETWORK_DENY)") {
		t.Errorf("stderr = %s", res.stderr)
	}
	for _, h := range s.Stats().Hosts {
		if h.Requests != 0 {
			t.Errorf("%d requests reached %s despite the configuration error", h.Requests, h.Name)
		}
	}
}
