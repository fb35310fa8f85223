package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// LoadOptions are the inputs of Load. The zero value loads the defaults only: Load
// reads no environment and no file it is not told about.
type LoadOptions struct {
	// File is the --config value; "" means none was given, and then
	// DOCSTOKG_CONFIG (through Getenv) names the file, if set.
	File string
	// Flags holds the command's flags; may be nil. Only flags the user set (Changed)
	// take part. A flag binds to the key in its "config_key" annotation if it has
	// one, else to its name with '-' replaced by '_' when that is a known key.
	Flags *pflag.FlagSet
	// Getenv looks up an environment variable (os.Getenv in production, a map in
	// tests). Nil means an empty environment.
	Getenv func(string) string
	// Environ lists the environment as "KEY=value" (os.Environ in production). When
	// set, unknown DOCSTOKG_* variables are reported to Logger as warnings; they
	// never fail the load.
	Environ func() []string
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// FS reads the config file; nil reads the real file system.
	FS FileSystem
}

// FileSystem is what Load reads the config file through.
type FileSystem interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
}

type osFS struct{}

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }

// Load builds the Config from, lowest precedence first: Defaults, the YAML file
// (opts.File, else $DOCSTOKG_CONFIG), DOCSTOKG_* environment variables, and the flags
// that were set. It then normalises and validates the result. Every problem with the
// user's input is returned as an *Error (matching ErrUsage) naming the key and its
// source; a flag annotated with an unknown key is a programming error and is
// returned as a plain error.
//
// Environment variables are named by EnvVar (DOCSTOKG_OPENALEX_BASE_URL,
// DOCSTOKG_RATE_LIMITS_DEFAULT_RPS, …). Booleans accept 1/true/yes/on and
// 0/false/no/off, lists accept comma- or blank-separated items
// (DOCSTOKG_RESOLVERS_ORDER="openalex,unpaywall"), learning.tiers accepts
// "3:10,5:20,10:30", and durations accept Go syntax ("1500ms") or seconds ("2").
// rate_limits.hosts has no environment variable or flag: it is a list of mappings
// and can only be set in the config file.
func Load(opts LoadOptions) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = osFS{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	ls := leaves()
	known := make(map[string]leaf, len(ls))
	origin := make(map[string]string, len(ls))
	for _, l := range ls {
		known[l.key] = l
		origin[l.key] = "default"
	}

	v := viper.New()

	// Layer 2: the file. Read before the defaults are registered, so AllKeys lists
	// exactly the keys the file sets.
	path, pathSrc := opts.File, "flag --config"
	if path == "" {
		path, pathSrc = getenv(EnvConfigFile), "env "+EnvConfigFile
	}
	if path != "" {
		path = expandHome(path, getenv)
		fileSrc := "file " + path
		if err := readFile(v, fsys, path, pathSrc); err != nil {
			return nil, err
		}
		if err := checkFileKeys(v, ls, known, fileSrc); err != nil {
			return nil, err
		}
		for _, k := range v.AllKeys() {
			// A key left empty ("workers:") keeps its default, and its source.
			if _, ok := known[k]; ok && v.Get(k) != nil {
				origin[k] = fileSrc
			}
		}
	}

	// Layer 1: the defaults.
	def := Defaults()
	for _, l := range ls {
		v.SetDefault(l.key, l.get(&def).Interface())
	}

	// Layer 3: the environment, merged over the file's values.
	envLayer := map[string]any{}
	envNames := map[string]bool{EnvConfigFile: true}
	for _, l := range ls {
		name := EnvVar(l.key)
		envNames[name] = true
		val := getenv(name)
		if val == "" {
			continue
		}
		if l.key == keyHostsList {
			return nil, &Error{Key: l.key, Source: "env " + name,
				Msg: "can only be set in the config file (a list of {host, rps, burst, concurrency, cooldown} entries)"}
		}
		setNested(envLayer, l.key, val)
		origin[l.key] = "env " + name
	}
	if len(envLayer) > 0 {
		if err := v.MergeConfigMap(envLayer); err != nil {
			return nil, fmt.Errorf("config: merging environment: %w", err)
		}
	}
	if opts.Environ != nil {
		warnUnknownEnv(opts.Environ(), envNames, logger)
	}

	// Layer 4: the flags the user set.
	if opts.Flags != nil {
		var bindErr error
		opts.Flags.Visit(func(f *pflag.Flag) {
			if bindErr != nil {
				return
			}
			key, annotated := strings.ReplaceAll(f.Name, "-", "_"), false
			if a := f.Annotations[FlagAnnotation]; len(a) > 0 {
				key, annotated = a[0], true
			}
			if _, ok := known[key]; !ok {
				if annotated {
					bindErr = fmt.Errorf("config: flag --%s is annotated with unknown key %q", f.Name, key)
				}
				return
			}
			if key == keyHostsList {
				bindErr = fmt.Errorf("config: flag --%s cannot bind %s, which is file-only", f.Name, key)
				return
			}
			if err := v.BindPFlag(key, f); err != nil {
				bindErr = fmt.Errorf("config: binding flag --%s: %w", f.Name, err)
				return
			}
			origin[key] = "flag --" + f.Name
		})
		if bindErr != nil {
			return nil, bindErr
		}
	}

	// Decode every key from the merged view.
	cfg := &Config{origin: origin}
	for _, l := range ls {
		val, p := decodeValue(v.Get(l.key), l.typ, l.key)
		if p != nil {
			value := p.value
			if isSecret(l.key) && value != "" {
				value = maskedSecret
			}
			return nil, &Error{Key: p.key, Source: origin[l.key], Value: value, Msg: p.msg}
		}
		l.set(cfg, val)
	}

	cfg.normalize(getenv)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readFile loads the YAML file into v, turning every failure into an *Error about
// the "config" key.
func readFile(v *viper.Viper, fsys FileSystem, path, pathSrc string) error {
	fail := func(msg string, err error) error {
		return &Error{Key: "config", Source: pathSrc, Value: path, Msg: msg, Err: err}
	}
	st, err := fsys.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("file not found", err)
	case err != nil:
		return fail("cannot read file: "+err.Error(), err)
	case st.IsDir():
		return fail("is a directory, not a file", nil)
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return fail("cannot read file: "+err.Error(), err)
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		var perr viper.ConfigParseError
		if errors.As(err, &perr) {
			cause := perr.Unwrap()
			return fail("invalid YAML: "+cause.Error(), err)
		}
		return fail("cannot read file: "+err.Error(), err)
	}
	return nil
}

