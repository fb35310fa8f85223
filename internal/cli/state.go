package cli

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/docstokg/contentdl/internal/clock"
)

// State is all the process state a command may touch, so tests can swap every piece:
// the standard streams, the environment, the file system and the clock. OSState is
// the one place that reads them from the os package.
type State struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up one environment variable. Nil: looked up in Environ.
	Getenv func(string) string
	// Environ lists the environment as "KEY=value" lines, so config can warn about a
	// DOCSTOKG_* variable it does not know. Nil: an empty environment.
	Environ func() []string
	// FS is the file system commands read their inputs from (the config file, the
	// --input list). Nil: the real one.
	FS    FS
	Clock clock.Clock
	// StderrIsTTY reports whether stderr is a terminal (for the progress display).
	StderrIsTTY bool
}

// FS is what the commands read from the file system. OSFS is the real one; a test
// may give a map-backed one.
type FS interface {
	Open(name string) (io.ReadCloser, error)
	ReadFile(name string) ([]byte, error)
	Stat(name string) (fs.FileInfo, error)
}

// OSFS reads the real file system.
type OSFS struct{}

// Open opens name for reading.
func (OSFS) Open(name string) (io.ReadCloser, error) { return os.Open(name) }

// ReadFile reads the whole of name.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Stat describes name.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// OSState is the real process state.
func OSState() *State {
	return &State{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ,
		FS: OSFS{}, Clock: clock.Real{}, StderrIsTTY: isTerminal(os.Stderr)}
}

// EnvironOf turns "KEY=value" lines into a Getenv.
func EnvironOf(environ func() []string) func(string) string {
	return func(key string) string {
		for _, kv := range environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				return v
			}
		}
		return ""
	}
}

// fillDefaults gives every unset piece its quiet default: the real clock and file
// system, an empty environment.
func (st *State) fillDefaults() {
	if st.Clock == nil {
		st.Clock = clock.Real{}
	}
	if st.FS == nil {
		st.FS = OSFS{}
	}
	if st.Environ == nil {
		st.Environ = func() []string { return nil }
	}
	if st.Getenv == nil {
		st.Getenv = EnvironOf(st.Environ)
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// heldLogs is a slog.Handler that keeps records until replay hands them to the real
// logger, for warnings raised before the logger's level and format are known.
// Attributes added with With stay on the records; groups are flattened.
type heldLogs struct {
	store *heldStore
	attrs []slog.Attr
}

type heldStore struct {
	mu   sync.Mutex
	recs []slog.Record
}

func newHeldLogs() *heldLogs { return &heldLogs{store: &heldStore{}} }

func (h *heldLogs) Enabled(context.Context, slog.Level) bool { return true }

func (h *heldLogs) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	h.store.recs = append(h.store.recs, r)
	return nil
}

func (h *heldLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return &heldLogs{store: h.store, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *heldLogs) WithGroup(string) slog.Handler { return h }

// replay writes the held records through log, at their own level.
func (h *heldLogs) replay(ctx context.Context, log *slog.Logger) {
	h.store.mu.Lock()
	recs := h.store.recs
	h.store.recs = nil
	h.store.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	for _, r := range recs {
		if log.Enabled(ctx, r.Level) {
			_ = log.Handler().Handle(ctx, r)
		}
	}
}
