//go:build !unix

package download

import "os"

func rename(oldname, newname string) error { return os.Rename(oldname, newname) }
