//go:build unix

package download

import (
	"errors"
	"syscall"
)

// syncDir fsyncs a folder, best effort. It runs once per group of saved files, so it
// uses the descriptor directly: os.Open would add four fcntl calls and an epoll
// registration attempt to the open, fsync and close it needs.
func syncDir(path string) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return
	}
	err = syscall.Fsync(fd)
	for errors.Is(err, syscall.EINTR) {
		err = syscall.Fsync(fd)
	}
	_ = syscall.Close(fd)
}
