package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/golden"
)

func TestWriteYAMLGolden(t *testing.T) {
	t.Parallel()
	cfg, err := Load(LoadOptions{
		File: writeFile(t, "c.yaml", `
mailto: maintainer@example.org
openalex:
  api_key: oa-secret-key
rate_limits:
  hosts:
    - {host: export.arxiv.org, rps: 0.3333, burst: 1, concurrency: 1}
    - {host: files.example.org:8443, rps: 2, cooldown: 1500ms}
`),
		Getenv: envMap(map[string]string{
			"HOME":                              "/home/u",
			"DOCSTOKG_SEMANTIC_SCHOLAR_API_KEY": "s2-secret-key",
			"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY":  "yes",
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cfg.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	for _, secret := range []string{"oa-secret-key", "s2-secret-key", "maintainer@"} {
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("output reveals %q", secret)
		}
	}
	golden.Check(t, "print.golden", got)
}

// TestWriteYAMLRoundTrip loads the printed configuration back: without secrets set,
// printing loses nothing.
func TestWriteYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{"HOME": "/home/u"})
	cfg, err := Load(LoadOptions{
		File: writeFile(t, "c.yaml", `
workers: 3
rate_limits:
  hosts: [{host: a.example.org, rps: 0.25}]
retry: {max_delay: 90s, operations: {download: {deadline: 1m30s}}}
learning: {forget_after: 36h, window: 1.5}
`), Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cfg.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(LoadOptions{File: writeFile(t, "printed.yaml", buf.String()), Getenv: env})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, buf.String())
	}
	back.origin, cfg.origin = nil, nil
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", back, cfg)
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                 "",
		"me@example.org":   "m***@example.org",
		"émile@exemple.fr": "é***@exemple.fr",
		"nobody":           "***",
		"@example.org":     "***",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                       "0s",
		1500 * time.Millisecond: "1.5s",
		time.Minute:             "1m",
		90 * time.Second:        "1m30s",
		168 * time.Hour:         "168h",
		time.Hour + time.Second: "1h0m1s",
	} {
		got := formatDuration(d)
		if got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("%q does not parse back to %v", got, d)
		}
	}
	if strings.Contains(formatFloat(1e6), "e") {
		t.Error("formatFloat uses an exponent")
	}
}
