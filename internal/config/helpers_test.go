package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// envMap returns a Getenv over m (missing keys read as "").
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes content to a fresh file in t.TempDir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testFlags builds a flag set like the CLI's and parses args, so that exactly the
// flags in args are Changed.
func testFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "")
	fs.Int("workers", 3, "")
	fs.Int("max-works", 0, "")
	fs.String("mailto", "", "")
	fs.String("out", "", "")
	fs.Bool("enable-contextual-retry", false, "")
	fs.Bool("enable-provider-learning", false, "")
	fs.String("provider-learning-path", "", "")
	fs.String("log-level", "debug", "")
	fs.String("log-format", "", "")
	fs.Bool("dry-run", false, "") // not a config key: must be ignored
	fs.String("openalex-base-url", "", "")
	fs.Float64("rps", 0, "")
	fs.Int("download-attempts", 0, "")
	fs.Float64("min-rps", 0, "")
	fs.StringSlice("resolvers", nil, "")
	fs.Duration("timeout", 0, "")
	fs.String("shard", "", "")
	for name, key := range map[string]string{
		"openalex-base-url": "openalex.base_url",
		"rps":               "rate_limits.default.rps",
		"download-attempts": "retry.operations.download.max_attempts",
		"min-rps":           "learning.min_rps",
		"resolvers":         "resolvers.order",
		"timeout":           "download.timeout",
		"shard":             "fleet.shard",
	} {
		if err := fs.SetAnnotation(name, FlagAnnotation, []string{key}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}
