// Package fileperm owns how contentdl writes and locks files: the one permission rule,
// the one atomic writer (WriteAtomic) and the one advisory lock (TryLock, LockWait), so
// that durability and locking are decided in one place for OUT, the learning file, the
// metrics file, exports and the simulator's address file.
//
// Every file under OUT (saved PDF, XML and HTML files, manifest.jsonl,
// manifest.summary.json, the lock file) and the --metrics-file is created with mode
// Shared, 0666, from which the kernel removes the process's umask: the files end up
// 0666 &^ umask, as curl and wget create them (0644 under the usual umask 022, 0664
// under 002, 0600 under 077). No code reads or changes the umask; it is applied by
// open(2) itself, so the rule holds for every writer at once.
//
// The provider-learning state file is per-user state, not shared output: it is
// created with mode Private (0600), and an existing file keeps its mode when it is
// rewritten (docs/provider-learning.md says why).
package fileperm

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// Shared is the creation mode of every file under OUT; the umask is removed from it.
const Shared os.FileMode = 0o666

// Private is the creation mode of per-user state files.
const Private os.FileMode = 0o600

// seq makes temp names unique within the process; a random seed makes them unlikely
// to collide across processes, and O_EXCL makes a collision harmless.
var seq atomic.Uint64

// CreateTemp is os.CreateTemp with a creation mode: it creates a new file in dir
// (os.TempDir when dir is "") whose name is pattern with its last "*" replaced by a
// random string (or the string appended when there is no "*"), opened for reading
// and writing, with mode perm &^ umask. The caller removes the file when done.
func CreateTemp(dir, pattern string, perm os.FileMode) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if strings.ContainsRune(pattern, os.PathSeparator) {
		return nil, &os.PathError{Op: "createtemp", Path: pattern, Err: errors.New("pattern contains path separator")}
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	seed := rand.Uint64()
	for range 10000 {
		n := seed + seq.Add(1)*0x9E3779B97F4A7C15 // spread consecutive names apart
		name := filepath.Join(dir, prefix+strconv.FormatUint(n%1e12, 36)+suffix)
		f, err := openNew(name, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.ErrExist}
}

// Keep returns the permission bits of the file at path, or def when there is no such
// file: an atomic rewrite (temp file + rename) then keeps a mode the user chose.
func Keep(path string, def os.FileMode) os.FileMode {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return st.Mode().Perm()
	}
	return def
}

// WriteAtomic writes path through a hidden temp file in the same folder, created with
// mode perm &^ umask: write, fsync, close, rename, then fsync the folder (best effort:
// some filesystems cannot sync a folder) so the rename survives a crash. Readers see
// the old file or the new one, never a torn one, and no temp file is left behind.
// Errors name path. It is the one atomic writer: for the summary, the checkpoint,
// exports, the metrics file, the learning file and the benchmark's results.
func WriteAtomic(path string, perm os.FileMode, write func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := CreateTemp(dir, "."+filepath.Base(path)+".tmp-*", perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteFile is WriteAtomic of data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
