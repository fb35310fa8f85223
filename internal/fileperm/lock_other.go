//go:build !unix

package fileperm

import "os"

// flock does nothing where flock(2) does not exist: two processes are then not kept
// apart (a rename by WriteAtomic stays atomic all the same).
func flock(*os.File, LockMode) error { return nil }

func interrupted(error) bool { return false }

func unflock(*os.File) {}
