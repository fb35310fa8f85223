package config

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/shard"
)

// Limits enforced by Validate.
const (
	MaxWorkers         = 1024
	MaxPerPage         = 200
	MaxReductionPctCap = 95
)

// checker records the first failed check; later checks are skipped so that the
// reported error is the first one in key order.
type checker struct {
	c   *Config
	err *Error
}

// fail records a problem with key. originKey is the leaf whose source is reported
// (it differs from key for list entries, e.g. rate_limits.hosts[1].rps).
func (k *checker) fail(key, originKey, value, msg string) {
	if k.err == nil {
		k.err = &Error{Key: key, Source: k.c.origin[originKey], Value: value, Msg: msg}
	}
}

func (k *checker) intMin(key string, v, lo int) {
	if v < lo {
		k.fail(key, key, strconv.Itoa(v), fmt.Sprintf("must be at least %d", lo))
	}
}

func (k *checker) intRange(key string, v, lo, hi int) {
	k.intMin(key, v, lo)
	if v > hi {
		k.fail(key, key, strconv.Itoa(v), fmt.Sprintf("must be at most %d", hi))
	}
}

func (k *checker) positive64(key string, v int64) {
	if v <= 0 {
		k.fail(key, key, strconv.FormatInt(v, 10), "must be greater than 0")
	}
}

func (k *checker) positiveF(key, originKey string, v float64) {
	if !(v > 0) {
		k.fail(key, originKey, formatFloat(v), "must be greater than 0")
	}
}

// pct checks 0 < v ≤ hi.
func (k *checker) pct(key string, v, hi float64) {
	if !(v > 0) || v > hi {
		k.fail(key, key, formatFloat(v), fmt.Sprintf("must be greater than 0 and at most %s", formatFloat(hi)))
	}
}

// fraction checks 0 < v < 1, or 0 < v ≤ 1 when closed.
func (k *checker) fraction(key string, v float64, closed bool) {
	if v > 0 && (v < 1 || closed && v == 1) {
		return
	}
	bound := "less than 1"
	if closed {
		bound = "at most 1"
	}
	k.fail(key, key, formatFloat(v), "must be greater than 0 and "+bound)
}

func (k *checker) posDur(key, originKey string, d time.Duration) {
	if d <= 0 {
		k.fail(key, originKey, formatDuration(d), "must be greater than 0")
	}
}

func (k *checker) nonNegDur(key, originKey string, d time.Duration) {
	if d < 0 {
		k.fail(key, originKey, formatDuration(d), "must not be negative")
	}
}

func (k *checker) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		k.fail(key, key, v, "must be one of "+strings.Join(allowed, ", "))
	}
}

func (k *checker) baseURL(key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		k.fail(key, key, v, "must be an absolute http(s) URL")
	}
}

// Validate checks every value and returns the first problem, in key order, as an
// *Error naming the key and the layer that set it. Load calls it; call it again after
// changing a Config in code.
func (c *Config) Validate() error {
	k := &checker{c: c}

	if c.Mailto != "" && !looksLikeEmail(c.Mailto) {
		k.fail("mailto", "mailto", c.Mailto, "must be an e-mail address such as you@example.org")
	}
	k.intRange("workers", c.Workers, 1, MaxWorkers)
	k.intMin("max_works", c.MaxWorks, 0)
	if c.Out == "" {
		k.fail("out", "out", "", "must not be empty")
	}
	if c.EnableProviderLearning && c.ProviderLearningPath == "" {
		k.fail("provider_learning_path", "provider_learning_path", "",
			"must be set: neither XDG_STATE_HOME nor HOME is available to derive the default")
	}
	k.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	k.oneOf("log_format", c.LogFormat, "text", "json")

	k.baseURL("openalex.base_url", c.OpenAlex.BaseURL)
	k.intRange("openalex.per_page", c.OpenAlex.PerPage, 1, MaxPerPage)
	if c.OpenAlex.MaxCostUSD < 0 || math.IsNaN(c.OpenAlex.MaxCostUSD) || math.IsInf(c.OpenAlex.MaxCostUSD, 0) {
		k.fail("openalex.max_cost_usd", "openalex.max_cost_usd", strconv.FormatFloat(c.OpenAlex.MaxCostUSD, 'g', -1, 64),
			"must be 0 (no limit) or a positive amount of US dollars")
	}
	k.baseURL("openalex.content_base_url", c.OpenAlex.ContentBaseURL)
	k.baseURL("unpaywall.base_url", c.Unpaywall.BaseURL)
	k.baseURL("crossref.base_url", c.Crossref.BaseURL)
	k.baseURL("arxiv.base_url", c.Arxiv.BaseURL)
	k.baseURL("europe_pmc.base_url", c.EuropePMC.BaseURL)
	k.baseURL("semantic_scholar.base_url", c.SemanticScholar.BaseURL)

	c.validateResolvers(k)
	c.validateRateLimits(k)
	c.validateRetry(k)

	k.posDur("download.timeout", "download.timeout", c.Download.Timeout)
	k.positive64("download.max_bytes", c.Download.MaxBytes)
	k.positive64("download.min_pdf_bytes", c.Download.MinPDFBytes)
	if c.Download.MinPDFBytes > c.Download.MaxBytes {
		k.fail("download.min_pdf_bytes", "download.min_pdf_bytes", strconv.FormatInt(c.Download.MinPDFBytes, 10),
			fmt.Sprintf("must not exceed download.max_bytes (%d)", c.Download.MaxBytes))
	}
	if c.Download.MinSpeed < 0 {
		k.fail("download.min_speed", "download.min_speed", strconv.FormatInt(c.Download.MinSpeed, 10),
			"must not be negative (bytes per second; 0 turns the check off)")
	}
	if w := c.Download.MinSpeedWindow; w < time.Second {
		k.fail("download.min_speed_window", "download.min_speed_window", formatDuration(w), "must be at least 1s")
	}

	c.validateNetwork(k)
	c.validateLearning(k)
	if _, err := shard.Parse(c.Fleet.Shard); err != nil {
		k.fail("fleet.shard", "fleet.shard", c.Fleet.Shard, err.Error())
	}
	c.validateFleet(k)

	if k.err != nil {
		return k.err
	}
	return nil
}

