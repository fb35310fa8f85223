//go:build unix

package download

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/docstokg/contentdl/internal/fileperm"
)

// lockDir takes an exclusive advisory lock on OUT/.lock so two runs cannot share OUT.
// The kernel drops it when the process dies, so a killed run never leaves it behind.
func lockDir(out string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_CREATE|os.O_RDWR, fileperm.Shared)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrLocked, out)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
