//go:build unix

package fileperm

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs fn under umask m. The umask is process-wide, so no test of this
// package runs in parallel, and go test runs each package in its own process.
func withUmask(t *testing.T, m int, fn func()) {
	t.Helper()
	old := syscall.Umask(m)
	defer syscall.Umask(old)
	fn()
}

func TestCreateTempModeFollowsUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		perm  os.FileMode
		want  os.FileMode
	}{
		{0o022, Shared, 0o644},
		{0o002, Shared, 0o664},
		{0o077, Shared, 0o600},
		{0o000, Shared, 0o666},
		{0o022, Private, 0o600},
		{0o000, Private, 0o600},
	} {
		dir := t.TempDir()
		withUmask(t, tc.umask, func() {
			f, err := CreateTemp(dir, ".x.tmp-*", tc.perm)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != tc.want {
				t.Errorf("umask %03o, perm %03o: mode %03o, want %03o", tc.umask, tc.perm, got, tc.want)
			}
		})
	}
}

func TestCreateTempNames(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 200 {
		f, err := CreateTemp(dir, "dl-*.part", Shared)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		base := filepath.Base(f.Name())
		if !strings.HasPrefix(base, "dl-") || !strings.HasSuffix(base, ".part") || len(base) <= len("dl-.part") {
			t.Errorf("name %q does not follow the pattern", base)
		}
		if filepath.Dir(f.Name()) != dir {
			t.Errorf("created in %s, want %s", filepath.Dir(f.Name()), dir)
		}
		if seen[base] {
			t.Errorf("name %q reused", base)
		}
		seen[base] = true
	}
	f, err := CreateTemp(dir, "noasterisk", Shared)
	if err != nil || !strings.HasPrefix(filepath.Base(f.Name()), "noasterisk") {
		t.Errorf("pattern without *: %v, %v", f, err)
	}
	f.Close()
	if _, err := CreateTemp(dir, "a/b-*", Shared); err == nil {
		t.Error("a pattern with a path separator was accepted")
	}
	if _, err := CreateTemp(filepath.Join(dir, "missing"), "x-*", Shared); err == nil {
		t.Error("a missing directory was accepted")
	}
}

func TestKeep(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if got := Keep(p, Private); got != Private {
		t.Errorf("missing file: %03o, want %03o", got, Private)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if got := Keep(p, Private); got != 0o640 {
		t.Errorf("existing 0640 file: %03o", got)
	}
	if got := Keep(dir, Private); got != Private {
		t.Errorf("a directory: %03o, want the default", got)
	}
}
