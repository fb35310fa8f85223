package cli

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/sim"
)

// A fault is one way a server misbehaves. Each fault kind is given to a group of
// works; afterwards the test checks how every work ended. The works and their
// faults live on the simulator (internal/sim): a faulty work's candidate is
// /f/<fault>/<id>.pdf, a healthy one /ok/<id>.pdf.
type fault struct {
	name string
	// n is how many works get the fault.
	n int
	// alt gives every second work of the group a second, healthy candidate, so that
	// failover is exercised as well as the fault itself.
	alt bool
	// want is how a work without a healthy alternative must end: "saved", "deferred"
	// or "miss".
	want string
	// reasons are the acceptable manifest reasons of a work that is not saved.
	reasons []string
	// attempts are the faults of the first requests for each faulty path, one per
	// request; the PDF follows.
	attempts []sim.Fault
	// always is the fault of every request for a faulty path.
	always *sim.Fault
	// response is what every request for a faulty path gets instead of the PDF.
	response *sim.Response
	// host: "pub" (default) = the main publisher, "slow" = a publisher of its own
	// (its cooldown must not close the main publisher).
	host string
}

// faulty reports whether the fault acts on a publisher path.
func (f fault) faulty() bool { return f.attempts != nil || f.always != nil || f.response != nil }

// Fault groups that act on discovery rather than on a publisher path.
const (
	faultNone          = "none"
	faultOAMalformed   = "openalex_malformed"
	faultRepeatCursor  = "openalex_repeat_cursor"
	faultUPWMalformed  = "unpaywall_malformed"
	faultPerPage       = 10
	faultMaxBytes      = 256 << 10
	faultPDFSize       = 4096
	faultBombInflated  = 4 << 20
	faultOversizeBytes = 512 << 10
)

// gzipBomb is a gzip stream that starts like a PDF and inflates far past
// download.max_bytes.
func gzipBomb() []byte {
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write([]byte("%PDF-1.4\n"))
	zero := make([]byte, 64<<10)
	for n := 0; n < faultBombInflated; n += len(zero) {
		zw.Write(zero)
	}
	zw.Close()
	return zb.Bytes()
}

func faultKinds() []fault {
	pdf := map[string]string{"Content-Type": "application/pdf"}
	return []fault{
		{name: faultNone, n: 10, want: "saved"},
		{name: faultOAMalformed, n: faultPerPage, want: "saved"},
		{name: "reset_before_headers", n: 4, want: "saved", attempts: []sim.Fault{{Kind: sim.FaultReset}, {Kind: sim.FaultReset}}},
		{name: "truncated_body", n: 4, want: "saved", attempts: []sim.Fault{{Kind: sim.FaultTruncated}}},
		// Half the body, then a stall until the client gives up (real time:
		// download.timeout).
		{name: "stalled_body", n: 4, want: "saved", attempts: []sim.Fault{{Kind: sim.FaultSlowBody, Delay: 10 * time.Second}}},
		{name: "503_burst", n: 4, want: "saved", attempts: []sim.Fault{{Kind: sim.FaultUnavailable}, {Kind: sim.FaultUnavailable}, {Kind: sim.FaultUnavailable}}},
		{name: "503_retry_after_2h", n: 4, host: "slow", want: "deferred", reasons: []string{"rate_limited"},
			always: &sim.Fault{Kind: sim.FaultUnavailable, RetryAfter: 2 * time.Hour}},
		// A challenge page labelled application/pdf: reported as the bot check it is.
		{name: "html_as_pdf", n: 4, alt: true, want: "miss", reasons: []string{"bot_challenge"},
			always: &sim.Fault{Kind: sim.FaultHTMLAsPDF}},
		{name: "redirect_loop", n: 4, alt: true, want: "miss", reasons: []string{"too_many_redirects"},
			always: &sim.Fault{Kind: sim.FaultRedirectLoop}},
		{name: "redirect_file_scheme", n: 4, alt: true, want: "miss", reasons: []string{"bad_scheme"},
			response: &sim.Response{Status: http.StatusFound, Headers: map[string]string{"Location": "file:///etc/passwd"}}},
		{name: "redirect_ftp_scheme", n: 4, alt: true, want: "miss", reasons: []string{"bad_scheme"},
			response: &sim.Response{Status: http.StatusMovedPermanently, Headers: map[string]string{"Location": "ftp://127.0.0.1:21/pub/paper.pdf"}}},
		{name: "gzip_bomb", n: 4, alt: true, want: "miss", reasons: []string{"too_large"},
			response: &sim.Response{Headers: map[string]string{"Content-Type": "application/pdf", "Content-Encoding": "gzip"}, Body: string(gzipBomb())}},
		{name: "oversize_declared", n: 4, alt: true, want: "miss", reasons: []string{"too_large"},
			always: &sim.Fault{Kind: sim.FaultOversize, Size: faultOversizeBytes}},
		{name: "oversize_chunked", n: 4, alt: true, want: "miss", reasons: []string{"too_large"},
			response: &sim.Response{Headers: pdf, Body: string(fakePDF("oversize", faultOversizeBytes)), Chunked: true}},
		{name: faultUPWMalformed, n: 4, want: "miss", reasons: []string{"resolver_error"}},
		{name: faultRepeatCursor, n: faultPerPage, want: "saved"},
	}
}

