package learning

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

// A learning file this process may not read (permission denied, or a symlink loop,
// which denies root too) is moved aside with one warning naming it; learning starts
// empty and saves go to the configured path.
func TestUnreadableFileIsMovedAside(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"symlink loop": func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Base(path), path); err != nil {
				t.Fatal(err)
			}
		},
		"permission denied": func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				t.Skip("running as root, which reads a mode-000 file anyway; the symlink-loop case covers the same path")
			}
			if err := os.WriteFile(path, []byte(`{"schema_version":1,"providers":{}}`), 0o000); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, makeUnreadable := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "learning.json")
			makeUnreadable(t, path)
			if _, err := Load(path); err == nil || errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %v, want a read error", err)
			}
			logs := &testkit.Buffer{}
			tr := NewTracker(DefaultConfig(), clock.NewFake(t0), newLogger(logs))
			if err := tr.Open(path); err != nil {
				t.Fatalf("Open of an unreadable file must not fail: %v", err)
			}
			aside := path + ".unreadable-20260301T120000Z"
			if _, err := os.Lstat(aside); err != nil {
				t.Fatalf("not moved aside: %v", err)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "path="+path) ||
				!strings.Contains(logs.String(), "permissions") {
				t.Errorf("want one warning naming the path and the fix, got %d:\n%s", n, logs)
			}
			tr.Register("web", testHost, 10, 1, nil)
			tr.Observe(Observation{Host: testHost, Status: 200})
			if err := tr.Save(); err != nil {
				t.Fatal(err)
			}
			if f, err := Load(path); err != nil || f.Providers["web@pub.example"].TotalRequests != 1 {
				t.Fatalf("saved file: %+v, %v", f, err)
			}
		})
	}
}

// Something that is not a file at the path (a directory) is left alone: Open reports
// it, saves fail without harm, and once the path is usable the next save writes there.
func TestDirectoryInTheWaySavesOnceThePathIsUsable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learning.json")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "keep"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(DefaultConfig(), clock.NewFake(t0), nil)
	if err := tr.Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want an error naming %s", err, path)
	}
	tr.Register("web", testHost, 10, 1, nil)
	tr.Observe(Observation{Host: testHost, Status: 200})
	if err := tr.Save(); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(path, "keep")); err != nil || string(b) != "mine" {
		t.Fatalf("the directory in the way was touched: %q %v", b, err)
	}
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := tr.Save(); err != nil {
		t.Fatalf("Save once the path is usable: %v", err)
	}
	if f, err := Load(path); err != nil || f.Providers["web@pub.example"].TotalRequests != 1 {
		t.Fatalf("saved file: %+v, %v", f, err)
	}
}
