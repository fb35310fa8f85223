//go:build !unix

package fileperm

import "os"

// openNew creates name (O_EXCL) for reading and writing with mode perm &^ umask.
func openNew(name string, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
}
