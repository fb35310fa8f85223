// Package config builds contentdl's typed, validated configuration.
//
// Values come from four layers, lowest precedence first: built-in defaults
// (Defaults), a YAML file (--config FILE or DOCSTOKG_CONFIG), DOCSTOKG_* environment
// variables (the key path upper-cased with "." replaced by "_", for example
// DOCSTOKG_OPENALEX_BASE_URL), and command-line flags that the user actually set.
// Load merges them through a fresh viper instance per call (never viper's global),
// decodes every key into Config, and validates the result. Every error is an *Error
// that names the key and the layer the offending value came from, and matches
// ErrUsage.
//
// Only this package and internal/cli import viper, cobra or pflag; everything below
// the CLI receives a *Config or the values it needs from one.
package config

import (
	"net/netip"
	"time"

	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/shard"
)

// Config is the effective configuration of one invocation. The mapstructure and yaml
// tags carry the snake_case key names used in the file, in DOCSTOKG_* variables and
// in error messages. After Load, base URLs carry no trailing slash, host names and
// resolver names are lower case, and ProviderLearningPath is resolved to a concrete
// path when one can be derived.
type Config struct {
	// Mailto is the contact e-mail: Unpaywall's required email, Crossref's mailto and
	// the User-Agent ("" = none).
	Mailto string `mapstructure:"mailto" yaml:"mailto"`
	// Workers is the number of works processed concurrently.
	Workers int `mapstructure:"workers" yaml:"workers"`
	// MaxWorks stops discovery after this many works; 0 means no limit.
	MaxWorks int `mapstructure:"max_works" yaml:"max_works"`
	// Out is the output directory (files, manifest and summary).
	Out string `mapstructure:"out" yaml:"out"`
	// EnableContextualRetry switches from the legacy retry policy to the contextual one.
	EnableContextualRetry bool `mapstructure:"enable_contextual_retry" yaml:"enable_contextual_retry"`
	// EnableProviderLearning turns on per-host rate-limit learning and its state file.
	EnableProviderLearning bool `mapstructure:"enable_provider_learning" yaml:"enable_provider_learning"`
	// ProviderLearningPath is the learning state file. Empty in Defaults; Load fills it
	// with $XDG_STATE_HOME/contentdl/provider-learning.json, falling back to
	// $HOME/.local/state/contentdl/provider-learning.json.
	ProviderLearningPath string `mapstructure:"provider_learning_path" yaml:"provider_learning_path"`
	// NoUpgrade keeps works saved as XML or HTML as they are; by default a later run
	// looks for their PDF again.
	NoUpgrade bool `mapstructure:"no_upgrade" yaml:"no_upgrade"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `mapstructure:"log_level" yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `mapstructure:"log_format" yaml:"log_format"`

	// OpenAlex configures discovery.
	OpenAlex OpenAlex `mapstructure:"openalex" yaml:"openalex"`
	// Unpaywall configures the unpaywall resolver.
	Unpaywall Endpoint `mapstructure:"unpaywall" yaml:"unpaywall"`
	// Crossref configures the crossref resolver.
	Crossref Endpoint `mapstructure:"crossref" yaml:"crossref"`
	// Arxiv configures the arxiv resolver.
	Arxiv Endpoint `mapstructure:"arxiv" yaml:"arxiv"`
	// EuropePMC configures the europe_pmc resolver.
	EuropePMC Endpoint `mapstructure:"europe_pmc" yaml:"europe_pmc"`
	// SemanticScholar configures the semantic_scholar resolver.
	SemanticScholar SemanticScholar `mapstructure:"semantic_scholar" yaml:"semantic_scholar"`

	// Resolvers sets the resolver chain.
	Resolvers ResolverChain `mapstructure:"resolvers" yaml:"resolvers"`
	// RateLimits holds the per-host politeness limits.
	RateLimits RateLimits `mapstructure:"rate_limits" yaml:"rate_limits"`
	// Retry holds the retry and defer settings shared by both retry policies.
	Retry Retry `mapstructure:"retry" yaml:"retry"`
	// Download holds the limits applied to each fetched body.
	Download Download `mapstructure:"download" yaml:"download"`
	// Network says which addresses contentdl may connect to.
	Network Network `mapstructure:"network" yaml:"network"`
	// Learning tunes provider rate-limit learning.
	Learning Learning `mapstructure:"learning" yaml:"learning"`
	// Fleet splits the work between several processes (docs/fleet.md).
	Fleet Fleet `mapstructure:"fleet" yaml:"fleet"`

	// origin maps each key to the layer that set it ("default", "file /x.yaml",
	// "env DOCSTOKG_WORKERS", "flag --workers"). Nil for a Config not built by Load.
	origin map[string]string
}

