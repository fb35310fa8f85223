package providers

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestTable checks the table's own consistency: roots are absolute https URLs without a
// trailing slash, config keys are unique, every provider is also a resolver name, and
// the default order and the optional resolvers partition the names.
func TestTable(t *testing.T) {
	keys := map[string]bool{}
	for _, a := range APIs() {
		u, err := url.Parse(a.BaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(a.BaseURL, "/") {
			t.Errorf("%s: base URL %q is not an absolute https root without a trailing slash", a.Provider, a.BaseURL)
		}
		if a.Key != "" {
			if keys[a.Key] {
				t.Errorf("config key %s appears twice", a.Key)
			}
			keys[a.Key] = true
		}
		if !slices.Contains(ResolverNames(), a.Provider) {
			t.Errorf("provider %q is not a resolver name", a.Provider)
		}
		if a.Provider == Web {
			t.Errorf("%s: %q is the label of hosts outside the table", a.BaseURL, Web)
		}
	}
	all := ResolverNames()
	if len(all) != len(Resolvers()) || len(DefaultOrder()) == 0 || len(Optional()) == 0 {
		t.Fatalf("default %v + optional %v do not cover %v", DefaultOrder(), Optional(), Resolvers())
	}
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n] {
			t.Errorf("resolver %q listed twice", n)
		}
		seen[n] = true
	}
}
