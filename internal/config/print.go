package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docstokg/contentdl/internal/policy"
	"go.yaml.in/yaml/v3"
)

// MaskURL hides the password of a URL (redis://user:secret@host → redis://user:***@host).
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "://"); i >= 0 {
			if at := strings.LastIndexByte(raw[i+3:], '@'); at >= 0 {
				return raw[:i+3] + maskedSecret + raw[i+3+at:]
			}
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), maskedSecret)
	} else {
		u.User = url.User(maskedSecret) // redis://secret@host: the "user" is the password
	}
	return strings.Replace(u.String(), url.QueryEscape(maskedSecret), maskedSecret, 1)
}

// maskedSecret replaces a set secret in printed configuration and error messages.
const maskedSecret = "***"

// isSecret reports keys whose values must never be shown.
func isSecret(key string) bool {
	return key == "openalex.api_key" || key == "semantic_scholar.api_key"
}

// MaskEmail hides the local part of an address but its first character:
// "me@example.org" → "m***@example.org". Text without an "@" becomes "***"; "" stays "".
func MaskEmail(s string) string {
	if s == "" {
		return ""
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" {
		return maskedSecret
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + maskedSecret + "@" + domain
}

// WriteYAML writes the effective configuration as YAML in declaration order, with the
// API keys shown as "***" when set, mailto partly masked (MaskEmail), and durations
// in Go syntax ("1s", "1m30s", "168h"). The output loads back with Load, except that
// masked secrets are then literally "***".
func (c *Config) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(toNode(reflect.ValueOf(*c), "")); err != nil {
		return fmt.Errorf("config: writing YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: writing YAML: %w", err)
	}
	return nil
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// toNode renders v, found at key, as a YAML node.
func toNode(v reflect.Value, key string) *yaml.Node {
	if v.Type() == durationType {
		return scalar("!!str", formatDuration(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		switch {
		case s != "" && isSecret(key):
			s = maskedSecret
		case key == "mailto":
			s = MaskEmail(s)
		case key == "fleet.redis_url":
			s = MaskURL(s)
		}
		return scalar("!!str", s)
	case reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int64:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		s := formatFloat(v.Float())
		tag := "!!float"
		if !strings.ContainsAny(s, ".eE") {
			tag = "!!int" // so that 5 prints as "5", not "!!float 5"
		}
		return scalar(tag, s)
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			n.Content = append(n.Content, toNode(v.Index(i), key))
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, name := range mapOrder(v) {
			n.Content = append(n.Content, scalar("!!str", name),
				toNode(v.MapIndex(reflect.ValueOf(name)), join(key, name)))
		}
		return n
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			fv := v.Field(i)
			if (opts == "omitempty" && fv.IsZero()) || excluded(join(key, name)) {
				continue
			}
			n.Content = append(n.Content, scalar("!!str", name), toNode(fv, join(key, name)))
		}
		return n
	}
	return scalar("!!str", fmt.Sprint(v.Interface()))
}

// mapOrder lists retry.operations keys in pipeline order, then any others sorted.
func mapOrder(v reflect.Value) []string {
	keys := make([]string, 0, v.Len())
	for _, op := range policy.Operations() {
		if v.MapIndex(reflect.ValueOf(op.String())).IsValid() {
			keys = append(keys, op.String())
		}
	}
	var rest []string
	for _, k := range v.MapKeys() {
		if !slices.Contains(keys, k.String()) {
			rest = append(rest, k.String())
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// formatDuration is time.Duration.String without zero trailing units:
// "1m0s" → "1m", "168h0m0s" → "168h".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatFloat prints the shortest exact decimal form, without exponent.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
