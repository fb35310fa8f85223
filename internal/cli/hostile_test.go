package cli

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/manifest"
)

// hostileSite serves an OpenAlex page of hand-written records and their files.
type hostileSite struct {
	srv     *httptest.Server
	records []map[string]any

	mu   sync.Mutex
	hits int
}

func newHostileSite(t *testing.T, records func(base string) []map[string]any) *hostileSite {
	t.Helper()
	hs := &hostileSite{}
	hs.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		hs.hits++
		hs.mu.Unlock()
		switch {
		case r.URL.Path == "/works":
			rw.Header().Set("Content-Type", "application/json")
			json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(hs.records)}, "results": hs.records})
		case r.URL.Path == "/slip.zip":
			// A zip whose members try to climb out of any folder they are unpacked in.
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			for _, name := range []string{"../../../../escaped.pdf", "/tmp/absolute-escape.pdf"} {
				f, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
				f.Write(fakePDF(name, 4096))
			}
			zw.Close()
			rw.Header().Set("Content-Type", "application/zip")
			rw.Write(b.Bytes())
		case strings.HasPrefix(r.URL.Path, "/pdf/"):
			rw.Header().Set("Content-Type", "application/pdf")
			rw.Write(fakePDF(r.URL.Path, 4096))
		case r.URL.Path == "/fail":
			http.Error(rw, "boom", http.StatusInternalServerError)
		default:
			http.NotFound(rw, r)
		}
	}))
	hs.records = records(hs.srv.URL)
	t.Cleanup(hs.srv.Close)
	return hs
}

func (hs *hostileSite) requests() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.hits
}

func (hs *hostileSite) env(t *testing.T, extra map[string]string) func(string) string {
	return hermeticEnv(t, hs.srv.URL, hs.srv.URL, map[string]string{
		"DOCSTOKG_RESOLVERS_ORDER":         "openalex",
		"DOCSTOKG_RETRY_BASE_DELAY":        "10ms",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS": "1000",
	}, extra)
}

func hostileRecord(id, title string, year int, pdfURL string) map[string]any {
	loc := map[string]any{"is_oa": true, "pdf_url": pdfURL}
	return map[string]any{"id": id, "display_name": title, "title": title, "publication_year": year,
		"open_access": map[string]any{"is_oa": true}, "best_oa_location": loc, "locations": []any{loc}}
}

