package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/sim"
)

func TestContextualEndToEnd(t *testing.T) {
	for _, gate := range []string{"contextual", "legacy"} {
		t.Run(gate, func(t *testing.T) {
			w := newWorld(t, func(sc *sim.Scenario) {
				// W1: reset, then truncated, then whole.
				pubA, pubB := worldHost(sc, "pubA"), worldHost(sc, "pubB")
				pubA.Faults.Schedules = append(pubA.Faults.Schedules, sim.Schedule{Path: "/W1.pdf",
					Attempts: []sim.Fault{{Kind: sim.FaultReset}, {Kind: sim.FaultTruncated}}})
				// Unpaywall rate-limits W5's lookup: the landing-page resolver must take over.
				worldWork(sc, "W5").Locations = []sim.LocationSpec{{Host: "pubA", PDF: "/W5-missing.pdf",
					Landing: "/article/W5", LandingHost: "landing"}}
				sc.Unpaywall.Responses = []sim.PathResponse{{Path: "/v2/10.1000/w5", Response: sim.Response{Status: http.StatusTooManyRequests}}}
				// W8's host announces a Retry-After far beyond retry.max_wait; the request
				// after it, once the window is over, gets the PDF. (A request inside the
				// window would be counted as a violation below.)
				pubB.Faults.Schedules = append(pubB.Faults.Schedules, sim.Schedule{Path: "/W8.pdf",
					Attempts: []sim.Fault{{Kind: sim.FaultTooMany, RetryAfter: 2 * time.Hour}}})
			})
			env := map[string]string{}
			if gate == "contextual" {
				env["DOCSTOKG_ENABLE_CONTEXTUAL_RETRY"] = "1"
			}
			getenv := w.env(t, env)
			out := filepath.Join(t.TempDir(), "out")
			// W6 is also on pubB; it runs before W8 at one worker, so its own 429 is over.
			res := runMain(t, w, getenv, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--workers", "1", "--json")
			if res.code != ExitIncomplete {
				t.Fatalf("exit %d, want %d (a work was deferred)\n%s", res.code, ExitIncomplete, res.stderr)
			}
			var sum struct {
				RunID       string `json:"run_id"`
				RetryPolicy string `json:"retry_policy"`
				Deferred    int    `json:"deferred"`
				Operations  map[string]struct {
					Retries, Defers, Failovers, Fails int
				} `json:"operations"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.RetryPolicy != gate {
				t.Errorf("retry_policy %q", sum.RetryPolicy)
			}
			recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
			got := latestByWork(recs, sum.RunID)
			if r := got["W1"]; r.Classification != "pdf" {
				t.Errorf("flaky W1 ended %s (%s), want pdf", r.Classification, r.Reason)
			}
			if n := w.count("pubA", "/W1.pdf"); n != 3 {
				t.Errorf("W1 fetched %d times, want 3 (reset, truncated, ok)", n)
			}
			if r := got["W5"]; r.Classification != "pdf" || r.Resolver != "landing_page" {
				t.Errorf("W5 ended %s via %q (%s); want pdf via landing_page after unpaywall's 429", r.Classification, r.Resolver, r.Reason)
			}
			if r := got["W8"]; r.Classification != "deferred" {
				t.Errorf("W8 ended %s (%s), want deferred", r.Classification, r.Reason)
			}
			if sum.Deferred != 1 {
				t.Errorf("summary deferred = %d", sum.Deferred)
			}
			if gate == "contextual" {
				if n := w.count("unpaywall", "/v2/10.1000/w5"); n != 1 {
					t.Errorf("unpaywall asked %d times for W5, want exactly 1 before failover", n)
				}
				if sum.Operations["resolve"].Failovers < 1 || sum.Operations["download"].Retries < 2 {
					t.Errorf("operations %+v", sum.Operations)
				}
				// Attempt records carry operation and decision.
				seen := map[string]bool{}
				for _, r := range recs {
					if r.RecordType == "attempt" && r.WorkID == "W5" && r.Resolver == "unpaywall" {
						seen[r.Operation+"/"+r.Decision] = true
					}
				}
				if !seen["resolve/failover"] {
					t.Errorf("no resolve/failover attempt for W5: %v", seen)
				}
			}
			if v := w.violations(); len(v) > 0 {
				t.Errorf("requests inside Retry-After windows: %v", v)
			}
			if !strings.Contains(res.stderr, "retry policy: "+gate) {
				t.Errorf("no startup line naming the policy in:\n%s", res.stderr)
			}

			// Two hours later the host is open again; the next run completes W8.
			w.clk.Advance(2*time.Hour + time.Second)
			res2 := runMain(t, w, getenv, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--json")
			if res2.code != ExitOK {
				t.Fatalf("second run exit %d\n%s", res2.code, res2.stderr)
			}
			var sum2 struct {
				RunID string `json:"run_id"`
			}
			json.Unmarshal([]byte(res2.stdout), &sum2)
			got2 := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum2.RunID)
			if r := got2["W8"]; r.Classification != "pdf" {
				t.Errorf("second run: W8 ended %s (%s), want pdf", r.Classification, r.Reason)
			}
			// The second run resumes discovery at W8's page (the discovery checkpoint):
			// W1, saved on page 1, is not listed again, or if it is, it is skipped.
			if r, ok := got2["W1"]; ok && r.Classification != "skipped" {
				t.Errorf("second run: W1 ended %s, want skipped", r.Classification)
			}
			if r := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")["W1"]; r.Classification != "pdf" {
				t.Errorf("W1's latest record is %s, want its pdf", r.Classification)
			}
			if _, err := os.Stat(filepath.Join(out, got2["W8"].Path)); err != nil {
				t.Error(err)
			}
			_ = strconv.Itoa
		})
	}
}

func TestRevalidate(t *testing.T) {
	w := newWorld(t)
	getenv := w.env(t, map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "true"})
	out := filepath.Join(t.TempDir(), "out")
	if res := runMain(t, w, getenv, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--quiet"); res.code != ExitOK {
		t.Fatalf("first run exit %d\n%s", res.code, res.stderr)
	}
	first := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")
	w1Before := w.count("pubA", "/W1.pdf")
	// W1 is unchanged (pubA answers 304 to its ETag); W2 has a new version; W3's check
	// is rate limited.
	w.setResponse(t, "pubA", "/W2.pdf", &sim.Response{Headers: map[string]string{"ETag": `"W2-v2"`},
		Body: string(fakePDF("W2 version 2", 5000))})
	w.setResponse(t, "pubA", "/W3.pdf", &sim.Response{Status: http.StatusTooManyRequests})
	res := runMain(t, w, getenv, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--revalidate", "--json")
	if res.code != ExitIncomplete {
		t.Fatalf("revalidate run exit %d, want 3 (W3's check deferred)\n%s", res.code, res.stderr)
	}
	var sum struct {
		RunID string `json:"run_id"`
	}
	json.Unmarshal([]byte(res.stdout), &sum)
	got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum.RunID)
	if r := got["W1"]; r.Classification != "skipped" || r.Reason != "not_modified" || r.SHA256 != first["W1"].SHA256 {
		t.Errorf("W1: %s %s", r.Classification, r.Reason)
	}
	// The first check of W1 named the ETag pubA gave it in the first run (pubA
	// answers 304 to exactly that).
	var checks []string
	for _, r := range w.log("pubA") {
		if r.Path == "/W1.pdf" {
			checks = append(checks, r.Outcome)
		}
	}
	if first["W1"].ETag == "" || len(checks) <= w1Before || checks[w1Before] != "304" {
		t.Errorf("W1 (ETag %s) checked with answers %v after the first run's %d", first["W1"].ETag, checks[min(w1Before, len(checks)):], w1Before)
	}
	r2 := got["W2"]
	if r2.Classification != "pdf" || r2.Reason != "revalidated_changed" || r2.SHA256 == first["W2"].SHA256 || r2.ETag != `"W2-v2"` {
		t.Errorf("W2: %+v", r2)
	}
	data, _ := os.ReadFile(filepath.Join(out, r2.Path))
	if !strings.Contains(string(data), "W2 version 2") {
		t.Error("W2's file was not replaced by the new version")
	}
	if r := got["W3"]; r.Classification != "deferred" || r.Path == "" {
		t.Errorf("W3: %s %s path %q; want deferred with its file kept", r.Classification, r.Reason, r.Path)
	}
	if _, err := os.Stat(filepath.Join(out, first["W3"].Path)); err != nil {
		t.Errorf("W3's file was lost: %v", err)
	}
}

func TestRateLimitedPDFBeatsFallback(t *testing.T) {
	// W9 has an XML copy on pubA and a PDF on pubB, which is closed for two hours.
	w := newWorld(t, func(sc *sim.Scenario) {
		worldWork(sc, "W9").Locations = []sim.LocationSpec{{Host: "pubA", PDF: "/W9.xml"}, {Host: "pubB", PDF: "/W9.pdf"}}
		pubB := worldHost(sc, "pubB")
		pubB.Faults.Shares = append(pubB.Faults.Shares, sim.Share{Fault: sim.Fault{Kind: sim.FaultTooMany, RetryAfter: 2 * time.Hour},
			Share: 1, PathPrefix: "/W9.pdf"})
	})
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "1"}),
		"run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--workers", "1", "--json")
	if res.code != ExitIncomplete {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")
	if r := got["W9"]; r.Classification != "deferred" || r.Path != "" {
		t.Errorf("W9 ended %s at %q; want deferred: the rate-limited host may hold the PDF", r.Classification, r.Path)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "XML")); len(ents) != 0 {
		t.Errorf("an XML fallback was kept for a deferred work")
	}
}
