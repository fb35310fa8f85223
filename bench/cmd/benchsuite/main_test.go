package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, 2, "unexpected arguments"},
		{"unknown part", []string{"--only", "learning"}, 2, `--only "learning": want manyhosts`},
		{"no contentdl binary", []string{"--contentdl", filepath.Join(dir, "missing")}, 1, "run `make build` first"},
		{"no go and no helper", []string{"--contentdl", "main.go", "--go", "none", "--workdir", dir, "--no-tmpfs"}, 1,
			"--go none needs --rusage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := Main(context.Background(), tc.args, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}
