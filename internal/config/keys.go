package config

import (
	"reflect"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/policy"
)

// EnvPrefix starts every environment variable this package reads.
const EnvPrefix = "DOCSTOKG_"

// EnvConfigFile names the config file when --config is not given.
const EnvConfigFile = EnvPrefix + "CONFIG"

// FlagAnnotation is the pflag annotation that binds a flag to a config key whose
// name differs from the flag's (e.g. --rps → rate_limits.default.rps).
const FlagAnnotation = "config_key"

// keyHostsList is the only key that cannot come from the environment or a flag.
const keyHostsList = "rate_limits.hosts"

// leaf is one settable key of Config, found by walking the struct's mapstructure tags.
type leaf struct {
	key   string
	typ   reflect.Type
	index []int  // field path from Config; for an operations leaf, the path to the map
	op    string // operations map key, "" for ordinary fields
	sub   []int  // field path inside OpRule for an operations leaf
}

var durationType = reflect.TypeFor[time.Duration]()

// excluded reports fields of shared types that are not keys in a given position:
// rate_limits.default is a HostLimit but has no host.
func excluded(key string) bool { return key == "rate_limits.default.host" }

// leaves returns every key of Config in declaration order.
func leaves() []leaf {
	var out []leaf
	walk(reflect.TypeFor[Config](), "", nil, &out)
	return out
}

func walk(t reflect.Type, prefix string, index []int, out *[]leaf) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := tagName(f)
		if !f.IsExported() || name == "" {
			continue
		}
		key := join(prefix, name)
		if excluded(key) {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		switch {
		case f.Type == durationType:
			*out = append(*out, leaf{key: key, typ: f.Type, index: idx})
		case f.Type.Kind() == reflect.Struct:
			walk(f.Type, key, idx, out)
		case f.Type.Kind() == reflect.Map:
			// retry.operations: one fixed set of keys per operation, so that every
			// key stays addressable by DOCSTOKG_* variables and flags.
			elem := f.Type.Elem()
			for _, op := range policy.Operations() {
				for j := range elem.NumField() {
					sf := elem.Field(j)
					*out = append(*out, leaf{
						key: join(join(key, op.String()), tagName(sf)), typ: sf.Type,
						index: idx, op: op.String(), sub: []int{j},
					})
				}
			}
		default:
			*out = append(*out, leaf{key: key, typ: f.Type, index: idx})
		}
	}
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// get returns the leaf's current value in c.
func (l leaf) get(c *Config) reflect.Value {
	f := reflect.ValueOf(c).Elem().FieldByIndex(l.index)
	if l.op == "" {
		return f
	}
	e := reflect.New(f.Type().Elem()).Elem()
	if cur := f.MapIndex(reflect.ValueOf(l.op)); cur.IsValid() {
		e.Set(cur)
	}
	return e.FieldByIndex(l.sub)
}

// set stores v (of the leaf's type) into c.
func (l leaf) set(c *Config, v reflect.Value) {
	f := reflect.ValueOf(c).Elem().FieldByIndex(l.index)
	if l.op == "" {
		f.Set(v)
		return
	}
	if f.IsNil() {
		f.Set(reflect.MakeMap(f.Type()))
	}
	k := reflect.ValueOf(l.op)
	e := reflect.New(f.Type().Elem()).Elem()
	if cur := f.MapIndex(k); cur.IsValid() {
		e.Set(cur)
	}
	e.FieldByIndex(l.sub).Set(v)
	f.SetMapIndex(k, e)
}

// Keys returns every configuration key in declaration order, e.g. "workers",
// "openalex.base_url", "retry.operations.download.max_attempts".
func Keys() []string {
	ls := leaves()
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.key
	}
	return keys
}

// EnvVar returns the environment variable for key: DOCSTOKG_ plus the key upper-cased
// with "." replaced by "_" (openalex.base_url → DOCSTOKG_OPENALEX_BASE_URL).
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// sections returns every proper prefix of a key ("openalex", "retry.operations",
// "retry.operations.download", …): names that are mappings, not values.
func sections(ls []leaf) map[string]bool {
	s := map[string]bool{}
	for _, l := range ls {
		parts := strings.Split(l.key, ".")
		for i := 1; i < len(parts); i++ {
			s[strings.Join(parts[:i], ".")] = true
		}
	}
	return s
}

// stringKey returns the value of the string key (for example "unpaywall.base_url").
func (c *Config) stringKey(key string) (string, bool) {
	for _, l := range leaves() {
		if l.key == key && l.op == "" && l.typ.Kind() == reflect.String {
			return reflect.ValueOf(c).Elem().FieldByIndex(l.index).String(), true
		}
	}
	return "", false
}