// Hostile titles, ids and archive members never write outside OUT; every name is
// bounded; other schemes are refused; every saved record's file has its sha256.
func TestHostileNamesStayInsideOut(t *testing.T) {
	long := strings.Repeat("ü€😀\u202e", 3000)
	hs := newHostileSite(t, func(base string) []map[string]any {
		return []map[string]any{
			hostileRecord("https://openalex.org/W1", "../../../../etc/passwd", 2020, base+"/pdf/1"),
			hostileRecord("https://openalex.org/W2", "/etc/shadow", 2020, base+"/pdf/2"),
			hostileRecord("https://openalex.org/..", "Same title", 2020, base+"/pdf/3"),
			hostileRecord("https://openalex.org/.", "Same title", 2020, base+"/pdf/4"),
			hostileRecord("https://openalex.org/W5\x00..", "nul\x00byte/../x", 2020, base+"/pdf/5"),
			hostileRecord("https://openalex.org/W6", long, 2020, base+"/pdf/6"),
			hostileRecord("https://openalex.org/CON", "NUL", 2020, base+"/pdf/7"),
			hostileRecord(`https://openalex.org/..\..\W8`, `..\..\windows\system32\cmd`, 2020, base+"/pdf/8"),
			hostileRecord("https://openalex.org/W9", "Year overflow", 99999, base+"/pdf/9"),
			hostileRecord("https://openalex.org/W10", "Negative year", -44, base+"/pdf/10"),
			hostileRecord("https://openalex.org/W"+strings.Repeat("9", 300), "Long id", 2020, base+"/pdf/11"),
			hostileRecord("https://openalex.org/W12", "Zip slip", 2020, base+"/slip.zip"),
			hostileRecord("https://openalex.org/W13", "File scheme", 2020, "file:///etc/passwd"),
			hostileRecord("https://openalex.org/W14", "FTP scheme", 2020, "ftp://127.0.0.1/pub/x.pdf"),
			hostileRecord("https://openalex.org/W15", "Script scheme", 2020, "javascript:alert(1)"),
			hostileRecord("https://openalex.org/W16", "Data scheme", 2020, "data:application/pdf;base64,JVBERi0xLjQK"),
			hostileRecord("https://openalex.org/W17", ".", 2020, base+"/pdf/17"),
			hostileRecord("https://openalex.org/W18", "..", 2020, base+"/pdf/18"),
		}
	})
	root := t.TempDir()
	out := filepath.Join(root, "deep", "out")
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	res := runMain(t, w, hs.env(t, nil), "run", "--topic", "hostile", "--out", out, "--workers", "4", "--json")
	if res.code != ExitOK && res.code != ExitIncomplete {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	var sum struct {
		RunID string `json:"run_id"`
	}
	json.Unmarshal([]byte(res.stdout), &sum)

	// Nothing outside OUT, no name longer than a file system allows, no sub-folders
	// under the kind folders.
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		inside := rel == "." || (!strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel))
		if !d.IsDir() && !inside {
			t.Errorf("file written outside OUT: %s", p)
		}
		if len(d.Name()) > 255 {
			t.Errorf("name of %d bytes: %.60s…", len(d.Name()), d.Name())
		}
		if inside && !d.IsDir() {
			if parts := strings.Split(filepath.ToSlash(rel), "/"); len(parts) > 2 {
				t.Errorf("file nested below a kind folder: %s", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/tmp/absolute-escape.pdf", filepath.Join(root, "escaped.pdf")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("zip member escaped to %s", p)
		}
	}

	recs := readManifest(t, filepath.Join(out, "manifest.jsonl"))
	checkOutput(t, out, recs)
	got := map[string]manifest.Record{}
	byPath := map[string]string{}
	for _, r := range recs {
		if r.RecordType != manifest.TypeManifest || r.RunID != sum.RunID {
			continue
		}
		got[r.WorkID] = r
		if r.Path == "" {
			continue
		}
		// Two works must never share a file: the second would overwrite the first.
		if other, dup := byPath[r.Path]; dup {
			t.Errorf("works %q and %q were both saved as %s", other, r.WorkID, r.Path)
		}
		byPath[r.Path] = r.WorkID
		data, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(r.Path)))
		sumb := sha256.Sum256(data)
		if err != nil || hex.EncodeToString(sumb[:]) != r.SHA256 {
			t.Errorf("work %q: file %s does not hold the recorded sha256 (%v)", r.WorkID, r.Path, err)
		}
	}
	for id, reason := range map[string]string{"W13": "bad_scheme", "W14": "bad_scheme", "W15": "bad_scheme", "W16": "bad_scheme",
		"W12": "archive_unsafe_path"} {
		r, ok := got[id]
		if !ok || r.Classification != manifest.ClassMiss || r.Path != "" {
			t.Errorf("%s: ended %q with path %q, want a miss", id, r.Classification, r.Path)
			continue
		}
		if r.Reason != reason && r.Reason != "no_oa_candidates" {
			t.Errorf("%s: reason %q, want %s", id, r.Reason, reason)
		}
	}
	for _, id := range []string{"W1", "W2", "W6", "CON", "W9", "W10", "W17", "W18"} {
		if r := got[id]; r.Classification != manifest.ClassPDF {
			t.Errorf("%s: ended %q (%s), want saved under a safe name", id, r.Classification, r.Reason)
		}
	}
}