func (c *Config) validateResolvers(k *checker) {
	const key = "resolvers.order"
	if len(c.Resolvers.Order) == 0 {
		k.fail(key, key, "", "must name at least one resolver")
		return
	}
	seen := map[string]bool{}
	for _, r := range c.Resolvers.Order {
		if !slices.Contains(providers.ResolverNames(), r) {
			k.fail(key, key, r, "unknown resolver (known: "+strings.Join(providers.ResolverNames(), ", ")+")")
		} else if seen[r] {
			k.fail(key, key, r, "resolver listed twice")
		}
		seen[r] = true
	}
}

func (c *Config) validateRateLimits(k *checker) {
	d := c.RateLimits.Default
	k.positiveF("rate_limits.default.rps", "rate_limits.default.rps", d.RPS)
	k.intMin("rate_limits.default.burst", d.Burst, 1)
	k.intMin("rate_limits.default.concurrency", d.Concurrency, 1)
	k.posDur("rate_limits.default.cooldown", "rate_limits.default.cooldown", d.Cooldown)

	seen := map[string]int{}
	for i, h := range c.RateLimits.Hosts {
		p := fmt.Sprintf("%s[%d].", keyHostsList, i)
		switch {
		case h.Host == "":
			k.fail(p+"host", keyHostsList, "", "must not be empty")
		case !validHost(h.Host):
			k.fail(p+"host", keyHostsList, h.Host, "must be a host name or host:port, not a URL")
		default:
			if j, dup := seen[h.Host]; dup {
				k.fail(p+"host", keyHostsList, h.Host, fmt.Sprintf("host already listed at %s[%d]", keyHostsList, j))
			}
			seen[h.Host] = i
		}
		k.positiveF(p+"rps", keyHostsList, h.RPS)
		if h.Burst < 0 {
			k.fail(p+"burst", keyHostsList, strconv.Itoa(h.Burst), "must not be negative (0 = rate_limits.default.burst)")
		}
		if h.Concurrency < 0 {
			k.fail(p+"concurrency", keyHostsList, strconv.Itoa(h.Concurrency),
				"must not be negative (0 = rate_limits.default.concurrency)")
		}
		k.nonNegDur(p+"cooldown", keyHostsList, h.Cooldown)
	}
}

func (c *Config) validateRetry(k *checker) {
	r := c.Retry
	k.intMin("retry.max_attempts", r.MaxAttempts, 1)
	k.posDur("retry.base_delay", "retry.base_delay", r.BaseDelay)
	k.posDur("retry.max_delay", "retry.max_delay", r.MaxDelay)
	if r.BaseDelay > r.MaxDelay {
		k.fail("retry.base_delay", "retry.base_delay", formatDuration(r.BaseDelay),
			"must not exceed retry.max_delay ("+formatDuration(r.MaxDelay)+")")
	}
	k.posDur("retry.max_wait", "retry.max_wait", r.MaxWait)
	k.intMin("retry.defer_rounds", r.DeferRounds, 0)
	for _, op := range policy.Operations() {
		rule, ok := r.Operations[op.String()]
		if !ok {
			continue // Retry.Op falls back to the default rule
		}
		p := "retry.operations." + op.String() + "."
		k.intMin(p+"max_attempts", rule.MaxAttempts, 1)
		k.nonNegDur(p+"deadline", p+"deadline", rule.Deadline)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Operations)) {
		if _, ok := policy.ParseOperation(name); !ok {
			k.fail("retry.operations."+name, "", "", "unknown operation")
		}
	}
}

