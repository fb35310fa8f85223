package cli

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/docstokg/contentdl/internal/sim"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// An unreachable OpenAlex ends the run with a short error a person can read: the
// operation, the host, the cause in plain words and the attempts, the URL once,
// shortened, no secret; at most two lines of 200 characters. --log-level debug has
// the whole of it.
func TestUnreachableOpenAlexErrorIsReadable(t *testing.T) {
	w := newWorld(t)
	addr := closedPort(t)
	for _, c := range []struct{ name, base, host, cause string }{
		{"refused", "http://" + addr, addr, "connection refused"},
		{"dns", "http://nonexistent.invalid", "nonexistent.invalid", "DNS lookup failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := hermeticEnv(t, c.base, w.s.UnpaywallURL(), map[string]string{
				"DOCSTOKG_OPENALEX_API_KEY": "sekret-key-123",
				"DOCSTOKG_RETRY_BASE_DELAY": "100ms",
			})
			out := filepath.Join(t.TempDir(), "out")
			r := runMain(t, w, env, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out)
			if r.code != ExitError {
				t.Fatalf("exit %d, want 1:\n%s", r.code, r.stderr)
			}
			var final []string
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if strings.HasPrefix(l, "contentdl: ") {
					final = append(final, l)
				}
			}
			if len(final) == 0 || len(final) > 2 {
				t.Fatalf("final error is %d lines:\n%s", len(final), r.stderr)
			}
			for _, l := range final {
				if n := utf8.RuneCountInString(l); n > 200 {
					t.Errorf("final error line has %d characters: %q", n, l)
				}
			}
			msg := final[0]
			for _, want := range []string{"manifest_fetch", c.host, c.cause, "after 5 attempts"} {
				if !strings.Contains(msg, want) {
					t.Errorf("final error lacks %q: %q", want, msg)
				}
			}
			if n := strings.Count(r.stderr, "/works"); n > 2 { // the table's "discovery error" and the final line
				t.Errorf("the URL is printed %d times:\n%s", n, r.stderr)
			}
			if strings.Count(msg, "/works") != 1 || strings.Contains(msg, "search=") {
				t.Errorf("the final line does not name the shortened URL once: %q", msg)
			}
			if strings.Contains(r.stderr+r.stdout, "sekret-key-123") || strings.Contains(r.stderr+r.stdout, "me@example.org") {
				t.Errorf("a secret leaked:\n%s", r.stderr)
			}
			if strings.Contains(r.stdout, "()") || !strings.Contains(r.stdout, "0 works in") {
				t.Errorf("summary line: %q", r.stdout)
			}

			d := runMain(t, w, env, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--log-level", "debug")
			if !strings.Contains(d.stderr, "failed request in full") || !strings.Contains(d.stderr, "per_page=") ||
				strings.Contains(d.stderr, "sekret-key-123") {
				t.Errorf("--log-level debug lacks the full, redacted request:\n%s", d.stderr)
			}
		})
	}
}

func TestErrorLinesShortensLongMessages(t *testing.T) {
	short := errorLines(usagef("bad flag"))
	if short != "contentdl: bad flag\n" {
		t.Errorf("short message changed: %q", short)
	}
	// A message of up to two lines is kept whole, split between words.
	two := strings.Repeat("word ", 60) + "END"
	got := errorLines(usagef("%s", two))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "END") ||
		strings.Join([]string{strings.TrimPrefix(lines[0], "contentdl: "), strings.TrimPrefix(lines[1], "contentdl: ")}, " ") != two {
		t.Errorf("two-line message: %q", got)
	}
	// A longer one is cut on the second line, pointing at --log-level debug.
	long := errorLines(usagef("%s", strings.Repeat("é", 500)))
	lines = strings.Split(strings.TrimSuffix(long, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "--log-level debug") {
		t.Fatalf("long message: %q", long)
	}
	for _, l := range append(lines, strings.Split(got, "\n")...) {
		if utf8.RuneCountInString(l) > 200 || !utf8.ValidString(l) {
			t.Errorf("line of %d runes: %q", utf8.RuneCountInString(l), l)
		}
	}
}

// A publisher that trickles one byte per second (of the shared fake clock; nobody
// sleeps) never finishes a PDF: each attempt is cut after download.min_speed_window as
// too_slow and retried, then the work ends as a transient miss (exit 3) with reason
// too_slow, and the next run may try again.
func TestTricklingPublisherIsTooSlow(t *testing.T) {
	// W1, one PDF on pubA, trickles one byte per second of the fake clock until the
	// client hangs up (a body that could end might be read whole from the socket
	// buffer inside one window if the client fell behind).
	w := newWorld(t, firstWorks(1), func(sc *sim.Scenario) {
		pubA := worldHost(sc, "pubA")
		pubA.Faults.Shares = append(pubA.Faults.Shares, sim.Share{Fault: sim.Fault{Kind: sim.FaultTrickle, Delay: time.Second},
			Share: 1, PathPrefix: "/W1.pdf"})
	})
	out := filepath.Join(t.TempDir(), "out")
	r := runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_RETRY_MAX_ATTEMPTS": "3"}),
		"run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--quiet")
	if r.code != ExitIncomplete {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	rec := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")["W1"]
	if rec.Classification != "miss" || rec.Reason != "too_slow" {
		t.Errorf("W1 ended %s/%s, want miss/too_slow", rec.Classification, rec.Reason)
	}
	if n := w.count("pubA", "/W1.pdf"); n != 3 {
		t.Errorf("%d requests for the trickling PDF, want 3 (retry.max_attempts)", n)
	}
}