// Secrets in URLs (api_key, email, mailto, tokens, userinfo) and in the config never
// reach the logs, the manifest, the summary or stdout.
func TestSecretsAreRedacted(t *testing.T) {
	const (
		apiKey   = "sk-OPENALEX-SECRET-4711"
		mail     = "secret.person@example.org"
		password = "pa55w0rd-SECRET"
		urlKey   = "URLKEY-SECRET-0815"
		token    = "TOKEN-SECRET-42"
	)
	query := "?api_key=" + urlKey + "&email=secret.person%40example.org&mailto=" + mail + "&token=" + token
	hs := newHostileSite(t, func(base string) []map[string]any {
		withUser := strings.Replace(base, "http://", "http://alice:"+password+"@", 1)
		return []map[string]any{
			hostileRecord("https://openalex.org/W1", "Saved with secrets", 2020, withUser+"/pdf/1"+query),
			hostileRecord("https://openalex.org/W2", "Failing with secrets", 2020, withUser+"/fail"+query),
			hostileRecord("https://openalex.org/W3", "Missing with secrets", 2020, base+"/missing.pdf"+query),
		}
	})
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	for _, format := range []string{"text", "json"} {
		out := filepath.Join(t.TempDir(), "out")
		res := runMain(t, w, hs.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": apiKey, "DOCSTOKG_RETRY_MAX_ATTEMPTS": "2"}),
			"run", "--topic", "secrets", "--mailto", mail, "--out", out, "--log-level", "debug", "--log-format", format, "--json")
		if res.code != ExitIncomplete && res.code != ExitOK {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		man, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
		summary, _ := os.ReadFile(filepath.Join(out, "manifest.summary.json"))
		if !bytes.Contains(man, []byte(`"classification":"pdf"`)) {
			t.Errorf("the work with credentials in its URL was not saved:\n%s", man)
		}
		for _, secret := range []string{apiKey, mail, "secret.person%40example.org", "secret.person", password, urlKey, token} {
			for name, data := range map[string]string{"stderr": res.stderr, "stdout": res.stdout, "manifest": string(man), "summary": string(summary)} {
				if strings.Contains(data, secret) {
					i := strings.Index(data, secret)
					t.Errorf("%s (%s logs): %q leaked: …%s…", name, format, secret, data[max(0, i-80):min(len(data), i+len(secret)+40)])
				}
			}
		}
	}
}

// An output directory that cannot be created or written is a clear error, exit 1,
// before any request.
func TestUnwritableOutExits1BeforeAnyRequest(t *testing.T) {
	hs := newHostileSite(t, func(base string) []map[string]any {
		return []map[string]any{hostileRecord("https://openalex.org/W1", "One", 2020, base+"/pdf/1")}
	})
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	for _, out := range []string{filepath.Join(file, "out"), file} {
		res := runMain(t, w, hs.env(t, nil), "run", "--topic", "x", "--out", out)
		if res.code != ExitError {
			t.Errorf("--out %s: exit %d, want 1\n%s", out, res.code, res.stderr)
		}
		// The final error (one or two "contentdl: " lines) says so and names OUT.
		var final []string
		for _, l := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
			if s, ok := strings.CutPrefix(l, "contentdl: "); ok {
				final = append(final, s)
			}
		}
		last := strings.Join(final, " ")
		if len(final) == 0 || len(final) > 2 || !strings.Contains(last, "not writable") || !strings.Contains(last, out) {
			t.Errorf("--out %s: final error %q does not say the directory is not writable", out, last)
		}
	}
	if n := hs.requests(); n != 0 {
		t.Errorf("%d requests sent before the output directory was checked", n)
	}
}

// Nonsense numbers are usage errors (exit 2) before any request.
func TestNonsenseFlagsExit2(t *testing.T) {
	hs := newHostileSite(t, func(string) []map[string]any { return nil })
	w := &world{clk: clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))}
	for _, args := range [][]string{
		{"--workers", "100000"},
		{"--workers", "2.5"},
		{"--workers", ""},
		{"--workers", "-1"},
		{"--max-works", "-5"},
		{"--max-works", "lots"},
		{"--max-works", "99999999999999999999"},
		{"--year-start", "99999"},
		{"--year-start", "-2020"},
		{"--year-end", "1e3"},
		{"--year-start", "2025", "--year-end", "2024"},
	} {
		r := runMain(t, w, hs.env(t, nil), append([]string{"run", "--topic", "x", "--out", t.TempDir()}, args...)...)
		if r.code != ExitUsage || strings.TrimSpace(r.stderr) == "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with a message", args, r.code, r.stderr)
		}
	}
	for _, kv := range [][2]string{{"DOCSTOKG_WORKERS", "0"}, {"DOCSTOKG_MAX_WORKS", "-1"}, {"DOCSTOKG_WORKERS", "banana"}} {
		r := runMain(t, w, hs.env(t, map[string]string{kv[0]: kv[1]}), "run", "--topic", "x", "--out", t.TempDir())
		if r.code != ExitUsage {
			t.Errorf("%s=%s: exit %d, want 2\n%s", kv[0], kv[1], r.code, r.stderr)
		}
	}
	if n := hs.requests(); n != 0 {
		t.Errorf("%d requests sent despite usage errors", n)
	}
}
