package config

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/providers"
)

// TestProviderTable walks internal/providers against this package, so that a provider
// cannot be half-added: every base-URL key of Config has a row in providers.APIs and
// every keyed row names a key of Config whose default is the row's root; every
// built-in host limit reaches HostLimitFor; the default resolver order is the table's,
// and every resolver the table names is accepted by resolvers.order.
func TestProviderTable(t *testing.T) {
	d := Defaults()
	rows := map[string]providers.API{}
	for _, a := range providers.APIs() {
		if a.Key != "" {
			rows[a.Key] = a
		}
	}
	for _, l := range leaves() {
		if strings.HasSuffix(l.key, "base_url") {
			if _, ok := rows[l.key]; !ok {
				t.Errorf("config key %s has no row in providers.APIs", l.key)
			}
		}
	}
	for key, a := range rows {
		got, ok := d.stringKey(key)
		if !ok {
			t.Errorf("providers.APIs row %s names %s, which is not a string key of Config", a.Provider, key)
			continue
		}
		if got != a.BaseURL {
			t.Errorf("Defaults() %s = %q, providers.APIs says %q", key, got, a.BaseURL)
		}
	}

	def := d.RateLimits.Default
	for _, a := range providers.APIs() {
		u, _ := url.Parse(a.BaseURL)
		got := d.HostLimitFor(u.Host)
		want := HostLimit{Host: u.Host, RPS: def.RPS, Burst: def.Burst, Concurrency: def.Concurrency, Cooldown: def.Cooldown}
		if a.Limit.RPS > 0 {
			want.RPS = a.Limit.RPS
		}
		if a.Limit.Burst > 0 {
			want.Burst = a.Limit.Burst
		}
		if a.Limit.Concurrency > 0 {
			want.Concurrency = a.Limit.Concurrency
		}
		if got != want {
			t.Errorf("HostLimitFor(%s) = %+v, want %+v from providers.APIs", u.Host, got, want)
		}
	}

	if !slices.Equal(d.Resolvers.Order, providers.DefaultOrder()) {
		t.Errorf("default resolvers.order %v, providers.DefaultOrder %v", d.Resolvers.Order, providers.DefaultOrder())
	}
	for _, name := range providers.ResolverNames() {
		env := map[string]string{"DOCSTOKG_RESOLVERS_ORDER": name}
		if _, err := Load(LoadOptions{Getenv: func(k string) string { return env[k] }}); err != nil {
			t.Errorf("resolvers.order %s: %v", name, err)
		}
	}
}

// TestProviderOf: the configured API roots are labelled with their providers, the
// first root of a shared host wins, and every other host is "web".
func TestProviderOf(t *testing.T) {
	d := Defaults()
	of := d.ProviderOf()
	for _, a := range providers.APIs() {
		u, _ := url.Parse(a.BaseURL)
		want := a.Provider
		if a.Key == "" {
			want = providers.Web
		}
		if got := of(u.Host); got != want {
			t.Errorf("ProviderOf(%s) = %q, want %q", u.Host, got, want)
		}
	}
	if got := of("publisher.example"); got != providers.Web {
		t.Errorf("ProviderOf(publisher.example) = %q, want %q", got, providers.Web)
	}

	// A configured root moves the label with it; two roots on one host: first wins.
	d.Unpaywall.BaseURL = "http://127.0.0.1:9000"
	d.Crossref.BaseURL = "http://127.0.0.1:9000/crossref"
	of = d.ProviderOf()
	if got := of("127.0.0.1:9000"); got != providers.Unpaywall {
		t.Errorf("ProviderOf(127.0.0.1:9000) = %q, want %q", got, providers.Unpaywall)
	}
	if got := of("api.unpaywall.org"); got != providers.Web {
		t.Errorf("ProviderOf(api.unpaywall.org) after moving unpaywall = %q, want %q", got, providers.Web)
	}
}
