package suite

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the suite ran.
type Machine struct {
	CPUs      int    // logical CPUs (nproc)
	CPUModel  string // /proc/cpuinfo "model name"
	MemTotal  string // /proc/meminfo MemTotal, e.g. "23.5 GiB"
	Kernel    string // /proc/sys/kernel/osrelease
	OS        string // GOOS/GOARCH
	GoVersion string // `go version` of the toolchain that built the binaries
	Commit    string // git describe --always --dirty of the checkout
}

func (s *Suite) machine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 64); err == nil {
		m.MemTotal = strconv.FormatFloat(kb/(1<<20), 'f', 1, 64) + " GiB"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if s.opts.Go != "" {
		cmd := exec.CommandContext(ctx, s.opts.Go, "version")
		cmd.Dir = s.opts.ModuleDir
		if out, err := cmd.Output(); err == nil {
			m.GoVersion = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
		}
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = s.opts.ModuleDir
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
