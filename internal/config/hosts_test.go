package config

import (
	"testing"
	"time"
)

func TestHostLimitFor(t *testing.T) {
	t.Parallel()
	cfg, err := Load(LoadOptions{File: writeFile(t, "c.yaml", `
rate_limits:
  default: {rps: 5, burst: 2, concurrency: 4, cooldown: 2s}
  hosts:
    - {host: files.example.org:8443, rps: 7, burst: 3}
    - {host: files.example.org, rps: 6, concurrency: 2}
    - {host: api.crossref.org, rps: 3, cooldown: 10s}
    - {host: "[::1]:9000", rps: 9}
`)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		want HostLimit
	}{
		// Exact host:port entry; zero fields from the default.
		{"files.example.org:8443", HostLimit{Host: "files.example.org:8443", RPS: 7, Burst: 3, Concurrency: 4, Cooldown: 2 * time.Second}},
		// Another port falls back to the port-less entry.
		{"files.example.org:9443", HostLimit{Host: "files.example.org:9443", RPS: 6, Burst: 2, Concurrency: 2, Cooldown: 2 * time.Second}},
		{"FILES.example.org", HostLimit{Host: "files.example.org", RPS: 6, Burst: 2, Concurrency: 2, Cooldown: 2 * time.Second}},
		// A configured entry replaces the built-in one.
		{"api.crossref.org", HostLimit{Host: "api.crossref.org", RPS: 3, Burst: 2, Concurrency: 4, Cooldown: 10 * time.Second}},
		// Built-in known hosts.
		{"api.openalex.org", HostLimit{Host: "api.openalex.org", RPS: 10, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
		{"api.openalex.org:443", HostLimit{Host: "api.openalex.org:443", RPS: 10, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
		{"api.unpaywall.org", HostLimit{Host: "api.unpaywall.org", RPS: 10, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
		{"export.arxiv.org", HostLimit{Host: "export.arxiv.org", RPS: 1.0 / 3, Burst: 1, Concurrency: 1, Cooldown: 2 * time.Second}},
		{"api.semanticscholar.org", HostLimit{Host: "api.semanticscholar.org", RPS: 1, Burst: 1, Concurrency: 4, Cooldown: 2 * time.Second}},
		// IPv6 literal with port.
		{"[::1]:9000", HostLimit{Host: "[::1]:9000", RPS: 9, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
		// Anything else gets the default.
		{"unknown.example.net", HostLimit{Host: "unknown.example.net", RPS: 5, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
		{"127.0.0.1:8080", HostLimit{Host: "127.0.0.1:8080", RPS: 5, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second}},
	}
	for _, tc := range cases {
		if got := cfg.HostLimitFor(tc.host); got != tc.want {
			t.Errorf("HostLimitFor(%q) = %+v, want %+v", tc.host, got, tc.want)
		}
	}

	// The built-ins follow the configured default for the fields they leave open.
	d := Defaults()
	d.RateLimits.Default = HostLimit{RPS: 1, Burst: 5, Concurrency: 8, Cooldown: time.Second}
	if got := d.HostLimitFor("api.openalex.org"); got != (HostLimit{Host: "api.openalex.org", RPS: 10, Burst: 5, Concurrency: 8, Cooldown: time.Second}) {
		t.Errorf("built-in with custom default = %+v", got)
	}
}
