package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMainStdin(t *testing.T, w *world, getenv func(string) string, stdin string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: getenv, Clock: w.clk}
	code := MainContext(context.Background(), args, st)
	return runResult{code, out.String(), errb.String()}
}

// export reads a real run's manifest: a CSV row per work, atomic --output, --status
// filters, and the retry recipe (ids of missed and deferred works into run --input -).
func TestExportAfterARun(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(t.TempDir(), "out")
	env := w.env(t, nil)
	if r := runMain(t, w, env, "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out, "--quiet"); r.code != ExitOK {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	latest := latestByWork(readManifest(t, filepath.Join(out, "manifest.jsonl")), "")

	r := runMain(t, w, env, "export", "--out", out, "--format", "csv")
	if r.code != ExitOK {
		t.Fatalf("export csv: exit %d\n%s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(latest)+1 || rows[0][0] != "work_id" {
		t.Fatalf("%d CSV rows for %d works:\n%s", len(rows), len(latest), r.stdout)
	}
	abs, _ := filepath.Abs(out)
	for _, row := range rows[1:] {
		rec, ok := latest[row[0]]
		if !ok || row[4] != rec.Classification || row[5] != rec.Reason {
			t.Errorf("row %q does not match the manifest record %+v", row, rec)
		}
		if rec.Path != "" {
			if row[6] != filepath.Join(abs, rec.Path) {
				t.Errorf("path %q, want %q", row[6], filepath.Join(abs, rec.Path))
			}
			if _, err := os.Stat(row[6]); err != nil {
				t.Errorf("the exported path does not name the saved file: %v", err)
			}
		}
	}

	// --output is written atomically: the file, and no temp file beside it.
	dest := filepath.Join(t.TempDir(), "works.bib")
	if r := runMain(t, w, env, "export", "--out", out, "--format", "bibtex", "--status", "pdf", "--output", dest); r.code != ExitOK || r.stdout != "" {
		t.Fatalf("export bibtex: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	bib, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	pdfs := 0
	for _, rec := range latest {
		if rec.Classification == "pdf" {
			pdfs++
			if !strings.Contains(string(bib), "@misc{"+rec.WorkID+",") {
				t.Errorf("no entry for %s", rec.WorkID)
			}
		}
	}
	if n := strings.Count(string(bib), "@misc{"); n != pdfs || pdfs == 0 || strings.Count(string(bib), "file = {") != pdfs {
		t.Errorf("%d entries for %d PDFs:\n%s", n, pdfs, bib)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
		t.Errorf("files beside the output: %v", ents)
	}

	// The retry recipe: the ids of missed and deferred works feed run --input -.
	r = runMain(t, w, env, "export", "--out", out, "--format", "ids", "--status", "miss,deferred")
	if r.code != ExitOK {
		t.Fatalf("export ids: exit %d\n%s", r.code, r.stderr)
	}
	ids := strings.Fields(r.stdout)
	want := 0
	for _, rec := range latest {
		if rec.Classification == "miss" || rec.Classification == "deferred" {
			want++
		}
	}
	if len(ids) != want || want == 0 {
		t.Fatalf("%d ids for %d missed or deferred works: %q", len(ids), want, r.stdout)
	}
	re := runMainStdin(t, w, env, r.stdout, "run", "--input", "-", "--mailto", "me@example.org", "--out", out, "--json")
	if re.code != ExitOK && re.code != ExitIncomplete {
		t.Fatalf("run --input -: exit %d\n%s", re.code, re.stderr)
	}
	var sum struct {
		Works       int `json:"works"`
		InputErrors int `json:"input_errors"`
	}
	if err := json.Unmarshal([]byte(re.stdout), &sum); err != nil || sum.Works != want || sum.InputErrors != 0 {
		t.Errorf("retry run: %v, summary %s", err, re.stdout)
	}

	// jsonl and ris parse or at least hold one entry per work.
	r = runMain(t, w, env, "export", "--out", out, "--format", "jsonl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("jsonl line does not parse: %v: %s", err, l)
		}
	}
	if r = runMain(t, w, env, "export", "--out", out, "--format", "ris"); strings.Count(r.stdout, "ER  - ") != len(lines) {
		t.Errorf("ris: %d entries for %d works", strings.Count(r.stdout, "ER  - "), len(lines))
	}
}

func TestExportUsageErrorsExit2(t *testing.T) {
	w := newWorld(t)
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "manifest.jsonl"), nil, 0o644)
	for _, args := range [][]string{
		{"export", "--out", out, "--status", "pdf,nope"},
		{"export", "--out", out, "--format", "xlsx"},
		{"export", "--out", out, "extra"},
		{"export", "--out", filepath.Join(out, "missing")},
	} {
		r := runMain(t, w, w.env(t, nil), args...)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
