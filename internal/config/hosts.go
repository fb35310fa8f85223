package config

import (
	"net"
	"net/url"
	"strings"

	"github.com/docstokg/contentdl/internal/providers"
)

// KnownHostLimits returns the built-in limits of the providers' API hosts
// (providers.APIs, from their published rate limits). A rate_limits.hosts entry for
// the same host replaces them. Zero fields are filled from rate_limits.default.
func KnownHostLimits() []HostLimit {
	var out []HostLimit
	for _, a := range providers.APIs() {
		if a.Limit.IsZero() {
			continue
		}
		out = append(out, HostLimit{Host: hostOf(a.BaseURL), RPS: a.Limit.RPS, Burst: a.Limit.Burst, Concurrency: a.Limit.Concurrency})
	}
	return out
}

// hostOf returns the host[:port] of a base URL, or "" when it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// ProviderOf returns the function that labels a host with its provider: the host of a
// configured API root (openalex.base_url, unpaywall.base_url, … — the keyed rows of
// providers.APIs, in their order, the first root of a host winning) gets that API's
// provider, and every other host is providers.Web. The learning tracker keys hosts
// "provider@host" with it.
func (c *Config) ProviderOf() func(host string) string {
	m := map[string]string{}
	for _, a := range providers.APIs() {
		if a.Key == "" {
			continue
		}
		raw, ok := c.stringKey(a.Key)
		if !ok {
			continue
		}
		if h := hostOf(raw); h != "" {
			if _, dup := m[h]; !dup {
				m[h] = a.Provider
			}
		}
	}
	return func(host string) string {
		if p, ok := m[host]; ok {
			return p
		}
		return providers.Web
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
