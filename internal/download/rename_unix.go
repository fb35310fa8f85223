//go:build unix

package download

import (
	"errors"
	"os"
	"syscall"
)

// rename is os.Rename without the lstat of newname that os.Rename makes first (to
// refuse a folder there with its own error): rename(2) refuses a folder by itself,
// and commit renames once per downloaded file.
func rename(oldname, newname string) error {
	for {
		err := syscall.Rename(oldname, newname)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
		}
		return nil
	}
}
