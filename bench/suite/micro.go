package suite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// MicroPackages are the packages whose microbenchmarks the suite runs, and
// MicroPattern the -bench pattern: the policy decision, a tracker update, and
// rendering provider-learning-status for 1,000 providers.
var (
	MicroPackages = []string{"./internal/policy", "./internal/learning", "./internal/report"}
	MicroPattern  = "^(BenchmarkDecide|BenchmarkObserve|BenchmarkObserveMixed|BenchmarkObserveParallel|BenchmarkRenderTable1000|BenchmarkRenderJSON1000)$"
)

// Micro is one microbenchmark result line.
type Micro struct {
	Pkg         string
	Name        string // without the -GOMAXPROCS suffix
	Iterations  int64
	NsPerOp     float64
	BytesPerOp  float64 // -1 when not reported
	AllocsPerOp float64 // -1 when not reported
}

// runMicro runs the microbenchmarks with `go test -bench` in the module directory.
func (s *Suite) runMicro(ctx context.Context) ([]Micro, error) {
	args := append([]string{"test", "-run", "^$", "-bench", MicroPattern, "-benchmem", "-count", "1",
		"-benchtime", s.opts.BenchTime}, MicroPackages...)
	cmd := exec.CommandContext(ctx, s.opts.Go, args...)
	cmd.Dir = s.opts.ModuleDir
	cmd.Env = childEnv()
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s%s", err, out.String(), errb.String())
	}
	ms, err := parseBench(&out)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("go test -bench matched no benchmark: %s", out.String())
	}
	return ms, nil
}

// parseBench reads `go test -bench -benchmem` output.
func parseBench(r io.Reader) ([]Micro, error) {
	var (
		out []Micro
		pkg string
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's own log line
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := Micro{Pkg: pkg, Name: trimProcs(f[0]), Iterations: n, BytesPerOp: -1, AllocsPerOp: -1}
		seen := false
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			switch f[i+1] {
			case "ns/op":
				m.NsPerOp, seen = v, true
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			}
		}
		if seen {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// trimProcs drops the "-8" GOMAXPROCS suffix go test adds to a benchmark's name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
