//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS is the child's peak resident set in bytes: ru_maxrss is in KiB on Linux
// and the BSDs, in bytes on Darwin.
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) //nolint:unconvert // int32 on 32-bit platforms
	}
	return int64(ru.Maxrss) << 10 //nolint:unconvert // int32 on 32-bit platforms
}