// faultWork is one work of the fault world.
type faultWork struct {
	id    string
	fault string
	alt   bool // has a second, healthy candidate
}

// faultWorld is a simulated OpenAlex, Unpaywall and two publishers ("pub" and
// "slow") serving the fault groups: OpenAlex serves one page malformed (once, or
// forever) and repeats the last page's cursor; Unpaywall answers the
// unpaywall_malformed works with broken JSON and knows no other work.
type faultWorld struct {
	clk      *clock.Fake
	s        *sim.Sim
	kinds    map[string]fault
	works    []faultWork
	malPage  int // the page served malformed
	lastPage int // the page whose next_cursor repeats its own cursor
}

// count is how many requests the named simulated host got for path (redirect hops
// included: they carry a query).
func (fw *faultWorld) count(host, path string) int {
	h, _ := fw.s.Stats().Host(host)
	n := 0
	for _, r := range h.Log {
		if r.Path == path {
			n++
		}
	}
	return n
}

// cursors counts the OpenAlex listing requests by cursor.
func (fw *faultWorld) cursors() map[string]int {
	h, _ := fw.s.Stats().Host(sim.RoleOpenAlex)
	out := map[string]int{}
	for _, r := range h.Log {
		if r.Path == "/works" {
			q, _ := url.ParseQuery(r.Query)
			out[q.Get("cursor")]++
		}
	}
	return out
}

// newFaultWorld starts the fault world; with malformedForever the malformed page
// never heals.
func newFaultWorld(t *testing.T, malformedForever bool) *faultWorld {
	t.Helper()
	fw := &faultWorld{clk: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)), kinds: map[string]fault{}}
	add := func(f fault) {
		for i := 0; i < f.n; i++ {
			fw.works = append(fw.works, faultWork{id: "W" + strconv.Itoa(1000+len(fw.works)), fault: f.name, alt: f.alt && i%2 == 0})
		}
	}
	var repeat fault
	for _, f := range faultKinds() {
		fw.kinds[f.name] = f
		switch f.name {
		case faultRepeatCursor:
			repeat = f
			continue
		case faultOAMalformed:
			fw.malPage = len(fw.works)/faultPerPage + 1
			if len(fw.works)%faultPerPage != 0 {
				t.Fatal("the malformed page must start on a page boundary")
			}
		}
		add(f)
	}
	// Pad with healthy works to a page boundary, then the repeat-cursor page last.
	for len(fw.works)%faultPerPage != 0 {
		add(fault{name: faultNone, n: 1})
	}
	add(repeat)
	fw.lastPage = len(fw.works) / faultPerPage

	hosts := map[string]*sim.HostSpec{"pub": {Name: "pub"}, "slow": {Name: "slow"}}
	for _, f := range faultKinds() {
		h := hosts[cmp.Or(f.host, "pub")]
		prefix := "/f/" + f.name + "/"
		if f.always != nil {
			h.Faults.Shares = append(h.Faults.Shares, sim.Share{Fault: *f.always, Share: 1, PathPrefix: prefix})
		}
		if f.response != nil {
			h.Responses = append(h.Responses, sim.PathResponse{PathPrefix: prefix, Response: *f.response})
		}
	}
	var list []sim.WorkSpec
	for _, w := range fw.works {
		f := fw.kinds[w.fault]
		num := strings.TrimPrefix(w.id, "W")
		ws := sim.WorkSpec{ID: w.id, DOI: "10.2000/w" + num, Title: "Faults " + w.fault + " " + num, Year: 2022}
		switch {
		case w.fault == faultUPWMalformed:
			ws.UnpaywallRaw = `{"doi": "10.2000/w` + num + `", "best_oa_location": {"url_for_pdf": "${pub}/ok/` + w.id + `.pdf"`
		case f.faulty():
			host := cmp.Or(f.host, "pub")
			path := "/f/" + w.fault + "/" + w.id + ".pdf"
			ws.Locations = []sim.LocationSpec{{Host: host, PDF: path}}
			if f.attempts != nil {
				h := hosts[host]
				h.Faults.Schedules = append(h.Faults.Schedules, sim.Schedule{Path: path, Attempts: f.attempts})
			}
		default:
			ws.Locations = []sim.LocationSpec{{Host: "pub", PDF: "/ok/" + w.id + ".pdf"}}
		}
		if w.alt {
			ws.Locations = append(ws.Locations, sim.LocationSpec{Host: "pub", PDF: "/ok/" + w.id + ".pdf"})
		}
		list = append(list, ws)
	}
	times := 1
	if malformedForever {
		times = -1
	}
	s, err := sim.Start(sim.Scenario{Name: "faults", Topic: "faults", PDFSize: faultPDFSize,
		Works:    sim.WorksSpec{List: list},
		OpenAlex: sim.OpenAlexSpec{MalformedPage: fw.malPage, MalformedTimes: times, RepeatCursorPage: fw.lastPage},
		Hosts:    []sim.HostSpec{*hosts["pub"], *hosts["slow"]}}, sim.Options{Clock: fw.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fw.s = s
	return fw
}

func (fw *faultWorld) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, fw.s.OpenAlexURL(), fw.s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE":         strconv.Itoa(faultPerPage),
		"DOCSTOKG_RESOLVERS_ORDER":           "openalex,unpaywall",
		"DOCSTOKG_RETRY_BASE_DELAY":          "100ms",
		"DOCSTOKG_DOWNLOAD_TIMEOUT":          "300ms",
		"DOCSTOKG_DOWNLOAD_MAX_BYTES":        strconv.Itoa(faultMaxBytes),
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS":   "1000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST": "100",
	}, extra)
}

