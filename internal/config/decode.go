package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// problem is a decoding failure before its source is known.
type problem struct {
	key   string // may be more specific than the leaf, e.g. rate_limits.hosts[1].rps
	value string
	msg   string
}

// decodeValue converts raw into a value of type t. raw comes from the YAML file
// (string, int, float64, bool, []any, map[string]any), from the environment (always a
// string), from viper's flag conversion (int, bool, []string or string), or from
// Defaults (already of type t).
func decodeValue(raw any, t reflect.Type, key string) (reflect.Value, *problem) {
	if raw != nil && reflect.TypeOf(raw) == t {
		return reflect.ValueOf(raw), nil
	}
	if raw == nil {
		return reflect.Zero(t), nil
	}
	if t == durationType {
		d, p := toDuration(raw, key)
		return reflect.ValueOf(d), p
	}
	switch t.Kind() {
	case reflect.String:
		s, p := toString(raw, key)
		return reflect.ValueOf(s), p
	case reflect.Bool:
		b, p := toBool(raw, key)
		return reflect.ValueOf(b), p
	case reflect.Int, reflect.Int64:
		n, p := toInt(raw, key)
		return reflect.ValueOf(n).Convert(t), p
	case reflect.Float64:
		f, p := toFloat(raw, key)
		return reflect.ValueOf(f), p
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			ss, p := toStrings(raw, key)
			return reflect.ValueOf(ss), p
		}
		if t.Elem().Kind() == reflect.Struct {
			return toStructs(raw, t, key)
		}
	}
	// Only reachable if Config gains a field of a type this file does not handle;
	// TestEveryKeyDecodes guards against that.
	return reflect.Zero(t), &problem{key: key, msg: fmt.Sprintf("unsupported type %s", t)}
}

// describe names the YAML shape of a value for "must be …, not …" messages.
func describe(raw any) string {
	switch raw.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any, []string:
		return "a list"
	}
	return ""
}

// scalarText renders a scalar for error messages; "" for lists and mappings.
func scalarText(raw any) string {
	switch v := raw.(type) {
	case string:
		return v
	case time.Duration:
		return formatDuration(v)
	case float64:
		return formatFloat(v)
	case int, int64, uint64, bool, int32, uint32, uint:
		return fmt.Sprint(v)
	}
	return ""
}

func shapeProblem(raw any, key, want string) *problem {
	msg := "must be " + want
	if d := describe(raw); d != "" {
		msg += ", not " + d
	}
	return &problem{key: key, value: scalarText(raw), msg: msg}
}

func toString(raw any, key string) (string, *problem) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case int, int64, uint64, float64, bool:
		return scalarText(v), nil
	}
	return "", shapeProblem(raw, key, "a string")
}

func toBool(raw any, key string) (bool, *problem) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case int:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "true", "yes", "on":
			return true, nil
		case "0", "false", "no", "off":
			return false, nil
		}
	}
	return false, shapeProblem(raw, key, "a boolean (true/false, yes/no, 1/0)")
}

func toInt(raw any, key string) (int64, *problem) {
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return 0, &problem{key: key, value: scalarText(raw), msg: "is too large"}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v), nil
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err == nil {
			return n, nil
		}
		if errors.Is(err, strconv.ErrRange) {
			return 0, &problem{key: key, value: v, msg: "is too large"}
		}
	}
	return 0, shapeProblem(raw, key, "an integer")
}

func toFloat(raw any, key string) (float64, *problem) {
	var f float64
	switch v := raw.(type) {
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case float64:
		f = v
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return 0, shapeProblem(raw, key, "a number")
		}
	default:
		return 0, shapeProblem(raw, key, "a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &problem{key: key, value: scalarText(raw), msg: "must be a finite number"}
	}
	return f, nil
}

const durationWant = `a duration such as "1500ms" or "2s", or a number of seconds`