// checkFileKeys rejects keys in the file that Config does not have, including unknown
// fields of list entries (rate_limits.hosts, learning.tiers).
func checkFileKeys(v *viper.Viper, ls []leaf, known map[string]leaf, fileSrc string) error {
	secs := sections(ls)
	names := make([]string, 0, len(ls)+len(secs))
	for _, l := range ls {
		names = append(names, l.key)
	}
	for s := range secs {
		names = append(names, s)
	}
	slices.Sort(names)

	keys := v.AllKeys()
	slices.Sort(keys)
	for _, k := range keys {
		if l, ok := known[k]; ok {
			if l.typ.Kind() == reflect.Slice && l.typ.Elem().Kind() == reflect.Struct {
				if _, p := decodeValue(v.Get(k), l.typ, k); p != nil {
					return &Error{Key: p.key, Source: fileSrc, Value: p.value, Msg: p.msg}
				}
			}
			continue
		}
		if secs[k] {
			// An empty section ("openalex:" with nothing under it) is harmless.
			if raw := v.Get(k); raw != nil {
				return &Error{Key: k, Source: fileSrc, Value: scalarText(raw), Msg: "must be a mapping"}
			}
			continue
		}
		// A mapping where a value belongs: "workers: {a: 1}" appears as "workers.a".
		parts := strings.Split(k, ".")
		for i := len(parts) - 1; i > 0; i-- {
			if _, ok := known[strings.Join(parts[:i], ".")]; ok {
				return &Error{Key: strings.Join(parts[:i], "."), Source: fileSrc, Msg: "must be a value, not a mapping"}
			}
		}
		return &Error{Key: k, Source: fileSrc, Msg: unknownKeyMsg(k, names)}
	}
	return nil
}