// faultRow is one line of the fault table.
type faultRow struct {
	Fault    string `json:"fault"`
	Injected int    `json:"injected"`
	Saved    int    `json:"saved"`
	Deferred int    `json:"deferred"`
	Missed   int    `json:"missed"`
	Invalid  int    `json:"invalid_kept"`
}

// checkOutput verifies OUT after a run: every file under OUT/PDF is a whole PDF whose
// sha256 a saved manifest record claims for that path, and OUT/.tmp is empty. It
// returns the invalid files found, by work id ("" when a file belongs to no record).
func checkOutput(t *testing.T, out string, recs []manifest.Record) map[string]int {
	t.Helper()
	claims := map[string]manifest.Record{} // path → latest saved record
	for _, r := range recs {
		if r.RecordType == manifest.TypeManifest && r.Path != "" && r.SHA256 != "" {
			claims[r.Path] = r
		}
	}
	invalid := map[string]int{}
	err := filepath.WalkDir(filepath.Join(out, "PDF"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rec, ok := claims[rel]
		sum := sha256.Sum256(data)
		switch {
		case !ok:
			t.Errorf("%s: no manifest record claims this file", rel)
		case hex.EncodeToString(sum[:]) != rec.SHA256:
			t.Errorf("%s: sha256 %x, manifest says %s", rel, sum, rec.SHA256)
		case !bytes.HasPrefix(data, []byte("%PDF")) || !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")):
			t.Errorf("%s: not a whole PDF (%d bytes)", rel, len(data))
		default:
			return nil
		}
		invalid[rec.WorkID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(filepath.Join(out, ".tmp")); err != nil || len(ents) != 0 {
		t.Errorf("OUT/.tmp: %d entries left (%v)", len(ents), err)
	}
	return invalid
}

func TestFaults(t *testing.T) {
	for _, gate := range []string{"legacy", "contextual"} {
		t.Run(gate, func(t *testing.T) {
			fw := newFaultWorld(t, false)
			env := map[string]string{}
			if gate == "contextual" {
				env["DOCSTOKG_ENABLE_CONTEXTUAL_RETRY"] = "true"
			}
			out := filepath.Join(t.TempDir(), "out")
			res := runMain(t, &world{clk: fw.clk}, fw.env(t, env), "run", "--topic", "faults", "--mailto", "me@example.org",
				"--out", out, "--workers", "4", "--json")
			if res.code != ExitIncomplete {
				t.Fatalf("exit %d, want %d (some works missed or deferred)\nstderr:\n%s", res.code, ExitIncomplete, res.stderr)
			}
			var sum struct {
				RunID          string `json:"run_id"`
				Works          int    `json:"works"`
				DiscoveryError string `json:"discovery_error"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
				t.Fatalf("summary: %v\n%s", err, res.stdout)
			}
			if sum.DiscoveryError != "" {
				t.Errorf("discovery error %q: a page malformed once must be fetched again", sum.DiscoveryError)
			}
			recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
			perWork := map[string][]manifest.Record{}
			for _, r := range recs {
				if r.RecordType == manifest.TypeManifest && r.RunID == sum.RunID {
					perWork[r.WorkID] = append(perWork[r.WorkID], r)
				}
			}
			invalid := checkOutput(t, out, recs)
			rows := map[string]*faultRow{}
			for _, w := range fw.works {
				row := rows[w.fault]
				if row == nil {
					row = &faultRow{Fault: w.fault}
					rows[w.fault] = row
				}
				row.Injected++
				row.Invalid += invalid[w.id]
				got := perWork[w.id]
				if len(got) != 1 {
					t.Errorf("%s (%s): %d manifest records in this run, want exactly 1", w.id, w.fault, len(got))
					continue
				}
				r := got[0]
				f := fw.kinds[w.fault]
				switch r.Classification {
				case manifest.ClassPDF:
					row.Saved++
				case manifest.ClassDeferred:
					row.Deferred++
				default:
					row.Missed++
				}
				want := f.want
				if w.alt {
					want = "saved"
				}
				switch want {
				case "saved":
					if r.Classification != manifest.ClassPDF {
						t.Errorf("%s (%s, alt=%t): ended %s (%s), want a saved PDF", w.id, w.fault, w.alt, r.Classification, r.Reason)
					}
				case "deferred", "miss":
					wantClass := manifest.ClassMiss
					if want == "deferred" {
						wantClass = manifest.ClassDeferred
					}
					if r.Classification != wantClass || !contains(f.reasons, r.Reason) {
						t.Errorf("%s (%s): ended %s (%q), want %s with a reason in %v", w.id, w.fault, r.Classification, r.Reason, wantClass, f.reasons)
					}
				}
				if r.Classification != manifest.ClassPDF && r.Reason == "" {
					t.Errorf("%s (%s): not saved and no reason", w.id, w.fault)
				}
			}
			if invalid[""] > 0 {
				t.Errorf("%d files under OUT/PDF belong to no work", invalid[""])
			}
			if len(perWork) != len(fw.works) {
				t.Errorf("manifest has records for %d works, the world has %d", len(perWork), len(fw.works))
			}
			// Discovery: each page once, the malformed one twice, and no loop on the
			// repeating cursor.
			if got, want := fw.count("openalex", "/works"), fw.lastPage+1; got != want {
				t.Errorf("openalex /works requests = %d, want %d (pages + one re-fetch)", got, want)
			}
			// A redirect loop is followed to the limit once, never retried: at most 11
			// requests (the first and 10 redirects) per work.
			// A redirect to another scheme is refused at once, also never retried.
			for _, w := range fw.works {
				limit := 0
				switch w.fault {
				case "redirect_loop":
					limit = 11
				case "redirect_file_scheme", "redirect_ftp_scheme":
					limit = 1
				default:
					continue
				}
				if n := fw.count("pub", "/f/"+w.fault+"/"+w.id+".pdf"); n > limit {
					t.Errorf("%s (%s): fetched %d times, want <= %d", w.id, w.fault, n, limit)
				}
			}
			var names []string
			for n := range rows {
				names = append(names, n)
			}
			sort.Strings(names)
			var b strings.Builder
			fmt.Fprintf(&b, "fault table (%s policy):\n%-24s %8s %6s %8s %6s %12s\n", gate, "fault", "injected", "saved", "deferred", "missed", "invalid_kept")
			for _, n := range names {
				r := rows[n]
				fmt.Fprintf(&b, "%-24s %8d %6d %8d %6d %12d\n", r.Fault, r.Injected, r.Saved, r.Deferred, r.Missed, r.Invalid)
				if r.Invalid != 0 {
					t.Errorf("%s: %d invalid files kept", n, r.Invalid)
				}
			}
			t.Log(b.String())
			if p := os.Getenv("CONTENTDL_FAULT_TABLE"); p != "" {
				var list []faultRow
				for _, n := range names {
					list = append(list, *rows[n])
				}
				data, _ := json.MarshalIndent(map[string]any{"policy": gate, "rows": list}, "", "  ")
				f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err == nil {
					f.Write(append(data, '\n'))
					f.Close()
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fdTargets describes the open descriptors, for a failure message.
func fdTargets() map[string]int {
	out := map[string]int{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		if i := strings.IndexByte(target, ':'); i > 0 && !strings.HasPrefix(target, "/") {
			target = target[:i] // socket:[123] → socket
		}
		out[target]++
	}
	return out
}

// countFDs counts this process's open file descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// A whole in-process run (learning on, so its file and lock are opened too) gives
// back every file descriptor: files, the manifest, OUT's lock, response bodies and
// connections.
func TestRunReleasesFileDescriptors(t *testing.T) {
	w := newWorld(t)
	getenv := w.env(t, nil)
	learn := filepath.Join(t.TempDir(), "learning.json")
	args := func(out string) []string {
		return []string{"run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--quiet",
			"--enable-provider-learning", "--provider-learning-path", learn}
	}
	if r := runMain(t, w, getenv, args(filepath.Join(t.TempDir(), "warm"))...); r.code != ExitOK {
		t.Fatalf("warm-up run: exit %d\n%s", r.code, r.stderr)
	}
	settle := func(limit int) int {
		// The test's own servers close their side of a connection a moment after the
		// client has.
		deadline := time.Now().Add(3 * time.Second)
		n := countFDs(t)
		for n > limit && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			n = countFDs(t)
		}
		return n
	}
	before := countFDs(t)
	for i := 0; i < 40; i++ { // until the warm-up's connections are gone
		time.Sleep(25 * time.Millisecond)
		n := countFDs(t)
		if n == before {
			break
		}
		before = n
	}
	// No goroutine of the runs may outlive them either (a pooled connection has two).
	ignore := goleak.IgnoreCurrent()
	for i := range 3 {
		if r := runMain(t, w, getenv, args(filepath.Join(t.TempDir(), "out"+strconv.Itoa(i)))...); r.code != ExitOK {
			t.Fatalf("run %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	if after := settle(before); after > before {
		t.Errorf("open file descriptors: %d before three runs, %d after: %v", before, after, fdTargets())
	}
	goleak.VerifyNone(t, ignore)
}

// An OpenAlex page that never decodes ends discovery with a clear error (exit 1 and
// discovery_error in the summary), after a bounded number of re-fetches; the works
// discovered before it still get their one manifest record each.
func TestDiscoveryMalformedForever(t *testing.T) {
	fw := newFaultWorld(t, true)
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, &world{clk: fw.clk}, fw.env(t, nil), "run", "--topic", "faults", "--mailto", "me@example.org",
		"--out", out, "--workers", "4", "--json")
	if res.code != ExitError {
		t.Fatalf("exit %d, want %d\n%s", res.code, ExitError, res.stderr)
	}
	var sum struct {
		RunID          string `json:"run_id"`
		DiscoveryError string `json:"discovery_error"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "manifest.summary.json"))
	if err := json.Unmarshal(data, &sum); err != nil || !strings.Contains(sum.DiscoveryError, "page 2") {
		t.Errorf("summary discovery_error %q (%v), want one naming page 2", sum.DiscoveryError, err)
	}
	if !strings.Contains(res.stderr, "contentdl: discovery") {
		t.Errorf("no error line naming discovery:\n%s", res.stderr)
	}
	// Page 1 once (cursor *), then the malformed page 2 three times, nothing after.
	if c := fw.cursors(); fw.malPage != 2 || len(c) != 2 || c["*"] != 1 {
		t.Errorf("listing requests by cursor %v, want page 1 once and the malformed page %d", c, fw.malPage)
	} else {
		for cursor, n := range c {
			if cursor != "*" && n != 3 {
				t.Errorf("the malformed page was fetched %d times, want 3 (once and two re-fetches)", n)
			}
		}
	}
	got := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), sum.RunID)
	for _, w := range fw.works[:faultPerPage] {
		if r, ok := got[w.id]; !ok || r.Classification != manifest.ClassPDF {
			t.Errorf("%s (page 1): %q, want saved", w.id, r.Classification)
		}
	}
	if len(got) != faultPerPage {
		t.Errorf("%d works recorded, want the %d of page 1", len(got), faultPerPage)
	}
	checkOutput(t, out, readManifest(t, filepath.Join(out, "manifest.jsonl")))
}