// OpenAlex is the openalex section.
type OpenAlex struct {
	// BaseURL is the API root, e.g. https://api.openalex.org.
	BaseURL string `mapstructure:"base_url" yaml:"base_url"`
	// APIKey is sent as api_key; it is a secret and masked by WriteYAML.
	APIKey string `mapstructure:"api_key" yaml:"api_key"`
	// PerPage is the page size of /works listings (1–200).
	PerPage int `mapstructure:"per_page" yaml:"per_page"`
	// MaxCostUSD stops discovery and paid downloads before the run's OpenAlex cost
	// would pass it; 0 means no limit.
	MaxCostUSD float64 `mapstructure:"max_cost_usd" yaml:"max_cost_usd"`
	// ContentBaseURL is the root of the paid PDF service used by openalex_content.
	ContentBaseURL string `mapstructure:"content_base_url" yaml:"content_base_url"`
}

// Endpoint is a section that only sets an API root.
type Endpoint struct {
	// BaseURL is the API root.
	BaseURL string `mapstructure:"base_url" yaml:"base_url"`
}

// SemanticScholar is the semantic_scholar section.
type SemanticScholar struct {
	// BaseURL is the API root.
	BaseURL string `mapstructure:"base_url" yaml:"base_url"`
	// APIKey is sent as x-api-key; it is a secret and masked by WriteYAML.
	APIKey string `mapstructure:"api_key" yaml:"api_key"`
}

// ResolverChain is the resolvers section.
type ResolverChain struct {
	// Order lists the resolvers to run for each work, first to last.
	Order []string `mapstructure:"order" yaml:"order"`
}

// RateLimits is the rate_limits section.
type RateLimits struct {
	// Default applies to every host without a more specific limit (its Host is unused).
	Default HostLimit `mapstructure:"default" yaml:"default"`
	// Hosts lists per-host overrides. It is a list, not a map, because viper splits
	// map keys on dots. It can only be set in the config file.
	Hosts []HostLimit `mapstructure:"hosts" yaml:"hosts"`
}

// HostLimit is the politeness limit of one host. In rate_limits.hosts entries a zero
// Burst, Concurrency or Cooldown means "use rate_limits.default's value".
type HostLimit struct {
	// Host is host or host:port, lower case.
	Host string `mapstructure:"host" yaml:"host,omitempty"`
	// RPS is the sustained request rate per second (may be fractional: 0.3333 is one
	// request per 3 s).
	RPS float64 `mapstructure:"rps" yaml:"rps"`
	// Burst is the token bucket size.
	Burst int `mapstructure:"burst" yaml:"burst,omitempty"`
	// Concurrency caps the requests in flight to the host.
	Concurrency int `mapstructure:"concurrency" yaml:"concurrency,omitempty"`
	// Cooldown closes the host after a 429 without Retry-After (doubling while 429s
	// continue).
	Cooldown time.Duration `mapstructure:"cooldown" yaml:"cooldown,omitempty"`
}

// Retry is the retry section.
type Retry struct {
	// MaxAttempts caps the attempts per request under the legacy policy.
	MaxAttempts int `mapstructure:"max_attempts" yaml:"max_attempts"`
	// BaseDelay is the first backoff step (exponential, full jitter).
	BaseDelay time.Duration `mapstructure:"base_delay" yaml:"base_delay"`
	// MaxDelay caps one backoff step.
	MaxDelay time.Duration `mapstructure:"max_delay" yaml:"max_delay"`
	// MaxWait caps an honoured Retry-After; beyond it the work is deferred.
	MaxWait time.Duration `mapstructure:"max_wait" yaml:"max_wait"`
	// DeferRounds is how many times the deferred queue is retried after the main queue.
	DeferRounds int `mapstructure:"defer_rounds" yaml:"defer_rounds"`
	// Operations holds the contextual policy's per-operation limits, keyed by
	// policy.OperationType.String() (download, validate, resolve, extract,
	// manifest_fetch). After Load every operation has an entry.
	Operations map[string]OpRule `mapstructure:"operations" yaml:"operations"`
}

// OpRule is one operation's attempt and time budget under the contextual policy.
type OpRule struct {
	// MaxAttempts caps the attempts of one request of this operation.
	MaxAttempts int `mapstructure:"max_attempts" yaml:"max_attempts"`
	// Deadline caps the total time spent on one request including waits; 0 = none.
	Deadline time.Duration `mapstructure:"deadline" yaml:"deadline"`
}

