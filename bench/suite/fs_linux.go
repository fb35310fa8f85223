package suite

import "syscall"

// hasRoom reports whether the file system holding dir has need bytes free.
func hasRoom(dir string, need int64) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return int64(st.Bavail)*st.Bsize >= need
}
