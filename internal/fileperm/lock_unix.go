//go:build unix

package fileperm

import (
	"errors"
	"os"
	"syscall"
)

func flock(f *os.File, how LockMode) error {
	op := syscall.LOCK_EX
	if how == LockShared {
		op = syscall.LOCK_SH
	}
	err := syscall.Flock(int(f.Fd()), op|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrHeld
	}
	return err // nil, or the caller names the file

}

func interrupted(err error) bool { return errors.Is(err, syscall.EINTR) }

func unflock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
