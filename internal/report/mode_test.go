package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProgressEnabled(t *testing.T) {
	for _, c := range []struct {
		mode             string
		tty, quiet, json bool
		want             bool
	}{
		{"auto", true, false, false, true},
		{"auto", false, false, false, false}, // stderr redirected: no bar
		{"auto", true, true, false, false},
		{"auto", true, false, true, false},
		{"", true, false, false, true},
		{"AUTO", false, false, false, false},
		{"always", false, false, false, true},
		{"always", false, true, true, true},
		{"never", true, false, false, false},
		{"never", false, false, false, false},
	} {
		got, err := ProgressEnabled(c.mode, c.tty, c.quiet, c.json)
		if err != nil || got != c.want {
			t.Errorf("ProgressEnabled(%q, tty=%t, quiet=%t, json=%t) = %t, %v; want %t", c.mode, c.tty, c.quiet, c.json, got, err, c.want)
		}
	}
	for _, bad := range []string{"yes", "on", "1", "sometimes"} {
		got, err := ProgressEnabled(bad, true, false, false)
		if err == nil || got {
			t.Errorf("ProgressEnabled(%q) = %t, %v; want an error", bad, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "--progress") || !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q should name the flag and the value", err)
		}
	}
}

func TestIsTerminalFalseForFilesAndBuffers(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	if termColumns(f) != 0 {
		t.Error("a regular file has no width")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe (stderr under cron) is not a terminal")
	}
	// Auto mode with that answer keeps the display off.
	if on, _ := ProgressEnabled("auto", IsTerminal(w), false, false); on {
		t.Error("auto mode turned the progress on for a pipe")
	}
}
