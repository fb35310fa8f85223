package sim

import "strings"

// Info describes a running simulator: where everything listens and how to point
// contentdl at it.
type Info struct {
	Scenario     string       `json:"scenario" yaml:"scenario"`
	Works        int          `json:"works" yaml:"works"`
	OpenAlexURL  string       `json:"openalex_url" yaml:"openalex_url"`
	UnpaywallURL string       `json:"unpaywall_url" yaml:"unpaywall_url"`
	StatsURL     string       `json:"stats_url" yaml:"stats_url"`
	ResetURL     string       `json:"reset_url" yaml:"reset_url"`
	Hosts        []HostInfo   `json:"hosts" yaml:"hosts"`
	Config       ClientConfig `json:"contentdl_config" yaml:"contentdl_config"`
}

// HostInfo is one publisher host.
type HostInfo struct {
	Name string `json:"name" yaml:"name"`
	URL  string `json:"url" yaml:"url"`
	// Addr is host:port, the key of contentdl's per-host limits.
	Addr string `json:"addr" yaml:"addr"`
}

// ClientConfig is a contentdl configuration fragment that points contentdl at the
// simulator: the API base URLs and the per-host limits the scenario says a user
// would configure.
type ClientConfig struct {
	OpenAlex   BaseURL    `json:"openalex" yaml:"openalex"`
	Unpaywall  BaseURL    `json:"unpaywall" yaml:"unpaywall"`
	RateLimits RateLimits `json:"rate_limits" yaml:"rate_limits"`
}

// BaseURL is a service's base_url setting.
type BaseURL struct {
	BaseURL string `json:"base_url" yaml:"base_url"`
}

// RateLimits holds per-host limits.
type RateLimits struct {
	Hosts []HostLimit `json:"hosts,omitempty" yaml:"hosts,omitempty"`
}

// HostLimit is one rate_limits.hosts entry.
type HostLimit struct {
	Host  string  `json:"host" yaml:"host"`
	RPS   float64 `json:"rps" yaml:"rps"`
	Burst int     `json:"burst,omitempty" yaml:"burst,omitempty"`
}

// Info returns the simulator's addresses and the matching contentdl configuration.
// Hosts (the APIs included) whose scenario entry has a configured rps get a
// rate_limits entry.
func (s *Sim) Info() Info {
	info := Info{
		Scenario:     s.sc.Name,
		Works:        len(s.cat.works),
		OpenAlexURL:  s.OpenAlexURL(),
		UnpaywallURL: s.UnpaywallURL(),
		StatsURL:     s.StatsURL(),
		ResetURL:     s.ResetURL(),
		Config: ClientConfig{
			OpenAlex:  BaseURL{BaseURL: s.OpenAlexURL()},
			Unpaywall: BaseURL{BaseURL: s.UnpaywallURL()},
		},
	}
	for _, e := range s.all {
		addr := strings.TrimPrefix(e.url, "http://")
		if e.role == RolePublisher {
			info.Hosts = append(info.Hosts, HostInfo{Name: e.name, URL: e.url, Addr: addr})
		}
		if c := e.spec.Configured; c.RPS > 0 {
			info.Config.RateLimits.Hosts = append(info.Config.RateLimits.Hosts, HostLimit{Host: addr, RPS: c.RPS, Burst: c.Burst})
		}
	}
	return info
}