// setNested stores val at the dotted key in a tree of maps.
func setNested(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

// warnUnknownEnv logs DOCSTOKG_* variables that no key reads, usually a typo. The
// value is never logged: it may be a secret.
func warnUnknownEnv(environ []string, known map[string]bool, logger *slog.Logger) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] {
			continue
		}
		attrs := []any{"name", name}
		if name == EnvVar(keyHostsList) {
			attrs = append(attrs, "hint", "rate_limits.hosts can only be set in the config file")
		} else if s := closest(name, slices.Sorted(maps.Keys(known))); s != "" {
			attrs = append(attrs, "did_you_mean", s)
		}
		logger.Warn("ignoring unknown environment variable", attrs...)
	}
}

// normalize trims and canonicalises values after decoding, so that consumers can
// compare and concatenate them without further cleanup.
func (c *Config) normalize(getenv func(string) string) {
	c.Mailto = strings.TrimSpace(c.Mailto)
	c.Out = expandHome(strings.TrimSpace(c.Out), getenv)
	c.ProviderLearningPath = expandHome(strings.TrimSpace(c.ProviderLearningPath), getenv)
	if c.ProviderLearningPath == "" {
		c.ProviderLearningPath = DefaultProviderLearningPath(getenv)
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	for _, u := range []*string{
		&c.OpenAlex.BaseURL, &c.OpenAlex.ContentBaseURL, &c.Unpaywall.BaseURL, &c.Crossref.BaseURL,
		&c.Arxiv.BaseURL, &c.EuropePMC.BaseURL, &c.SemanticScholar.BaseURL,
	} {
		*u = strings.TrimSpace(*u)
		// Drop trailing slashes so callers can append "/works"; leave a URL that
		// would not validate untouched so its error shows the value as given.
		if p, err := url.Parse(*u); err == nil && p.Host != "" {
			*u = strings.TrimRight(*u, "/")
		}
	}
	c.OpenAlex.APIKey = strings.TrimSpace(c.OpenAlex.APIKey)
	c.SemanticScholar.APIKey = strings.TrimSpace(c.SemanticScholar.APIKey)
	for i, r := range c.Resolvers.Order {
		c.Resolvers.Order[i] = strings.ToLower(strings.TrimSpace(r))
	}
	for i := range c.RateLimits.Hosts {
		h := &c.RateLimits.Hosts[i]
		h.Host = strings.ToLower(strings.TrimSpace(h.Host))
	}
	c.Fleet.Shard = strings.TrimSpace(c.Fleet.Shard)
	c.Fleet.RedisURL = strings.TrimSpace(c.Fleet.RedisURL)
	c.Fleet.Name = strings.TrimSpace(c.Fleet.Name)
	for _, list := range [][]string{c.Network.Deny, c.Network.Allow} {
		for i, e := range list {
			list[i] = strings.TrimSpace(e)
		}
	}
}

// DefaultProviderLearningPath returns $XDG_STATE_HOME/contentdl/provider-learning.json,
// falling back to $HOME/.local/state/contentdl/provider-learning.json, or "" when
// neither variable is usable. XDG_STATE_HOME is ignored unless absolute, as the XDG
// Base Directory specification requires.
func DefaultProviderLearningPath(getenv func(string) string) string {
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "contentdl", "provider-learning.json")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "state", "contentdl", "provider-learning.json")
	}
	return ""
}

// expandHome replaces a leading "~/" (or a lone "~") with $HOME: YAML values and
// quoted shell words are not expanded by the shell.
func expandHome(p string, getenv func(string) string) string {
	home := getenv("HOME")
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}
