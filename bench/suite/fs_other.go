//go:build !linux

package suite

// hasRoom is false off Linux: TmpfsDir only knows Linux's /dev/shm.
func hasRoom(string, int64) bool { return false }
