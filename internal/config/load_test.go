package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/providers"
	"github.com/spf13/viper"
)

// TestPrecedence sets each key in every combination of layers and checks both the
// value and the reported source: default < file < env < flag.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	type layer struct {
		file string // YAML document setting the key
		env  string // value of the key's DOCSTOKG_* variable
		flag string // one flag argument
	}
	cases := []struct {
		key                         string
		set                         layer
		flagName                    string
		get                         func(*Config) any
		def, byFile, byEnv, byFlags any
	}{
		{
			key:      "workers",
			set:      layer{"workers: 12\n", "16", "--workers=20"},
			flagName: "workers",
			get:      func(c *Config) any { return c.Workers },
			def:      8, byFile: 12, byEnv: 16, byFlags: 20,
		},
		{
			key:      "openalex.base_url",
			set:      layer{"openalex:\n  base_url: http://file.test/\n", "http://env.test", "--openalex-base-url=http://flag.test:8080"},
			flagName: "openalex-base-url",
			get:      func(c *Config) any { return c.OpenAlex.BaseURL },
			def:      "https://api.openalex.org", byFile: "http://file.test", byEnv: "http://env.test", byFlags: "http://flag.test:8080",
		},
		{
			key:      "rate_limits.default.rps",
			set:      layer{"rate_limits:\n  default:\n    rps: 2.5\n", "0.75", "--rps=9"},
			flagName: "rps",
			get:      func(c *Config) any { return c.RateLimits.Default.RPS },
			def:      5.0, byFile: 2.5, byEnv: 0.75, byFlags: 9.0,
		},
		{
			key:      "retry.operations.download.max_attempts",
			set:      layer{"retry:\n  operations:\n    download:\n      max_attempts: 9\n", "4", "--download-attempts=2"},
			flagName: "download-attempts",
			get:      func(c *Config) any { return c.Retry.Operations["download"].MaxAttempts },
			def:      6, byFile: 9, byEnv: 4, byFlags: 2,
		},
		{
			key:      "enable_contextual_retry",
			set:      layer{"enable_contextual_retry: true\n", "no", "--enable-contextual-retry=true"},
			flagName: "enable-contextual-retry",
			get:      func(c *Config) any { return c.EnableContextualRetry },
			def:      false, byFile: true, byEnv: false, byFlags: true,
		},
		{
			key:      "learning.min_rps",
			set:      layer{"learning:\n  min_rps: 0.2\n", "0.1", "--min-rps=0.01"},
			flagName: "min-rps",
			get:      func(c *Config) any { return c.Learning.MinRPS },
			def:      0.05, byFile: 0.2, byEnv: 0.1, byFlags: 0.01,
		},
		{
			key:      "resolvers.order",
			set:      layer{"resolvers:\n  order: [crossref, arxiv]\n", "unpaywall, landing_page", "--resolvers=openalex,europe_pmc"},
			flagName: "resolvers",
			get:      func(c *Config) any { return c.Resolvers.Order },
			def:      providers.DefaultOrder(), byFile: []string{"crossref", "arxiv"},
			byEnv: []string{"unpaywall", "landing_page"}, byFlags: []string{"openalex", "europe_pmc"},
		},
		{
			key:      "download.timeout",
			set:      layer{"download:\n  timeout: 90\n", "1500ms", "--timeout=2m"},
			flagName: "timeout",
			get:      func(c *Config) any { return c.Download.Timeout },
			def:      60 * time.Second, byFile: 90 * time.Second, byEnv: 1500 * time.Millisecond, byFlags: 2 * time.Minute,
		},
		{
			key:      "log_level",
			set:      layer{"log_level: warn\n", "ERROR", "--log-level=debug"},
			flagName: "log-level",
			get:      func(c *Config) any { return c.LogLevel },
			def:      "info", byFile: "warn", byEnv: "error", byFlags: "debug",
		},
	}
	for _, tc := range cases {
		env := EnvVar(tc.key)
		combos := []struct {
			name            string
			file, env, flag bool
			want            any
			source          string
		}{
			{"default", false, false, false, tc.def, "default"},
			{"file", true, false, false, tc.byFile, "file"},
			{"env", false, true, false, tc.byEnv, "env " + env},
			{"flag", false, false, true, tc.byFlags, "flag --" + tc.flagName},
			{"file+env", true, true, false, tc.byEnv, "env " + env},
			{"file+flag", true, false, true, tc.byFlags, "flag --" + tc.flagName},
			{"env+flag", false, true, true, tc.byFlags, "flag --" + tc.flagName},
			{"file+env+flag", true, true, true, tc.byFlags, "flag --" + tc.flagName},
		}
		for _, cb := range combos {
			t.Run(tc.key+"/"+cb.name, func(t *testing.T) {
				t.Parallel()
				opts := LoadOptions{Getenv: envMap(map[string]string{"HOME": "/home/test"})}
				if cb.file {
					opts.File = writeFile(t, "c.yaml", tc.set.file)
				}
				if cb.env {
					opts.Getenv = envMap(map[string]string{"HOME": "/home/test", env: tc.set.env})
				}
				// The flag set always has every flag; only the parsed ones are Changed.
				if cb.flag {
					opts.Flags = testFlags(t, tc.set.flag)
				} else {
					opts.Flags = testFlags(t)
				}
				cfg, err := Load(opts)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := tc.get(cfg); !reflect.DeepEqual(got, cb.want) {
					t.Errorf("%s = %#v, want %#v", tc.key, got, cb.want)
				}
				want := cb.source
				if want == "file" {
					want = "file " + opts.File
				}
				if got := cfg.Source(tc.key); got != want {
					t.Errorf("Source(%s) = %q, want %q", tc.key, got, want)
				}
			})
		}
	}
}

