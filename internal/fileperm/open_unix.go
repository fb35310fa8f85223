//go:build unix

package fileperm

import (
	"errors"
	"os"
	"syscall"
)

// openNew creates name (O_EXCL) for reading and writing with mode perm &^ umask. It
// is os.OpenFile without the four fcntl calls and the epoll registration that
// os.OpenFile tries (and undoes) on every regular file: a file from os.NewFile
// on a blocking descriptor is never offered to the poller. CreateTemp runs once per
// downloaded file, so these are system calls per file.
func openNew(name string, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}
