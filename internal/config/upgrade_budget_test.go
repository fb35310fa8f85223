package config

import (
	"testing"

	"github.com/docstokg/contentdl/internal/providers"
)

// no_upgrade, openalex.max_cost_usd and the optional openalex_content resolver come
// from every layer like the other keys.
func TestNoUpgradeBudgetAndOptionalResolver(t *testing.T) {
	file := writeFile(t, "c.yaml", "no_upgrade: true\nopenalex:\n  max_cost_usd: 2.5\nresolvers:\n  order: [openalex, openalex_content]\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NoUpgrade || cfg.OpenAlex.MaxCostUSD != 2.5 || len(cfg.Resolvers.Order) != 2 || cfg.Resolvers.Order[1] != providers.OpenAlexContent {
		t.Fatalf("from file: %+v %+v %v", cfg.NoUpgrade, cfg.OpenAlex, cfg.Resolvers.Order)
	}
	cfg, err = Load(LoadOptions{File: file, Getenv: envMap(map[string]string{"DOCSTOKG_NO_UPGRADE": "false", "DOCSTOKG_OPENALEX_MAX_COST_USD": "0.75"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NoUpgrade || cfg.OpenAlex.MaxCostUSD != 0.75 || cfg.Source("openalex.max_cost_usd") != "env DOCSTOKG_OPENALEX_MAX_COST_USD" {
		t.Fatalf("env over file: %v %v %q", cfg.NoUpgrade, cfg.OpenAlex.MaxCostUSD, cfg.Source("openalex.max_cost_usd"))
	}
	d := Defaults()
	if d.NoUpgrade || d.OpenAlex.MaxCostUSD != 0 || d.OpenAlex.ContentBaseURL != "https://content.openalex.org" {
		t.Fatalf("defaults %+v", d.OpenAlex)
	}
	for _, r := range d.Resolvers.Order {
		if r == providers.OpenAlexContent {
			t.Fatal("the paid resolver is in the default order")
		}
	}
}