func (c *Config) validateNetwork(k *checker) {
	for _, l := range []struct {
		key     string
		entries []string
	}{{"network.deny", c.Network.Deny}, {"network.allow", c.Network.Allow}} {
		for i, e := range l.entries {
			if _, err := netguard.ParsePrefix(e); err != nil {
				k.fail(fmt.Sprintf("%s[%d]", l.key, i), l.key, e,
					"must be a CIDR such as 10.0.0.0/8 or fc00::/7, or one IP address: "+err.Error())
			}
		}
	}
}

func (c *Config) validateLearning(k *checker) {
	l := c.Learning
	k.pct("learning.max_reduction_pct", l.MaxReductionPct, MaxReductionPctCap)
	k.positiveF("learning.min_rps", "learning.min_rps", l.MinRPS)
	const tiers = "learning.tiers"
	if len(l.Tiers) == 0 {
		k.fail(tiers, tiers, "", "must hold at least one {threshold, step_pct} entry")
	}
	for i, t := range l.Tiers {
		p := fmt.Sprintf("%s[%d].", tiers, i)
		if t.Threshold < 1 {
			k.fail(p+"threshold", tiers, strconv.Itoa(t.Threshold), "must be at least 1")
		} else if i > 0 && t.Threshold <= l.Tiers[i-1].Threshold {
			k.fail(p+"threshold", tiers, strconv.Itoa(t.Threshold),
				fmt.Sprintf("must be greater than the previous tier's threshold (%d)", l.Tiers[i-1].Threshold))
		}
		if !(t.StepPct > 0) || t.StepPct > 100 {
			k.fail(p+"step_pct", tiers, formatFloat(t.StepPct), "must be greater than 0 and at most 100")
		} else if i > 0 && t.StepPct < l.Tiers[i-1].StepPct {
			k.fail(p+"step_pct", tiers, formatFloat(t.StepPct),
				"must not be less than the previous tier's step_pct ("+formatFloat(l.Tiers[i-1].StepPct)+")")
		}
	}
	k.posDur("learning.window", "learning.window", l.Window)
	k.intMin("learning.window_min_requests", l.WindowMinRequests, 1)
	k.fraction("learning.window_429_share", l.Window429Share, true)
	k.fraction("learning.beta", l.Beta, false)
	k.posDur("learning.recovery_interval", "learning.recovery_interval", l.RecoveryInterval)
	k.pct("learning.recovery_step_pct", l.RecoveryStepPct, 100)
	k.posDur("learning.forget_after", "learning.forget_after", l.ForgetAfter)
	k.posDur("learning.save_every", "learning.save_every", l.SaveEvery)
}

// looksLikeEmail accepts local@domain.tld with no blanks or angle brackets. It is a
// sanity check for typos, not RFC 5322.
func looksLikeEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(s, " \t\r\n<>,;\"()[]\\") || strings.Contains(domain, "@") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

// validHost accepts "example.org", "example.org:8443", "127.0.0.1:8080" and
// "[::1]:8080", and rejects anything with a scheme, path, query or user information.
func validHost(h string) bool {
	if strings.ContainsAny(h, "/?#@ \t") {
		return false
	}
	u, err := url.Parse("//" + h)
	return err == nil && u.Host == h && u.Hostname() != ""
}

// validateFleet checks the shared limiter's address and name. Whether the server
// answers and takes the credentials is checked when the run connects.
func (c *Config) validateFleet(k *checker) {
	if raw := c.Fleet.RedisURL; raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			k.fail("fleet.redis_url", "fleet.redis_url", MaskURL(raw), "not a URL (want redis://host:port/db)")
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			k.fail("fleet.redis_url", "fleet.redis_url", MaskURL(raw), "the scheme must be redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)")
		case u.Scheme != "unix" && u.Host == "":
			k.fail("fleet.redis_url", "fleet.redis_url", MaskURL(raw), "no host (want redis://host:port/db)")
		}
	}
	name := c.Fleet.Name
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n{}:*?[]") {
		k.fail("fleet.name", "fleet.name", name, "must be 1 to 64 characters without spaces or any of {}:*?[] (it prefixes the fleet's Redis keys)")
	}
}
