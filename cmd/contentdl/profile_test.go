package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStartProfilesWritesBoth(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		envCPUProfile: filepath.Join(dir, "cpu.pprof"),
		envMemProfile: filepath.Join(dir, "allocs.pprof"),
	}
	var stderr bytes.Buffer
	stop := startProfiles(func(k string) string { return env[k] }, &stderr)
	sink := 0
	for i := range 1000 {
		sink += len(make([]byte, i))
	}
	_ = sink
	stop()
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", stderr.String())
	}
	for _, p := range env {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 20 || b[0] != 0x1f || b[1] != 0x8b { // pprof writes gzipped protobuf
			t.Errorf("%s: %d bytes, not a pprof profile", p, len(b))
		}
	}
}

func TestStartProfilesOffByDefault(t *testing.T) {
	var stderr bytes.Buffer
	stop := startProfiles(func(string) string { return "" }, &stderr)
	stop()
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

func TestStartProfilesReportsAnUnwritablePath(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing", "cpu.pprof")
	var stderr bytes.Buffer
	stop := startProfiles(func(k string) string {
		if k == envCPUProfile {
			return bad
		}
		return ""
	}, &stderr)
	stop()
	if !bytes.Contains(stderr.Bytes(), []byte(envCPUProfile)) {
		t.Fatalf("stderr %q does not name %s", stderr.String(), envCPUProfile)
	}
}