// toDuration accepts Go duration syntax ("1500ms", "1m30s") or a plain number of
// seconds (2, 0.5, "2", "0.5").
func toDuration(raw any, key string) (time.Duration, *problem) {
	var secs float64
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case int:
		secs = float64(v)
	case int64:
		secs = float64(v)
	case float64:
		secs = v
	case string:
		s := strings.TrimSpace(v)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return 0, shapeProblem(raw, key, durationWant)
			}
			return d, nil
		}
		secs = f
	default:
		return 0, shapeProblem(raw, key, durationWant)
	}
	if math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, &problem{key: key, value: scalarText(raw), msg: "is out of range"}
	}
	return time.Duration(math.Round(secs * float64(time.Second))), nil
}

// toStrings accepts a YAML list of strings, or text with the items separated by
// commas and/or blanks (the form used by environment variables).
func toStrings(raw any, key string) ([]string, *problem) {
	switch v := raw.(type) {
	case []string:
		return splitList(strings.Join(v, ",")), nil
	case string:
		return splitList(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, shapeProblem(item, fmt.Sprintf("%s[%d]", key, i), "a string")
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	}
	return nil, shapeProblem(raw, key, "a list of strings")
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// toStructs decodes a YAML list of mappings into a slice of structs, rejecting unknown
// fields. learning.tiers also accepts "THRESHOLD:STEP_PCT,…" text (for the
// environment and flags); rate_limits.hosts can only come from the file.
func toStructs(raw any, t reflect.Type, key string) (reflect.Value, *problem) {
	elem := t.Elem()
	if s, ok := raw.(string); ok && elem == reflect.TypeFor[Tier]() {
		return parseTiers(s, key)
	}
	items, ok := raw.([]any)
	if !ok {
		want := "a list of mappings"
		if key == keyHostsList {
			want = "a list of {host, rps, burst, concurrency, cooldown} entries, set in the config file"
		}
		return reflect.Zero(t), shapeProblem(raw, key, want)
	}
	out := reflect.MakeSlice(t, 0, len(items))
	for i, item := range items {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		m, ok := asStringMap(item)
		if !ok {
			return reflect.Zero(t), shapeProblem(item, ikey, "a mapping")
		}
		v, p := toStruct(m, elem, ikey)
		if p != nil {
			return reflect.Zero(t), p
		}
		out = reflect.Append(out, v)
	}
	return out, nil
}

func asStringMap(item any) (map[string]any, bool) {
	switch m := item.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func toStruct(m map[string]any, t reflect.Type, key string) (reflect.Value, *problem) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		if name := tagName(t.Field(i)); name != "" {
			fields[name] = i
			names = append(names, name)
		}
	}
	out := reflect.New(t).Elem()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		i, ok := fields[strings.ToLower(k)]
		if !ok {
			return out, &problem{key: key + "." + k, msg: unknownKeyMsg(k, names)}
		}
		v, p := decodeValue(m[k], t.Field(i).Type, key+"."+tagName(t.Field(i)))
		if p != nil {
			return out, p
		}
		out.Field(i).Set(v)
	}
	return out, nil
}

// parseTiers reads "3:10,5:20,10:30" (threshold:step_pct pairs).
func parseTiers(s, key string) (reflect.Value, *problem) {
	var tiers []Tier
	for _, pair := range splitList(s) {
		a, b, ok := strings.Cut(pair, ":")
		th, err1 := strconv.Atoi(a)
		step, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil || math.IsNaN(step) || math.IsInf(step, 0) {
			return reflect.Zero(reflect.TypeFor[[]Tier]()), &problem{key: key, value: s,
				msg: `must be a list of {threshold, step_pct} entries, or "THRESHOLD:STEP_PCT,…" text such as "3:10,5:20"`}
		}
		tiers = append(tiers, Tier{Threshold: th, StepPct: step})
	}
	return reflect.ValueOf(tiers), nil
}

// unknownKeyMsg says a key is unknown and suggests the closest known name.
func unknownKeyMsg(name string, known []string) string {
	if s := closest(name, known); s != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", s)
	}
	return "unknown key"
}

// closest returns the candidate within edit distance 2 of name (the nearest, first in
// order on ties), or "".
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Closest returns the candidate within edit distance 2 of name, or "": the CLI uses it
// to suggest a flag for a mistyped one.
func Closest(name string, candidates []string) string { return closest(name, candidates) }
