//go:build !unix

package download

import "os"

// syncDir fsyncs a folder, best effort.
func syncDir(path string) {
	if f, err := os.Open(path); err == nil {
		_ = f.Sync()
		f.Close()
	}
}
