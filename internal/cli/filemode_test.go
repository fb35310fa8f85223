//go:build unix

package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// testUmaskEnv sets the umask of a re-executed contentdl child (octal).
const testUmaskEnv = "CONTENTDL_TEST_UMASK"

// setTestUmask applies CONTENTDL_TEST_UMASK. It runs only in a child process: the
// umask is process-wide, and changing it in the test process would race with every
// parallel test that creates files.
func setTestUmask() {
	if m := os.Getenv(testUmaskEnv); m != "" {
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", testUmaskEnv, m, err))
		}
		syscall.Umask(int(n))
	}
}

// Every file contentdl writes under OUT, and the metrics file, is 0666 &^ umask, as
// curl and wget create files; the learning file is 0600 when new and keeps its mode
// when rewritten. Each umask runs contentdl as a child process.
func TestFileModesFollowUmask(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
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
			base := "http://" + r.Host
			rw.Header().Set("Content-Type", "application/json")
			w3 := work("W3", loc("", base+"/article/W3"))
			w3["open_access"] = map[string]any{"is_oa": true, "oa_url": base + "/article/W3"} // no PDF: HTML is kept
			json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": 3}, "results": []any{
				work("W1", loc(base+"/W1.pdf", "")),
				work("W2", loc(base+"/W2.xml", "")),
				w3,
			}})
		case "/W1.pdf":
			rw.Header().Set("Content-Type", "application/pdf")
			rw.Write(fakePDF("W1", 4096))
		case "/W2.xml":
			rw.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(rw, `<?xml version="1.0"?><article><body>full text</body></article>`)
		case "/article/W3":
			rw.Header().Set("Content-Type", "text/html")
			// A page that declares itself the full text (citation_fulltext_html_url is
			// its own URL), so the full-text rule keeps it.
			fmt.Fprintf(rw, `<!DOCTYPE html><html><head><title>W3</title>`+
				`<meta name="citation_fulltext_html_url" content="http://%s/article/W3"></head>`+
				`<body><article>The full text of W3.</article></body></html>`, r.Host)
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(site.Close)

	for _, tc := range []struct {
		umask string
		want  os.FileMode
	}{{"022", 0o644}, {"002", 0o664}, {"077", 0o600}} {
		t.Run("umask_"+tc.umask, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "out")
			state := filepath.Join(root, "state", "provider-learning.json")
			env := append(newLiveWorldEnv(t, site.URL), testUmaskEnv+"="+tc.umask,
				"DOCSTOKG_RESOLVERS_ORDER=openalex", "DOCSTOKG_ENABLE_PROVIDER_LEARNING=true")
			args := []string{"run", "--topic", "modes", "--out", out, "--metrics-file", filepath.Join(out, "contentdl.prom"),
				"--provider-learning-path", state, "--quiet"}
			if code := startChild(t, env, args...).wait(t, 60*time.Second); code != ExitOK {
				t.Fatalf("exit %d", code)
			}
			want := map[string]bool{"PDF/2024__work-w1__W1.pdf": false, "XML/2024__work-w2__W2.xml": false,
				"HTML/2024__work-w3__W3.html": false, "manifest.jsonl": false, "manifest.summary.json": false,
				"contentdl.prom": false, ".lock": false}
			err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(out, p)
				fi, err := d.Info()
				if err != nil {
					return err
				}
				if got := fi.Mode().Perm(); got != tc.want {
					t.Errorf("umask %s: %s is %03o, want %03o", tc.umask, rel, got, tc.want)
				}
				if _, ok := want[rel]; ok {
					want[rel] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for rel, seen := range want {
				if !seen {
					t.Errorf("%s was not written", rel)
				}
			}
			fi, err := os.Stat(state)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("umask %s: learning file is %03o, want 0600", tc.umask, fi.Mode().Perm())
			}

			// A mode the user gave the learning file survives the next save.
			if err := os.Chmod(state, 0o640); err != nil {
				t.Fatal(err)
			}
			if code := startChild(t, env, append(args, "--no-resume")...).wait(t, 60*time.Second); code != ExitOK {
				t.Fatalf("second run: exit %d", code)
			}
			if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("after a second run the learning file is %v (%v), want 0640 kept", fi.Mode().Perm(), err)
			}
		})
	}
}

// newLiveWorldEnv is the child environment for a single local server standing in for
// OpenAlex and every other provider.
func newLiveWorldEnv(t *testing.T, base string) []string {
	dead := "http://127.0.0.1:1"
	return []string{
		execMainEnv + "=1",
		"HOME=" + t.TempDir(),
		"XDG_STATE_HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"DOCSTOKG_OPENALEX_BASE_URL=" + base,
		"DOCSTOKG_UNPAYWALL_BASE_URL=" + dead,
		"DOCSTOKG_CROSSREF_BASE_URL=" + dead,
		"DOCSTOKG_ARXIV_BASE_URL=" + dead,
		"DOCSTOKG_EUROPE_PMC_BASE_URL=" + dead,
		"DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL=" + dead,
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS=1000",
		"DOCSTOKG_RETRY_BASE_DELAY=10ms",
	}
}