// Op returns the rule for op, falling back to the built-in default when the map has
// no entry for it (only possible for a Config not built by Load or Defaults).
func (r Retry) Op(op policy.OperationType) OpRule {
	if rule, ok := r.Operations[op.String()]; ok {
		return rule
	}
	return defaultOperations()[op.String()]
}

// Download is the download section.
type Download struct {
	// Timeout is the per-request header and idle-read timeout.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
	// MaxBytes aborts a body larger than this.
	MaxBytes int64 `mapstructure:"max_bytes" yaml:"max_bytes"`
	// MinPDFBytes rejects a PDF smaller than this.
	MinPDFBytes int64 `mapstructure:"min_pdf_bytes" yaml:"min_pdf_bytes"`
	// MinSpeed (bytes/s) and MinSpeedWindow: a body that averages less than MinSpeed
	// over a MinSpeedWindow is aborted as too_slow and retried, like curl's
	// --speed-limit and --speed-time. MinSpeed 0 turns the check off.
	MinSpeed       int64         `mapstructure:"min_speed" yaml:"min_speed"`
	MinSpeedWindow time.Duration `mapstructure:"min_speed_window" yaml:"min_speed_window"`
}

// Network is the network section: the address guard checked on every connection
// (internal/netguard).
type Network struct {
	// Deny lists CIDRs (or single addresses) that no connection may reach. The
	// default is the link-local and cloud-metadata set (netguard.DefaultDeny); an
	// empty list turns the guard off.
	Deny []string `mapstructure:"deny" yaml:"deny"`
	// Allow lists CIDRs that may be reached even when Deny matches them.
	Allow []string `mapstructure:"allow" yaml:"allow"`
}

// DenyPrefixes returns Deny parsed. Call it on a validated Config only.
func (n Network) DenyPrefixes() []netip.Prefix { return netguard.MustParsePrefixes(n.Deny) }

// AllowPrefixes returns Allow parsed. Call it on a validated Config only.
func (n Network) AllowPrefixes() []netip.Prefix { return netguard.MustParsePrefixes(n.Allow) }

// Learning is the learning section (used when EnableProviderLearning is set).
type Learning struct {
	// MaxReductionPct caps the total reduction of a host's rate (0 < x ≤ 95).
	MaxReductionPct float64 `mapstructure:"max_reduction_pct" yaml:"max_reduction_pct"`
	// MinRPS is the floor of a learned rate.
	MinRPS float64 `mapstructure:"min_rps" yaml:"min_rps"`
	// Tiers maps an episode's consecutive-429 count to its reduction step; an episode
	// counts once, at the highest tier it reaches.
	Tiers []Tier `mapstructure:"tiers" yaml:"tiers"`
	// Window is the span of the windowed 429-share trigger.
	Window time.Duration `mapstructure:"window" yaml:"window"`
	// WindowMinRequests is the fewest requests in a window before its share counts.
	WindowMinRequests int `mapstructure:"window_min_requests" yaml:"window_min_requests"`
	// Window429Share is the 429 share of a window above which the rate is reduced.
	Window429Share float64 `mapstructure:"window_429_share" yaml:"window_429_share"`
	// Beta is the multiplicative decrease applied by the windowed trigger (0 < β < 1).
	Beta float64 `mapstructure:"beta" yaml:"beta"`
	// RecoveryInterval is the clean interval (no 429) after which a reduction shrinks.
	RecoveryInterval time.Duration `mapstructure:"recovery_interval" yaml:"recovery_interval"`
	// RecoveryStepPct is how many points the reduction shrinks per clean interval.
	RecoveryStepPct float64 `mapstructure:"recovery_step_pct" yaml:"recovery_step_pct"`
	// ForgetAfter is how long until a persisted reduction has fully relaxed.
	ForgetAfter time.Duration `mapstructure:"forget_after" yaml:"forget_after"`
	// SaveEvery is the minimum interval between saves of the state file during a run.
	SaveEvery time.Duration `mapstructure:"save_every" yaml:"save_every"`
}

// Fleet is the fleet section.
type Fleet struct {
	// Shard is "I/N": this run does only the works of shard I of N (1-based), chosen
	// by a stable hash of the OpenAlex W-id (internal/shard); "" does every work.
	Shard string `mapstructure:"shard" yaml:"shard"`
	// RedisURL turns on the shared limiter: each host's request budget, windows,
	// concurrency cap and learned rate are shared through this Redis by every process
	// with the same Name (redis://[user:password@]host:port/db; "" = off).
	RedisURL string `mapstructure:"redis_url" yaml:"redis_url"`
	// Name is the fleet's name, the prefix of its Redis keys: processes that share a
	// budget use the same name.
	Name string `mapstructure:"name" yaml:"name"`
}

