package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/policy"
)

// TestBadValues checks every rejected value: the exact one-line message naming the
// key and the source, and that the error matches ErrUsage. {file} stands for the
// config file's path.
func TestBadValues(t *testing.T) {
	t.Parallel()
	type env = map[string]string
	cases := []struct {
		name string
		file string // YAML; "" = no file
		env  env
		args []string
		want string
	}{
		// workers, max_works, out, mailto, logging
		{"workers zero env", "", env{"DOCSTOKG_WORKERS": "0"}, nil,
			"config: workers = 0 (from env DOCSTOKG_WORKERS): must be at least 1"},
		{"workers negative flag", "workers: 4\n", nil, []string{"--workers=-3"},
			"config: workers = -3 (from flag --workers): must be at least 1"},
		{"workers too many file", "workers: 2000\n", nil, nil,
			"config: workers = 2000 (from file {file}): must be at most 1024"},
		{"workers not a number", "", env{"DOCSTOKG_WORKERS": "many"}, nil,
			"config: workers = many (from env DOCSTOKG_WORKERS): must be an integer"},
		{"workers fractional", "workers: 2.5\n", nil, nil,
			"config: workers = 2.5 (from file {file}): must be an integer"},
		{"workers list", "workers: [1, 2]\n", nil, nil,
			"config: workers (from file {file}): must be an integer, not a list"},
		{"workers mapping", "workers: {a: 1}\n", nil, nil,
			"config: workers (from file {file}): must be a value, not a mapping"},
		{"max_works negative", "", env{"DOCSTOKG_MAX_WORKS": "-1"}, nil,
			"config: max_works = -1 (from env DOCSTOKG_MAX_WORKS): must be at least 0"},
		{"out empty", "out: ''\n", nil, nil,
			"config: out (from file {file}): must not be empty"},
		{"mailto", "", env{"DOCSTOKG_MAILTO": "nobody"}, nil,
			"config: mailto = nobody (from env DOCSTOKG_MAILTO): must be an e-mail address such as you@example.org"},
		{"mailto no tld", "", nil, []string{"--mailto=me@localhost"},
			"config: mailto = me@localhost (from flag --mailto): must be an e-mail address such as you@example.org"},
		{"log level", "log_level: verbose\n", nil, nil,
			"config: log_level = verbose (from file {file}): must be one of debug, info, warn, error"},
		{"log format", "", env{"DOCSTOKG_LOG_FORMAT": "xml"}, nil,
			"config: log_format = xml (from env DOCSTOKG_LOG_FORMAT): must be one of text, json"},
		{"bool", "", env{"DOCSTOKG_ENABLE_CONTEXTUAL_RETRY": "maybe"}, nil,
			"config: enable_contextual_retry = maybe (from env DOCSTOKG_ENABLE_CONTEXTUAL_RETRY): must be a boolean (true/false, yes/no, 1/0)"},
		{"learning path without home", "", env{"DOCSTOKG_ENABLE_PROVIDER_LEARNING": "true"}, nil,
			"config: provider_learning_path (from default): must be set: neither XDG_STATE_HOME nor HOME is available to derive the default"},

		// URLs
		{"openalex url blanks", "", env{"DOCSTOKG_OPENALEX_BASE_URL": "not a url"}, nil,
			`config: openalex.base_url = "not a url" (from env DOCSTOKG_OPENALEX_BASE_URL): must be an absolute http(s) URL`},
		{"openalex url relative flag", "", nil, []string{"--openalex-base-url=/api"},
			"config: openalex.base_url = /api (from flag --openalex-base-url): must be an absolute http(s) URL"},
		{"unpaywall url scheme", "unpaywall:\n  base_url: ftp://api.unpaywall.org\n", nil, nil,
			"config: unpaywall.base_url = ftp://api.unpaywall.org (from file {file}): must be an absolute http(s) URL"},
		{"crossref url no host", "", env{"DOCSTOKG_CROSSREF_BASE_URL": "https://"}, nil,
			"config: crossref.base_url = https:// (from env DOCSTOKG_CROSSREF_BASE_URL): must be an absolute http(s) URL"},
		{"arxiv url unparsable", "", env{"DOCSTOKG_ARXIV_BASE_URL": "http://[::1"}, nil,
			"config: arxiv.base_url = http://[::1 (from env DOCSTOKG_ARXIV_BASE_URL): must be an absolute http(s) URL"},
		{"europe_pmc url bare host", "europe_pmc:\n  base_url: europepmc.org\n", nil, nil,
			"config: europe_pmc.base_url = europepmc.org (from file {file}): must be an absolute http(s) URL"},
		{"semantic_scholar url userinfo", "", env{"DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL": "https://u:p@api.semanticscholar.org"}, nil,
			"config: semantic_scholar.base_url = https://u:p@api.semanticscholar.org (from env DOCSTOKG_SEMANTIC_SCHOLAR_BASE_URL): must be an absolute http(s) URL"},
		{"per_page", "openalex:\n  per_page: 500\n", nil, nil,
			"config: openalex.per_page = 500 (from file {file}): must be at most 200"},
		{"numeric api key is text; next error wins", "openalex:\n  api_key: 12345\n  per_page: 0\n", nil, nil,
			"config: openalex.per_page = 0 (from file {file}): must be at least 1"},
		{"api key list", "semantic_scholar:\n  api_key: [a]\n", nil, nil,
			"config: semantic_scholar.api_key (from file {file}): must be a string, not a list"},

		// openalex budget
		{"max cost negative", "", env{"DOCSTOKG_OPENALEX_MAX_COST_USD": "-1"}, nil,
			"config: openalex.max_cost_usd = -1 (from env DOCSTOKG_OPENALEX_MAX_COST_USD): must be 0 (no limit) or a positive amount of US dollars"},
		{"max cost text", "openalex:\n  max_cost_usd: lots\n", nil, nil,
			"config: openalex.max_cost_usd = lots (from file {file}): must be a number"},
		{"content base url", "", env{"DOCSTOKG_OPENALEX_CONTENT_BASE_URL": "ftp://x"}, nil,
			"config: openalex.content_base_url = ftp://x (from env DOCSTOKG_OPENALEX_CONTENT_BASE_URL): must be an absolute http(s) URL"},

		// resolvers
		{"resolver unknown", "", env{"DOCSTOKG_RESOLVERS_ORDER": "openalex,google"}, nil,
			"config: resolvers.order = google (from env DOCSTOKG_RESOLVERS_ORDER): unknown resolver (known: openalex, unpaywall, crossref, arxiv, europe_pmc, semantic_scholar, landing_page, openalex_content)"},
		{"resolver duplicate", "resolvers:\n  order: [arxiv, crossref, arxiv]\n", nil, nil,
			"config: resolvers.order = arxiv (from file {file}): resolver listed twice"},
		{"resolvers empty", "resolvers:\n  order: []\n", nil, nil,
			"config: resolvers.order (from file {file}): must name at least one resolver"},
		{"resolver not a string", "resolvers:\n  order: [openalex, 3]\n", nil, nil,
			"config: resolvers.order[1] = 3 (from file {file}): must be a string"},

		// rate limits
		{"rps negative env", "", env{"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS": "-1"}, nil,
			"config: rate_limits.default.rps = -1 (from env DOCSTOKG_RATE_LIMITS_DEFAULT_RPS): must be greater than 0"},
		{"rps zero file", "rate_limits:\n  default:\n    rps: 0\n", nil, nil,
			"config: rate_limits.default.rps = 0 (from file {file}): must be greater than 0"},
		{"rps zero flag", "", nil, []string{"--rps=0"},
			"config: rate_limits.default.rps = 0 (from flag --rps): must be greater than 0"},
		{"rps text", "", env{"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS": "fast"}, nil,
			"config: rate_limits.default.rps = fast (from env DOCSTOKG_RATE_LIMITS_DEFAULT_RPS): must be a number"},
		{"rps nan", "", env{"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS": "NaN"}, nil,
			"config: rate_limits.default.rps = NaN (from env DOCSTOKG_RATE_LIMITS_DEFAULT_RPS): must be a finite number"},
		{"burst zero", "", env{"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST": "0"}, nil,
			"config: rate_limits.default.burst = 0 (from env DOCSTOKG_RATE_LIMITS_DEFAULT_BURST): must be at least 1"},
		{"concurrency zero", "rate_limits:\n  default: {concurrency: 0}\n", nil, nil,
			"config: rate_limits.default.concurrency = 0 (from file {file}): must be at least 1"},
		{"cooldown negative", "", env{"DOCSTOKG_RATE_LIMITS_DEFAULT_COOLDOWN": "-2s"}, nil,
			"config: rate_limits.default.cooldown = -2s (from env DOCSTOKG_RATE_LIMITS_DEFAULT_COOLDOWN): must be greater than 0"},
		{"host missing", "rate_limits:\n  hosts:\n    - {host: a.org, rps: 1}\n    - {rps: 2}\n", nil, nil,
			"config: rate_limits.hosts[1].host (from file {file}): must not be empty"},
		{"host is a url", "rate_limits:\n  hosts:\n    - {host: 'https://a.org/x', rps: 1}\n", nil, nil,
			"config: rate_limits.hosts[0].host = https://a.org/x (from file {file}): must be a host name or host:port, not a URL"},
		{"host duplicate", "rate_limits:\n  hosts:\n    - {host: a.org, rps: 1}\n    - {host: A.org, rps: 2}\n", nil, nil,
			"config: rate_limits.hosts[1].host = a.org (from file {file}): host already listed at rate_limits.hosts[0]"},
		{"host rps negative", "rate_limits:\n  hosts:\n    - {host: a.org, rps: -2}\n", nil, nil,
			"config: rate_limits.hosts[0].rps = -2 (from file {file}): must be greater than 0"},
		{"host rps missing", "rate_limits:\n  hosts:\n    - {host: a.org, burst: 2}\n", nil, nil,
			"config: rate_limits.hosts[0].rps = 0 (from file {file}): must be greater than 0"},
		{"host burst negative", "rate_limits:\n  hosts:\n    - {host: a.org, rps: 1, burst: -1}\n", nil, nil,
			"config: rate_limits.hosts[0].burst = -1 (from file {file}): must not be negative (0 = rate_limits.default.burst)"},
		{"host rps text", "rate_limits:\n  hosts:\n    - {host: a.org, rps: lots}\n", nil, nil,
			"config: rate_limits.hosts[0].rps = lots (from file {file}): must be a number"},
		{"hosts not a list", "rate_limits:\n  hosts: a.org\n", nil, nil,
			"config: rate_limits.hosts = a.org (from file {file}): must be a list of {host, rps, burst, concurrency, cooldown} entries, set in the config file"},
		{"hosts item not a mapping", "rate_limits:\n  hosts: [a.org]\n", nil, nil,
			"config: rate_limits.hosts[0] = a.org (from file {file}): must be a mapping"},
		{"hosts from env", "", env{"DOCSTOKG_RATE_LIMITS_HOSTS": "a.org"}, nil,
			"config: rate_limits.hosts (from env DOCSTOKG_RATE_LIMITS_HOSTS): can only be set in the config file (a list of {host, rps, burst, concurrency, cooldown} entries)"},

		// retry
		{"retry attempts", "", env{"DOCSTOKG_RETRY_MAX_ATTEMPTS": "0"}, nil,
			"config: retry.max_attempts = 0 (from env DOCSTOKG_RETRY_MAX_ATTEMPTS): must be at least 1"},
		{"base delay zero", "retry:\n  base_delay: 0s\n", nil, nil,
			"config: retry.base_delay = 0s (from file {file}): must be greater than 0"},
		{"max delay zero", "", env{"DOCSTOKG_RETRY_MAX_DELAY": "0"}, nil,
			"config: retry.max_delay = 0s (from env DOCSTOKG_RETRY_MAX_DELAY): must be greater than 0"},
		{"base above max", "retry:\n  base_delay: 40s\n", nil, nil,
			"config: retry.base_delay = 40s (from file {file}): must not exceed retry.max_delay (30s)"},
		{"max wait", "", env{"DOCSTOKG_RETRY_MAX_WAIT": "-1"}, nil,
			"config: retry.max_wait = -1s (from env DOCSTOKG_RETRY_MAX_WAIT): must be greater than 0"},
		{"defer rounds", "retry:\n  defer_rounds: -1\n", nil, nil,
			"config: retry.defer_rounds = -1 (from file {file}): must be at least 0"},
		{"duration garbage", "", env{"DOCSTOKG_RETRY_MAX_WAIT": "soon"}, nil,
			`config: retry.max_wait = soon (from env DOCSTOKG_RETRY_MAX_WAIT): must be a duration such as "1500ms" or "2s", or a number of seconds`},
		{"op attempts flag", "", nil, []string{"--download-attempts=0"},
			"config: retry.operations.download.max_attempts = 0 (from flag --download-attempts): must be at least 1"},
		{"op deadline negative", "retry:\n  operations:\n    resolve: {deadline: -1s}\n", nil, nil,
			"config: retry.operations.resolve.deadline = -1s (from file {file}): must not be negative"},
		{"op unknown", "retry:\n  operations:\n    upload: {max_attempts: 2}\n", nil, nil,
			`config: retry.operations.upload.max_attempts (from file {file}): unknown key`},
		{"op not a mapping", "retry:\n  operations:\n    download: 3\n", nil, nil,
			"config: retry.operations.download = 3 (from file {file}): must be a mapping"},

		// download
		{"timeout", "", env{"DOCSTOKG_DOWNLOAD_TIMEOUT": "0"}, nil,
			"config: download.timeout = 0s (from env DOCSTOKG_DOWNLOAD_TIMEOUT): must be greater than 0"},
		{"max bytes", "download:\n  max_bytes: 0\n", nil, nil,
			"config: download.max_bytes = 0 (from file {file}): must be greater than 0"},
		{"min pdf bytes", "", env{"DOCSTOKG_DOWNLOAD_MIN_PDF_BYTES": "-5"}, nil,
			"config: download.min_pdf_bytes = -5 (from env DOCSTOKG_DOWNLOAD_MIN_PDF_BYTES): must be greater than 0"},
		{"min above max", "download:\n  max_bytes: 1000\n  min_pdf_bytes: 2000\n", nil, nil,
			"config: download.min_pdf_bytes = 2000 (from file {file}): must not exceed download.max_bytes (1000)"},
		{"min speed negative", "", env{"DOCSTOKG_DOWNLOAD_MIN_SPEED": "-1"}, nil,
			"config: download.min_speed = -1 (from env DOCSTOKG_DOWNLOAD_MIN_SPEED): must not be negative (bytes per second; 0 turns the check off)"},
		{"min speed not a number", "download:\n  min_speed: fast\n", nil, nil,
			"config: download.min_speed = fast (from file {file}): must be an integer"},
		{"min speed window short", "download:\n  min_speed_window: 500ms\n", nil, nil,
			"config: download.min_speed_window = 500ms (from file {file}): must be at least 1s"},
		{"max bytes overflow", "", env{"DOCSTOKG_DOWNLOAD_MAX_BYTES": "99999999999999999999"}, nil,
			"config: download.max_bytes = 99999999999999999999 (from env DOCSTOKG_DOWNLOAD_MAX_BYTES): is too large"},

		// learning
		// network
		{"deny not a cidr env", "", env{"DOCSTOKG_NETWORK_DENY": "169.254.0.0/16,10.0.0.0/33"}, nil,
			"config: network.deny[1] = 10.0.0.0/33 (from env DOCSTOKG_NETWORK_DENY): must be a CIDR such as 10.0.0.0/8 or fc00::/7, or one IP address: not a valid CIDR"},
		{"deny host name file", "network:\n  deny: [10.0.0.0/8, metadata.google.internal]\n", nil, nil,
			"config: network.deny[1] = metadata.google.internal (from file {file}): must be a CIDR such as 10.0.0.0/8 or fc00::/7, or one IP address: not an IP address"},
		{"allow zone file", "network:\n  allow: ['fe80::1%eth0']\n", nil, nil,
			"config: network.allow[0] = fe80::1%eth0 (from file {file}): must be a CIDR such as 10.0.0.0/8 or fc00::/7, or one IP address: a zone (%…) names an interface, not a range"},
		{"allow number file", "network:\n  allow: [10]\n", nil, nil,
			"config: network.allow[0] = 10 (from file {file}): must be a string"},
		{"deny mapping file", "network:\n  deny: {a: 1}\n", nil, nil,
			"config: network.deny (from file {file}): must be a value, not a mapping"},

		{"reduction zero", "learning:\n  max_reduction_pct: 0\n", nil, nil,
			"config: learning.max_reduction_pct = 0 (from file {file}): must be greater than 0 and at most 95"},
		{"reduction too high", "", env{"DOCSTOKG_LEARNING_MAX_REDUCTION_PCT": "96"}, nil,
			"config: learning.max_reduction_pct = 96 (from env DOCSTOKG_LEARNING_MAX_REDUCTION_PCT): must be greater than 0 and at most 95"},
		{"min rps", "", nil, []string{"--min-rps=0"},
			"config: learning.min_rps = 0 (from flag --min-rps): must be greater than 0"},
		{"tiers empty", "learning:\n  tiers: []\n", nil, nil,
			"config: learning.tiers (from file {file}): must hold at least one {threshold, step_pct} entry"},
		{"tiers not ascending", "learning:\n  tiers:\n    - {threshold: 5, step_pct: 10}\n    - {threshold: 3, step_pct: 20}\n", nil, nil,
			"config: learning.tiers[1].threshold = 3 (from file {file}): must be greater than the previous tier's threshold (5)"},
		{"tiers step decreasing", "", env{"DOCSTOKG_LEARNING_TIERS": "3:20,5:10"}, nil,
			"config: learning.tiers[1].step_pct = 10 (from env DOCSTOKG_LEARNING_TIERS): must not be less than the previous tier's step_pct (20)"},
		{"tiers step zero", "learning:\n  tiers: [{threshold: 3, step_pct: 0}]\n", nil, nil,
			"config: learning.tiers[0].step_pct = 0 (from file {file}): must be greater than 0 and at most 100"},
		{"tiers threshold zero", "learning:\n  tiers: [{threshold: 0, step_pct: 5}]\n", nil, nil,
			"config: learning.tiers[0].threshold = 0 (from file {file}): must be at least 1"},
		{"tiers env garbage", "", env{"DOCSTOKG_LEARNING_TIERS": "3-10"}, nil,
			`config: learning.tiers = 3-10 (from env DOCSTOKG_LEARNING_TIERS): must be a list of {threshold, step_pct} entries, or "THRESHOLD:STEP_PCT,…" text such as "3:10,5:20"`},
		{"window", "", env{"DOCSTOKG_LEARNING_WINDOW": "0s"}, nil,
			"config: learning.window = 0s (from env DOCSTOKG_LEARNING_WINDOW): must be greater than 0"},
		{"window min requests", "learning:\n  window_min_requests: 0\n", nil, nil,
			"config: learning.window_min_requests = 0 (from file {file}): must be at least 1"},
		{"window share", "", env{"DOCSTOKG_LEARNING_WINDOW_429_SHARE": "1.5"}, nil,
			"config: learning.window_429_share = 1.5 (from env DOCSTOKG_LEARNING_WINDOW_429_SHARE): must be greater than 0 and at most 1"},
		{"beta one", "learning:\n  beta: 1\n", nil, nil,
			"config: learning.beta = 1 (from file {file}): must be greater than 0 and less than 1"},
		{"beta zero", "", env{"DOCSTOKG_LEARNING_BETA": "0"}, nil,
			"config: learning.beta = 0 (from env DOCSTOKG_LEARNING_BETA): must be greater than 0 and less than 1"},
		{"recovery interval", "learning:\n  recovery_interval: 0\n", nil, nil,
			"config: learning.recovery_interval = 0s (from file {file}): must be greater than 0"},
		{"recovery step", "", env{"DOCSTOKG_LEARNING_RECOVERY_STEP_PCT": "0"}, nil,
			"config: learning.recovery_step_pct = 0 (from env DOCSTOKG_LEARNING_RECOVERY_STEP_PCT): must be greater than 0 and at most 100"},
		{"forget after", "learning:\n  forget_after: -1h\n", nil, nil,
			"config: learning.forget_after = -1h (from file {file}): must be greater than 0"},
		{"save every", "", env{"DOCSTOKG_LEARNING_SAVE_EVERY": "0"}, nil,
			"config: learning.save_every = 0s (from env DOCSTOKG_LEARNING_SAVE_EVERY): must be greater than 0"},

		// unknown keys and shapes in the file
		{"unknown top-level", "wrkers: 3\n", nil, nil,
			`config: wrkers (from file {file}): unknown key (did you mean "workers"?)`},
		{"unknown nested", "openalex:\n  base_ur: http://x.org\n", nil, nil,
			`config: openalex.base_ur (from file {file}): unknown key (did you mean "openalex.base_url"?)`},
		{"unknown far off", "colour: blue\n", nil, nil,
			"config: colour (from file {file}): unknown key"},
		{"unknown in hosts item", "rate_limits:\n  hosts:\n    - {host: a.org, rsp: 3}\n", nil, nil,
			`config: rate_limits.hosts[0].rsp (from file {file}): unknown key (did you mean "rps"?)`},
		{"unknown in tiers item", "learning:\n  tiers:\n    - {threshold: 3, step: 10}\n", nil, nil,
			`config: learning.tiers[0].step (from file {file}): unknown key`},
		{"unknown in tiers even when env overrides", "learning:\n  tiers:\n    - {threshold: 3, stepp_pct: 10}\n", env{"DOCSTOKG_LEARNING_TIERS": "3:10"}, nil,
			`config: learning.tiers[0].stepp_pct (from file {file}): unknown key (did you mean "step_pct"?)`},
		{"host on default", "rate_limits:\n  default:\n    host: a.org\n", nil, nil,
			`config: rate_limits.default.host (from file {file}): unknown key`},
		{"section is scalar", "openalex: 5\n", nil, nil,
			"config: openalex = 5 (from file {file}): must be a mapping"},
		{"yaml syntax", "workers: [1,\n", nil, nil,
			"config: config = {file} (from flag --config): invalid YAML: yaml: line 1: did not find expected node content"},
		{"yaml duplicate key", "workers: 1\nworkers: 2\n", nil, nil,
			`config: config = {file} (from flag --config): invalid YAML: yaml: unmarshal errors: line 2: mapping key "workers" already defined at line 1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Getenv: envMap(tc.env), Flags: testFlags(t, tc.args...)}
			if tc.file != "" {
				opts.File = writeFile(t, "bad.yaml", tc.file)
			}
			cfg, err := Load(opts)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			want := strings.ReplaceAll(tc.want, "{file}", opts.File)
			if err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error does not match ErrUsage")
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key == "" || ce.Source == "" {
				t.Errorf("error is not a complete *Error: %#v", err)
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	cases := []struct {
		name string
		opts LoadOptions
		want string
	}{
		{"flag", LoadOptions{File: missing}, "config: config = " + missing + " (from flag --config): file not found"},
		{"env", LoadOptions{Getenv: envMap(map[string]string{EnvConfigFile: missing})},
			"config: config = " + missing + " (from env DOCSTOKG_CONFIG): file not found"},
		{"directory", LoadOptions{File: filepath.Dir(missing)},
			"config: config = " + filepath.Dir(missing) + " (from flag --config): is a directory, not a file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != "config" || !errors.Is(err, ErrUsage) {
				t.Errorf("not a config *Error: %#v", err)
			}
			if tc.name != "directory" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cause not kept: %v", err)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{File: writeFile(t, "c.yaml", "openalex:\n  api_key: {nested: hunter2}\n")})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateWithoutLoad(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.Workers = 0
	if err := c.Validate(); err == nil || err.Error() != "config: workers = 0: must be at least 1" {
		t.Errorf("err = %v", err)
	}
	c = Defaults()
	c.Retry.Operations["upload"] = OpRule{MaxAttempts: 1}
	if err := c.Validate(); err == nil || err.Error() != "config: retry.operations.upload: unknown operation" {
		t.Errorf("err = %v", err)
	}
	c = Defaults()
	delete(c.Retry.Operations, "download")
	if err := c.Validate(); err != nil {
		t.Errorf("a missing operation falls back to its default: %v", err)
	}
	if got := c.Retry.Op(policy.Download); got != (OpRule{MaxAttempts: 6, Deadline: 60 * time.Second}) {
		t.Errorf("Op(download) = %+v", got)
	}
}
