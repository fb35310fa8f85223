package cli

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// memFS is an FS over an in-memory tree; names are absolute paths.
type memFS struct{ m fstest.MapFS }

func (f memFS) key(name string) string { return strings.TrimPrefix(filepath.Clean(name), "/") }

func (f memFS) Open(name string) (io.ReadCloser, error) { return f.m.Open(f.key(name)) }
func (f memFS) ReadFile(name string) ([]byte, error)    { return f.m.ReadFile(f.key(name)) }
func (f memFS) Stat(name string) (fs.FileInfo, error)   { return f.m.Stat(f.key(name)) }

// The config file is read through State.FS: a file that exists only there is found,
// and its values reach the effective config; the environment comes from Environ.
func TestStateFSAndEnvironReachConfig(t *testing.T) {
	fsys := memFS{fstest.MapFS{"etc/contentdl/c.yaml": {Data: []byte("workers: 5\nmailto: fs@example.org\n")}}}
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, FS: fsys,
		Environ: func() []string {
			return []string{"DOCSTOKG_CONFIG=/etc/contentdl/c.yaml", "DOCSTOKG_MAX_WORKS=7", "HOME=" + t.TempDir()}
		}}
	if code := MainContext(context.Background(), []string{"config", "print"}, st); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"workers: 5", "mailto: f***@example.org", "max_works: 7"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q:\n%s", want, out.String())
		}
	}

	// A file the FS does not have is the usual usage error.
	out.Reset()
	errb.Reset()
	code := MainContext(context.Background(), []string{"config", "print", "--config", "/etc/contentdl/missing.yaml"}, st)
	if code != ExitUsage || !strings.Contains(errb.String(), "file not found") {
		t.Errorf("missing file: exit %d, stderr %q", code, errb.String())
	}
}
