package config

import (
	"net"
	"strings"
)

// KnownHostLimits returns the built-in limits of the providers' API hosts, taken from
// their published rate limits (see shared/PROVIDERS.md). A rate_limits.hosts entry for
// the same host replaces them. Zero fields are filled from rate_limits.default.
func KnownHostLimits() []HostLimit {
	return []HostLimit{
		{Host: "api.openalex.org", RPS: 10},
		{Host: "api.unpaywall.org", RPS: 10},
		// Crossref's polite pool: 10 rps for single records, at most 3 concurrent.
		{Host: "api.crossref.org", RPS: 10, Concurrency: 3},
		// arXiv: one request every 3 s over a single connection.
		{Host: "export.arxiv.org", RPS: 1.0 / 3, Burst: 1, Concurrency: 1},
		{Host: "api.semanticscholar.org", RPS: 1, Burst: 1},
	}
}

// HostLimitFor returns the limit for host ("example.org" or "example.org:8443",
// matched case-insensitively). It picks the first match of: a rate_limits.hosts entry
// for the exact host[:port]; an entry for the host without its port; a built-in
// known-host limit (KnownHostLimits); rate_limits.default. Zero Burst, Concurrency and
// Cooldown are filled from rate_limits.default, and Host is set to the host asked
// for.
func (c *Config) HostLimitFor(host string) HostLimit {
	host = strings.ToLower(strings.TrimSpace(host))
	name := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}

	lim, ok := find(c.RateLimits.Hosts, host)
	if !ok && name != host {
		lim, ok = findName(c.RateLimits.Hosts, name)
	}
	if !ok {
		lim, ok = findName(KnownHostLimits(), name)
	}
	d := c.RateLimits.Default
	if !ok {
		lim = d
	}
	lim.Host = host
	if lim.RPS <= 0 {
		lim.RPS = d.RPS
	}
	if lim.Burst <= 0 {
		lim.Burst = d.Burst
	}
	if lim.Concurrency <= 0 {
		lim.Concurrency = d.Concurrency
	}
	if lim.Cooldown <= 0 {
		lim.Cooldown = d.Cooldown
	}
	return lim
}

// find returns the entry whose Host equals host exactly (case-insensitively).
func find(list []HostLimit, host string) (HostLimit, bool) {
	for _, l := range list {
		if strings.EqualFold(l.Host, host) {
			return l, true
		}
	}
	return HostLimit{}, false
}

// findName returns the port-less entry for the bare host name.
func findName(list []HostLimit, name string) (HostLimit, bool) {
	for _, l := range list {
		h := strings.TrimSuffix(strings.TrimPrefix(l.Host, "["), "]")
		if strings.EqualFold(h, name) {
			return l, true
		}
	}
	return HostLimit{}, false
}
