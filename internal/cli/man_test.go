package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command gets a man page that names its flags.
func TestWriteManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600") // 2026-01-01: the same pages on every build
	dir := filepath.Join(t.TempDir(), "man")
	if err := WriteManPages(dir); err != nil {
		t.Fatal(err)
	}
	for page, flags := range map[string][]string{
		"contentdl.1":                          {"contentdl", "--log-level"},
		"contentdl-run.1":                      {"--topic", "--json", "--metrics-file"},
		"contentdl-export.1":                   {"--format", "--status", "--output"},
		"contentdl-provider-learning-status.1": {"--reset"},
		"contentdl-config-print.1":             {"YAML"},
		"contentdl-version.1":                  {"version"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("%s: %v", page, err)
			continue
		}
		text := string(data)
		if !strings.HasPrefix(text, ".nh\n.TH \"CONTENTDL\" \"1\" \"Jan 2026\"") {
			t.Errorf("%s: header %q", page, strings.SplitN(text, "\n", 3)[:2])
		}
		for _, f := range flags {
			if !strings.Contains(text, f) {
				t.Errorf("%s lacks %q", page, f)
			}
		}
	}
}
