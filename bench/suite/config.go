package suite

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/sim"
)

// hostLimit is one rate_limits.hosts entry of a generated contentdl config.
type hostLimit struct {
	Host        string  `yaml:"host"`
	RPS         float64 `yaml:"rps"`
	Burst       int     `yaml:"burst,omitempty"`
	Concurrency int     `yaml:"concurrency,omitempty"`
}

// clientConfig is the contentdl config file the suite writes for one run: the
// simulator's URLs, the per-host limits under test, and a resolver chain that never
// leaves loopback (the chain's other resolvers point at the real internet).
type clientConfig struct {
	OpenAlex struct {
		BaseURL string `yaml:"base_url"`
		PerPage int    `yaml:"per_page,omitempty"`
	} `yaml:"openalex"`
	Unpaywall struct {
		BaseURL string `yaml:"base_url"`
	} `yaml:"unpaywall"`
	Resolvers struct {
		Order []string `yaml:"order"`
	} `yaml:"resolvers"`
	RateLimits struct {
		Hosts []hostLimit `yaml:"hosts"`
	} `yaml:"rate_limits"`
	Learning struct {
		SaveEvery string `yaml:"save_every,omitempty"`
	} `yaml:"learning,omitempty"`
}

// newClientConfig points contentdl at s with the limits the scenario configures.
func newClientConfig(s *sim.Sim) clientConfig {
	info := s.Info()
	var c clientConfig
	c.OpenAlex.BaseURL = info.OpenAlexURL
	c.Unpaywall.BaseURL = info.UnpaywallURL
	c.Resolvers.Order = []string{providers.OpenAlex, providers.Unpaywall, providers.LandingPage}
	for _, h := range info.Config.RateLimits.Hosts {
		c.RateLimits.Hosts = append(c.RateLimits.Hosts, hostLimit{Host: h.Host, RPS: h.RPS, Burst: h.Burst})
	}
	return c
}

// setHost replaces or adds the limit of host.
func (c *clientConfig) setHost(l hostLimit) {
	for i := range c.RateLimits.Hosts {
		if c.RateLimits.Hosts[i].Host == l.Host {
			c.RateLimits.Hosts[i] = l
			return
		}
	}
	c.RateLimits.Hosts = append(c.RateLimits.Hosts, l)
}

func (c clientConfig) write(path string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("render contentdl config: %w", err)
	}
	return os.WriteFile(path, data, 0o644)
}
