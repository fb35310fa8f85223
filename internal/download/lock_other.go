//go:build !unix

package download

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/shard"
)

// lockDir only checks that OUT's lock files can be created where flock is
// unavailable; two runs on one OUT (or one shard twice) are then not prevented.
func lockDir(out string, s shard.Shard) (func(), error) {
	f, err := os.OpenFile(filepath.Join(out, s.FileName(".lock", "")), os.O_CREATE|os.O_RDWR, fileperm.Shared)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutputNotWritable, err)
	}
	return func() { f.Close() }, nil
}
