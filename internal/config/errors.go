package config

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUsage is matched (errors.Is) by every *Error, so the CLI can map configuration
// problems to the usage exit code (2) without knowing their details.
var ErrUsage = errors.New("usage error")

// Error is a configuration problem: a bad value, an unknown key, or a config file that
// cannot be read. Its message is one line naming the key and where the value came
// from.
type Error struct {
	// Key is the dotted key, e.g. "workers" or "rate_limits.hosts[1].rps"; "config"
	// for problems with the config file itself.
	Key string
	// Source is the layer of the value: "default", "file /path/x.yaml",
	// "env DOCSTOKG_WORKERS" or "flag --workers"; "" when unknown.
	Source string
	// Value is the offending value as text ("" when there is none to show). Secrets
	// are never put here.
	Value string
	// Msg says what is wrong, e.g. "must be at least 1".
	Msg string
	// Err is the underlying cause, if any (e.g. a file-system or YAML error).
	Err error
}

// Error renders `config: KEY = VALUE (from SOURCE): MSG` on a single line, leaving out
// the parts that are empty. A value holding blanks or quotes is quoted.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(oneLine(e.Key))
	if e.Value != "" {
		b.WriteString(" = ")
		if strings.ContainsAny(e.Value, " \t\r\n\"") {
			b.WriteString(strconv.Quote(e.Value))
		} else {
			b.WriteString(e.Value)
		}
	}
	if e.Source != "" {
		b.WriteString(" (from ")
		b.WriteString(e.Source)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(oneLine(e.Msg))
	return b.String()
}

// Is makes every *Error match ErrUsage.
func (e *Error) Is(target error) bool { return target == ErrUsage }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// oneLine folds newlines and runs of white space so a message always fits one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