// ShardSpec returns Shard parsed. Call it on a validated Config only.
func (f Fleet) ShardSpec() shard.Shard {
	s, err := shard.Parse(f.Shard)
	if err != nil {
		panic("config: ShardSpec on an unvalidated fleet.shard: " + err.Error())
	}
	return s
}

// Tier is one step of the 429-episode reduction schedule.
type Tier struct {
	// Threshold is the consecutive-429 count at which the tier applies.
	Threshold int `mapstructure:"threshold" yaml:"threshold"`
	// StepPct is the reduction, in percentage points, for an episode at this tier.
	StepPct float64 `mapstructure:"step_pct" yaml:"step_pct"`
}

// MiB is 1<<20 bytes.
const MiB = 1 << 20

// defaultOperations returns the contextual policy's per-operation defaults.
func defaultOperations() map[string]OpRule {
	d := policy.DefaultConfig()
	m := make(map[string]OpRule, len(d.Ops))
	for _, op := range policy.Operations() {
		m[op.String()] = OpRule{MaxAttempts: d.Ops[op].MaxAttempts, Deadline: d.Ops[op].Deadline}
	}
	return m
}

// Defaults returns the built-in configuration. ProviderLearningPath is empty here;
// Load derives it from XDG_STATE_HOME or HOME.
func Defaults() Config {
	return Config{
		Workers:   8,
		MaxWorks:  0,
		Out:       "runs/contentdl",
		LogLevel:  "info",
		LogFormat: "text",
		OpenAlex: OpenAlex{
			BaseURL:        providers.OpenAlexBase,
			PerPage:        100,
			ContentBaseURL: providers.OpenAlexContentBase,
		},
		Unpaywall:       Endpoint{BaseURL: providers.UnpaywallBase},
		Crossref:        Endpoint{BaseURL: providers.CrossrefBase},
		Arxiv:           Endpoint{BaseURL: providers.ArxivBase},
		EuropePMC:       Endpoint{BaseURL: providers.EuropePMCBase},
		SemanticScholar: SemanticScholar{BaseURL: providers.SemanticScholarBase},
		Resolvers:       ResolverChain{Order: providers.DefaultOrder()},
		RateLimits: RateLimits{
			Default: HostLimit{RPS: 5, Burst: 2, Concurrency: 4, Cooldown: 2 * time.Second},
			Hosts:   []HostLimit{},
		},
		Retry: Retry{
			MaxAttempts: policy.DefaultMaxAttempts,
			BaseDelay:   policy.DefaultBaseDelay,
			MaxDelay:    policy.DefaultMaxDelay,
			MaxWait:     policy.DefaultMaxWait,
			DeferRounds: 2,
			Operations:  defaultOperations(),
		},
		Download: Download{
			Timeout:        60 * time.Second,
			MaxBytes:       200 * MiB,
			MinPDFBytes:    1024,
			MinSpeed:       1024,
			MinSpeedWindow: 30 * time.Second,
		},
		Network: Network{
			Deny:  netguard.DefaultDeny(),
			Allow: []string{},
		},
		Learning: defaultLearning(),
		Fleet:    Fleet{Name: "default"},
	}
}

// defaultLearning takes the learning section's defaults from the learner itself, so
// there is one source of truth for them.
func defaultLearning() Learning {
	d := learning.DefaultConfig()
	tiers := make([]Tier, len(d.Tiers))
	for i, t := range d.Tiers {
		tiers[i] = Tier{Threshold: t.Threshold, StepPct: t.StepPct}
	}
	return Learning{
		MaxReductionPct: d.MaxReductionPct, MinRPS: d.MinRPS, Tiers: tiers,
		Window: d.Window, WindowMinRequests: d.WindowMinRequests, Window429Share: d.Window429Share, Beta: d.Beta,
		RecoveryInterval: d.RecoveryInterval, RecoveryStepPct: d.RecoveryStepPct,
		ForgetAfter: d.ForgetAfter, SaveEvery: d.SaveEvery,
	}
}

// Source reports which layer set key ("default", "file /x.yaml",
// "env DOCSTOKG_WORKERS" or "flag --workers"). It returns "" for a Config not built
// by Load or for an unknown key.
func (c *Config) Source(key string) string {
	return c.origin[key]
}
