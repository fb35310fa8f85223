package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// Developer profiling (CONTRIBUTING.md, "Profiling"): CONTENTDL_CPUPROFILE=FILE writes
// a pprof CPU profile of the whole process, CONTENTDL_MEMPROFILE=FILE an allocation
// profile (every allocation since start, sampled at Go's default rate) when it exits.
// Neither is a user feature: they are read here, before the CLI starts, and nowhere
// else. A profile that cannot be written is reported on stderr and the run goes on.
const (
	envCPUProfile = "CONTENTDL_CPUPROFILE"
	envMemProfile = "CONTENTDL_MEMPROFILE"
)

// startProfiles starts what getenv asks for and returns the function that finishes
// the profiles; it is a no-op when neither variable is set.
func startProfiles(getenv func(string) string, stderr io.Writer) (stop func()) {
	cpuPath, memPath := getenv(envCPUProfile), getenv(envMemProfile)
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "contentdl: %s: %v\n", envCPUProfile, err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				fmt.Fprintf(stderr, "contentdl: %s: %v\n", envCPUProfile, err)
			}
		}
		if memPath != "" {
			if err := writeAllocs(memPath); err != nil {
				fmt.Fprintf(stderr, "contentdl: %s: %v\n", envMemProfile, err)
			}
		}
	}
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // up-to-date in-use figures alongside the cumulative ones
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