// TestLayersMerge checks that layers merge key by key rather than section by section.
func TestLayersMerge(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", `
openalex:
  per_page: 50
retry:
  operations:
    download: {max_attempts: 9}
rate_limits:
  default: {rps: 3}
`)
	cfg, err := Load(LoadOptions{
		File: file,
		Getenv: envMap(map[string]string{
			"DOCSTOKG_OPENALEX_API_KEY":                   "k",
			"DOCSTOKG_RETRY_OPERATIONS_DOWNLOAD_DEADLINE": "30",
			"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST":          "3",
		}),
		Flags: testFlags(t, "--workers=2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	def := Defaults()
	if cfg.OpenAlex.PerPage != 50 || cfg.OpenAlex.APIKey != "k" || cfg.OpenAlex.BaseURL != def.OpenAlex.BaseURL {
		t.Errorf("openalex = %+v", cfg.OpenAlex)
	}
	if got := cfg.Retry.Operations["download"]; got != (OpRule{MaxAttempts: 9, Deadline: 30 * time.Second}) {
		t.Errorf("download rule = %+v", got)
	}
	if got := cfg.Retry.Operations["resolve"]; got != def.Retry.Operations["resolve"] {
		t.Errorf("resolve rule = %+v, want the default", got)
	}
	if len(cfg.Retry.Operations) != 5 {
		t.Errorf("operations = %v, want all five", cfg.Retry.Operations)
	}
	want := HostLimit{RPS: 3, Burst: 3, Concurrency: 4, Cooldown: 2 * time.Second}
	if cfg.RateLimits.Default != want {
		t.Errorf("default limit = %+v, want %+v", cfg.RateLimits.Default, want)
	}
	if cfg.Workers != 2 {
		t.Errorf("workers = %d", cfg.Workers)
	}
}

func TestDefaultsLoad(t *testing.T) {
	t.Parallel()
	cfg, err := Load(LoadOptions{Getenv: envMap(map[string]string{"HOME": "/home/u"})})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.ProviderLearningPath = "/home/u/.local/state/contentdl/provider-learning.json"
	want.origin = cfg.origin
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("Load() = %+v\nwant   %+v", *cfg, want)
	}
	for _, k := range Keys() {
		if cfg.Source(k) != "default" {
			t.Errorf("Source(%s) = %q", k, cfg.Source(k))
		}
	}
	if err := want.Validate(); err != nil {
		t.Errorf("Defaults do not validate: %v", err)
	}
}

// TestEveryKeyFromEnv sets every key (except the file-only host list) through its
// environment variable, using the text form of its default, and expects the defaults
// back: every type decodes from text and every variable is wired.
func TestEveryKeyFromEnv(t *testing.T) {
	t.Parallel()
	def := Defaults()
	env := map[string]string{"HOME": "/h"}
	for _, l := range leaves() {
		if l.key == keyHostsList {
			continue
		}
		var s string
		switch v := l.get(&def).Interface().(type) {
		case string:
			s = v
		case time.Duration:
			s = formatDuration(v)
		case float64:
			s = formatFloat(v)
		case []string:
			s = strings.Join(v, " ")
		case []Tier:
			var parts []string
			for _, tr := range v {
				parts = append(parts, formatFloat(float64(tr.Threshold))+":"+formatFloat(tr.StepPct))
			}
			s = strings.Join(parts, ",")
		default:
			s = scalarText(v)
		}
		if s == "" {
			s = map[string]string{"mailto": "x@example.org", "openalex.api_key": "a", "semantic_scholar.api_key": "b",
				"provider_learning_path": "/p/l.json", "network.allow": "10.9.0.0/16", "fleet.shard": "2/3",
				"fleet.redis_url": "redis://127.0.0.1:6390/2"}[l.key]
		}
		if s == "" {
			t.Fatalf("no text for %s", l.key)
		}
		env[EnvVar(l.key)] = s
	}
	cfg, err := Load(LoadOptions{Getenv: envMap(env)})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves() {
		if l.key == keyHostsList {
			continue
		}
		if got, want := cfg.Source(l.key), "env "+EnvVar(l.key); got != want {
			t.Errorf("Source(%s) = %q, want %q", l.key, got, want)
		}
	}
	want := Defaults()
	want.Mailto, want.OpenAlex.APIKey, want.SemanticScholar.APIKey = "x@example.org", "a", "b"
	want.ProviderLearningPath = "/p/l.json"
	want.Network.Allow = []string{"10.9.0.0/16"}
	want.Fleet.Shard = "2/3"
	want.Fleet.RedisURL = "redis://127.0.0.1:6390/2"
	want.origin = cfg.origin
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("got  %+v\nwant %+v", *cfg, want)
	}
}

func TestEnvNamesUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, k := range Keys() {
		n := EnvVar(k)
		if prev, ok := seen[n]; ok {
			t.Errorf("%s and %s share %s", prev, k, n)
		}
		seen[n] = k
	}
	if EnvVar("openalex.base_url") != "DOCSTOKG_OPENALEX_BASE_URL" ||
		EnvVar("rate_limits.default.rps") != "DOCSTOKG_RATE_LIMITS_DEFAULT_RPS" {
		t.Error("unexpected env naming")
	}
}

func TestValueForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		file string
		env  map[string]string
		get  func(*Config) any
		want any
	}{
		{"bool 1", "", map[string]string{"DOCSTOKG_ENABLE_PROVIDER_LEARNING": "1"}, func(c *Config) any { return c.EnableProviderLearning }, true},
		{"bool yes", "", map[string]string{"DOCSTOKG_ENABLE_PROVIDER_LEARNING": "yes"}, func(c *Config) any { return c.EnableProviderLearning }, true},
		{"bool TRUE", "", map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "TRUE"}, func(c *Config) any { return c.EnableContextualRetry }, true},
		{"bool 0 over file", "enable_contextual_retry: true\n", map[string]string{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "0"}, func(c *Config) any { return c.EnableContextualRetry }, false},
		{"yaml bool yes (a string in YAML 1.2)", "enable_contextual_retry: yes\n", nil, func(c *Config) any { return c.EnableContextualRetry }, true},
		{"duration seconds env", "", map[string]string{"DOCSTOKG_RETRY_MAX_WAIT": "2"}, func(c *Config) any { return c.Retry.MaxWait }, 2 * time.Second},
		{"duration fraction env", "", map[string]string{"DOCSTOKG_RETRY_BASE_DELAY": "0.25"}, func(c *Config) any { return c.Retry.BaseDelay }, 250 * time.Millisecond},
		{"duration go syntax yaml", "retry:\n  max_delay: 1m30s\n", nil, func(c *Config) any { return c.Retry.MaxDelay }, 90 * time.Second},
		{"duration int yaml", "learning:\n  window: 120\n", nil, func(c *Config) any { return c.Learning.Window }, 2 * time.Minute},
		{"duration float yaml", "rate_limits:\n  default:\n    cooldown: 1.5\n", nil, func(c *Config) any { return c.RateLimits.Default.Cooldown }, 1500 * time.Millisecond},
		{"list blanks and commas", "", map[string]string{"DOCSTOKG_RESOLVERS_ORDER": " openalex,unpaywall  crossref,"}, func(c *Config) any { return c.Resolvers.Order }, []string{"openalex", "unpaywall", "crossref"}},
		{"list case", "resolvers:\n  order: [OpenAlex, ' Arxiv ']\n", nil, func(c *Config) any { return c.Resolvers.Order }, []string{"openalex", "arxiv"}},
		{"tiers env", "", map[string]string{"DOCSTOKG_LEARNING_TIERS": "3:10,6:25.5"}, func(c *Config) any { return c.Learning.Tiers }, []Tier{{3, 10}, {6, 25.5}}},
		{"int64 env", "", map[string]string{"DOCSTOKG_DOWNLOAD_MAX_BYTES": "1048576"}, func(c *Config) any { return c.Download.MaxBytes }, int64(1 << 20)},
		{"float from int yaml", "learning:\n  beta: 0.5\n  max_reduction_pct: 50\n", nil, func(c *Config) any { return c.Learning.MaxReductionPct }, 50.0},
		{"base url trailing slash", "", map[string]string{"DOCSTOKG_UNPAYWALL_BASE_URL": "http://127.0.0.1:9/"}, func(c *Config) any { return c.Unpaywall.BaseURL }, "http://127.0.0.1:9"},
		{"home expansion", "out: ~/runs/x\n", nil, func(c *Config) any { return c.Out }, "/home/t/runs/x"},
		{"xdg state home", "", map[string]string{"XDG_STATE_HOME": "/state"}, func(c *Config) any { return c.ProviderLearningPath }, "/state/contentdl/provider-learning.json"},
		{"relative xdg ignored", "", map[string]string{"XDG_STATE_HOME": "rel"}, func(c *Config) any { return c.ProviderLearningPath }, "/home/t/.local/state/contentdl/provider-learning.json"},
		{"explicit learning path", "provider_learning_path: ~/l.json\n", nil, func(c *Config) any { return c.ProviderLearningPath }, "/home/t/l.json"},
		{"empty section", "openalex:\nretry:\n", nil, func(c *Config) any { return c.OpenAlex.BaseURL }, "https://api.openalex.org"},
		{"host entries", "rate_limits:\n  hosts:\n    - {host: Example.ORG:8443, rps: 1}\n", nil, func(c *Config) any { return c.RateLimits.Hosts }, []HostLimit{{Host: "example.org:8443", RPS: 1}}},
		{"log format upper", "log_format: JSON\n", nil, func(c *Config) any { return c.LogFormat }, "json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOME": "/home/t"}
			for k, v := range tc.env {
				env[k] = v
			}
			opts := LoadOptions{Getenv: envMap(env)}
			if tc.file != "" {
				opts.File = writeFile(t, "c.yaml", tc.file)
			}
			cfg, err := Load(opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestConfigFileSelection(t *testing.T) {
	t.Parallel()
	a := writeFile(t, "a.yaml", "workers: 11\n")
	b := writeFile(t, "b.yml", "workers: 12\n")
	noExt := writeFile(t, "contentdl.conf", "workers: 13\n")

	cfg, err := Load(LoadOptions{Getenv: envMap(map[string]string{EnvConfigFile: a})})
	if err != nil || cfg.Workers != 11 || cfg.Source("workers") != "file "+a {
		t.Fatalf("DOCSTOKG_CONFIG: cfg=%+v err=%v", cfg, err)
	}
	cfg, err = Load(LoadOptions{File: b, Getenv: envMap(map[string]string{EnvConfigFile: a})})
	if err != nil || cfg.Workers != 12 {
		t.Fatalf("--config must win over DOCSTOKG_CONFIG: cfg=%+v err=%v", cfg, err)
	}
	cfg, err = Load(LoadOptions{File: noExt})
	if err != nil || cfg.Workers != 13 {
		t.Fatalf("a file without a .yaml extension is still YAML: cfg=%+v err=%v", cfg, err)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "c.yaml"), []byte("workers: 14\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(LoadOptions{File: "~/c.yaml", Getenv: envMap(map[string]string{"HOME": home})})
	if err != nil || cfg.Workers != 14 {
		t.Fatalf("~ expansion: cfg=%+v err=%v", cfg, err)
	}
}

// TestNoUserConfigLeaks puts config files everywhere viper or a careless loader might
// look, and real DOCSTOKG_* variables in the process environment; Load must see none
// of them unless told.
func TestNoUserConfigLeaks(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"config.yaml", "contentdl.yaml", ".contentdl.yaml", "config.yml"} {
		for _, d := range []string{dir, filepath.Join(dir, ".config", "contentdl"), filepath.Join(dir, "contentdl")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, name), []byte("workers: 99\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Chdir(dir)
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, ".config"))
	t.Setenv("DOCSTOKG_WORKERS", "77")
	t.Setenv("DOCSTOKG_CONFIG", filepath.Join(dir, "config.yaml"))

	cfg, err := Load(LoadOptions{Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 8 {
		t.Errorf("workers = %d: a config file or variable leaked in", cfg.Workers)
	}
	if cfg.ProviderLearningPath != "" {
		t.Errorf("provider_learning_path = %q, derived from the process environment", cfg.ProviderLearningPath)
	}
	// Also with a named file: only that one is read.
	named := writeFile(t, "named.yaml", "max_works: 5\n")
	cfg, err = Load(LoadOptions{File: named, Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 8 || cfg.MaxWorks != 5 {
		t.Errorf("workers=%d max_works=%d", cfg.Workers, cfg.MaxWorks)
	}
}

func TestFlagBinding(t *testing.T) {
	t.Parallel()
	// Unchanged flags, even with defaults that differ from the config's, do not count.
	cfg, err := Load(LoadOptions{Flags: testFlags(t, "--dry-run")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 8 || cfg.LogLevel != "info" || cfg.Source("workers") != "default" {
		t.Errorf("unchanged flags applied: workers=%d log_level=%s", cfg.Workers, cfg.LogLevel)
	}

	fs := testFlags(t)
	fs.Int("bogus", 0, "")
	if err := fs.SetAnnotation("bogus", FlagAnnotation, []string{"no.such.key"}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--bogus=1"}); err != nil {
		t.Fatal(err)
	}
	_, err = Load(LoadOptions{Flags: fs})
	if err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("annotated unknown key: err = %v, want a non-usage (programming) error", err)
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	_, err := Load(LoadOptions{
		Getenv: envMap(nil),
		Environ: func() []string {
			return []string{"DOCSTOKG_WORKRS=secretvalue", "DOCSTOKG_WORKERS=", "PATH=/bin", "DOCSTOKG_CONFIG="}
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "name=DOCSTOKG_WORKRS") ||
		!strings.Contains(out, "did_you_mean=DOCSTOKG_WORKERS") || strings.Contains(out, "secretvalue") {
		t.Errorf("warnings = %q", out)
	}
}

// TestExampleFile loads testdata/example.yaml (copied into the README), checks that it
// holds every key, and that its values are the defaults apart from the marked
// examples.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "example.yaml")
	cfg, err := Load(LoadOptions{File: path, Getenv: envMap(map[string]string{"HOME": "/h"})})
	if err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	inFile := v.AllKeys()
	for _, k := range Keys() {
		if !slices.Contains(inFile, k) {
			t.Errorf("example.yaml lacks %s", k)
		}
	}
	want := Defaults()
	want.Mailto = "you@example.org"
	want.ProviderLearningPath = "/h/.local/state/contentdl/provider-learning.json"
	want.RateLimits.Hosts = []HostLimit{
		{Host: "export.arxiv.org", RPS: 0.3333, Burst: 1, Concurrency: 1},
		{Host: "repository.example.edu:8443", RPS: 2, Burst: 1, Concurrency: 2, Cooldown: 5 * time.Second},
	}
	want.origin = cfg.origin
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("example.yaml differs from the defaults:\n got %+v\nwant %+v", *cfg, want)
	}
}

func TestEmptyFileValueKeepsDefault(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "workers:\nmax_works: 3\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 8 || cfg.Source("workers") != "default" {
		t.Errorf("workers = %d from %q, want the default", cfg.Workers, cfg.Source("workers"))
	}
	if cfg.MaxWorks != 3 || cfg.Source("max_works") != "file "+file {
		t.Errorf("max_works = %d from %q", cfg.MaxWorks, cfg.Source("max_works"))
	}
}

// TestNetworkLists loads deny and allow lists from each layer: entries are trimmed,
// single addresses and CIDRs both parse, and an empty list in the file turns the
// guard off.
func TestNetworkLists(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "network:\n  deny: [' 10.0.0.0/8 ', 172.16.0.0/12, 192.168.0.0/16, fc00::/7, 169.254.0.0/16]\n  allow: [10.1.0.0/16]\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Network.Deny, " "); got != "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7 169.254.0.0/16" {
		t.Errorf("deny = %q", got)
	}
	if cfg.Source("network.deny") != "file "+file || cfg.Source("network.allow") != "file "+file {
		t.Errorf("sources %q %q", cfg.Source("network.deny"), cfg.Source("network.allow"))
	}
	if ps := cfg.Network.DenyPrefixes(); len(ps) != 5 || ps[0].String() != "10.0.0.0/8" {
		t.Errorf("DenyPrefixes = %v", ps)
	}
	if ps := cfg.Network.AllowPrefixes(); len(ps) != 1 || ps[0].String() != "10.1.0.0/16" {
		t.Errorf("AllowPrefixes = %v", ps)
	}

	cfg, err = Load(LoadOptions{File: file, Getenv: envMap(map[string]string{"DOCSTOKG_NETWORK_ALLOW": "169.254.170.2, fd00:ec2::254"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Network.Allow, " "); got != "169.254.170.2 fd00:ec2::254" || cfg.Source("network.allow") != "env DOCSTOKG_NETWORK_ALLOW" {
		t.Errorf("allow = %q from %q", got, cfg.Source("network.allow"))
	}

	off := writeFile(t, "off.yaml", "network:\n  deny: []\n")
	cfg, err = Load(LoadOptions{File: off})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Network.Deny) != 0 || len(cfg.Network.DenyPrefixes()) != 0 {
		t.Errorf("deny: [] gave %v", cfg.Network.Deny)
	}
}
