//go:build !unix

package download

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docstokg/contentdl/internal/fileperm"
)

// lockDir only checks that OUT/.lock can be created where flock is unavailable; two
// runs on one OUT are then not prevented.
func lockDir(out string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_CREATE|os.O_RDWR, fileperm.Shared)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	return func() { f.Close() }, nil
}
