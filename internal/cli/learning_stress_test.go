package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// learningFile is the part of the provider-learning file these tests read.
type learningFile struct {
	SchemaVersion int `json:"schema_version"`
	Providers     map[string]struct {
		Host          string `json:"host"`
		TotalRequests int64  `json:"total_requests"`
	} `json:"providers"`
}

func readLearningFile(t *testing.T, path string) learningFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("learning file: %v", err)
	}
	var f learningFile
	if err := json.Unmarshal(data, &f); err != nil || f.SchemaVersion != 1 {
		t.Fatalf("learning file is not valid JSON of schema 1 (%v):\n%s", err, data)
	}
	return f
}

// A corrupt learning file, or one of another schema_version, is moved aside with a
// warning; the run succeeds and writes a fresh file.
func TestLearningFileCorruptOrForeignIsMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":      `{"schema_version":1,"providers":{"web@x":{"provider":"w`,
		"binary":         "\x00\x01\x02\xff garbage",
		"wrong_schema":   `{"schema_version":99,"updated_at":"2026-05-01T12:00:00Z","providers":{}}`,
		"not_an_object":  `[1,2,3]`,
		"wrong_type":     `{"schema_version":"one","providers":7}`,
		"empty_document": ``,
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "learning.json")
			os.WriteFile(path, []byte(content), 0o644)
			out := filepath.Join(t.TempDir(), "out")
			res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out,
				"--enable-provider-learning", "--provider-learning-path", path)
			if res.code != ExitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if content != "" && len(aside) != 1 {
				t.Errorf("corrupt file not moved aside: %v", aside)
			}
			if len(aside) == 1 {
				if kept, _ := os.ReadFile(aside[0]); string(kept) != content {
					t.Errorf("the moved-aside file lost its content: %q", kept)
				}
				if !strings.Contains(res.stderr, "corrupt") || !strings.Contains(res.stderr, aside[0]) {
					t.Errorf("no warning naming the moved-aside file:\n%s", res.stderr)
				}
			}
			f := readLearningFile(t, path)
			if len(f.Providers) == 0 {
				t.Error("the fresh learning file has no providers")
			}
		})
	}
}

// A learning file that cannot be read or written (its folder is a regular file, which
// even root cannot write through) gives a clear warning; the run succeeds with
// learning in memory.
func TestLearningFileUnwritableStaysInMemory(t *testing.T) {
	w := newWorld(t)
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(blocker, []byte("x"), 0o644)
	path := filepath.Join(blocker, "learning.json")
	out := filepath.Join(t.TempDir(), "out")
	res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org", "--out", out,
		"--enable-provider-learning", "--provider-learning-path", path, "--json")
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	assertOneLearningWarning(t, res.stderr, path)
	var sum struct {
		ProviderLearning bool `json:"provider_learning"`
		Saved            int  `json:"saved"`
	}
	if json.Unmarshal([]byte(res.stdout), &sum) != nil || !sum.ProviderLearning || sum.Saved == 0 {
		t.Errorf("summary %s", res.stdout)
	}
}

// Two contentdl processes learning into the same file at once end with valid JSON
// holding both processes' request counts.
func TestLearningFileTwoProcessesAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts contentdl processes")
	}
	lw := newLiveWorld(t, 80, 20*time.Millisecond, 0) // ~0.5 s per run: the two overlap
	path := filepath.Join(t.TempDir(), "state", "learning.json")
	env := append(lw.env(t), "DOCSTOKG_LEARNING_SAVE_EVERY=20ms")
	var kids []*child
	for i := range 2 {
		out := filepath.Join(t.TempDir(), "out"+string(rune('a'+i)))
		kids = append(kids, startChild(t, env, "run", "--topic", liveTopic, "--out", out, "--workers", "4", "--quiet",
			"--enable-provider-learning", "--provider-learning-path", path))
	}
	for i, c := range kids {
		if code := c.wait(t, 60*time.Second); code != ExitOK {
			t.Fatalf("process %d: exit %d\n%s", i, code, c.stderr.String())
		}
	}
	f := readLearningFile(t, path)
	var pubRequests int64
	for _, n := range lw.hitsCopy() {
		pubRequests += int64(n)
	}
	pubHost := strings.TrimPrefix(lw.s.HostURLByName("pub"), "http://")
	var got int64
	for key, p := range f.Providers {
		if p.Host == pubHost {
			got += p.TotalRequests
			t.Logf("%s: %d requests", key, p.TotalRequests)
		}
	}
	if pubRequests != 160 || got != pubRequests {
		t.Errorf("learning file counts %d requests to the publisher; the server saw %d (want 160, both processes')", got, pubRequests)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".learning.json.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temp files left beside the learning file: %v", leftovers)
	}
}

// assertOneLearningWarning checks that stderr holds exactly one WARN about the learning
// file, naming its path, that learning stays in memory, and the fix.
func assertOneLearningWarning(t *testing.T, stderr, path string) {
	t.Helper()
	var warns []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "provider learning") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 1 {
		t.Fatalf("want one warning about the learning file, got %d:\n%s", len(warns), stderr)
	}
	for _, want := range []string{path, "memory", "fix=", "--provider-learning-path"} {
		if !strings.Contains(warns[0], want) {
			t.Errorf("the warning lacks %q: %s", want, warns[0])
		}
	}
}

// A learning file that cannot be read: a directory in the way gets one clear warning
// and is left alone (the run succeeds with learning in memory); a symlink loop (which
// even root cannot read) is moved aside and the run saves its learning to the path.
func TestLearningFileUnreadable(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		w := newWorld(t)
		path := filepath.Join(t.TempDir(), "learning.json")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		res := runMain(t, w, w.env(t, nil), "run", "--topic", "kg", "--mailto", "me@example.org",
			"--out", filepath.Join(t.TempDir(), "out"), "--enable-provider-learning", "--provider-learning-path", path)
		if res.code != ExitOK {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		assertOneLearningWarning(t, res.stderr, path)
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			t.Errorf("the directory in the way was moved: %v", err)
		}
		// Once the path is usable, the next run saves there, with no warning at all
		// (the API key silences the one about OpenAlex's key).
		os.Remove(path)
		res = runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": "k-123"}), "run", "--topic", "kg", "--mailto", "me@example.org",
			"--out", filepath.Join(t.TempDir(), "out"), "--enable-provider-learning", "--provider-learning-path", path)
		if res.code != ExitOK || strings.Contains(res.stderr, "level=WARN") {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		if f := readLearningFile(t, path); len(f.Providers) == 0 {
			t.Error("no learning saved once the path was usable")
		}
	})
	t.Run("symlink loop", func(t *testing.T) {
		w := newWorld(t)
		path := filepath.Join(t.TempDir(), "learning.json")
		if err := os.Symlink(filepath.Base(path), path); err != nil {
			t.Fatal(err)
		}
		res := runMain(t, w, w.env(t, map[string]string{"DOCSTOKG_OPENALEX_API_KEY": "k-123"}), "run", "--topic", "kg",
			"--mailto", "me@example.org", "--out", filepath.Join(t.TempDir(), "out"), "--enable-provider-learning",
			"--provider-learning-path", path)
		if res.code != ExitOK {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		if n := strings.Count(res.stderr, "level=WARN"); n != 1 || !strings.Contains(res.stderr, "could not be read; moved it aside") ||
			!strings.Contains(res.stderr, path) {
			t.Errorf("want one warning that the file was moved aside, got %d:\n%s", n, res.stderr)
		}
		if aside, _ := filepath.Glob(path + ".unreadable-*"); len(aside) != 1 {
			t.Errorf("not moved aside: %v", aside)
		}
		if f := readLearningFile(t, path); len(f.Providers) == 0 {
			t.Error("the run's learning was not saved to the configured path")
		}
	})
}
