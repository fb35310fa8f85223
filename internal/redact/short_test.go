package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShort(t *testing.T) {
	long := "https://files.example.org/" + strings.Repeat("a", 100) + "/paper.pdf"
	for _, c := range []struct{ in, want string }{
		{"http://127.0.0.1:1/works?api_key=sekret&cursor=%2A&mailto=me@x.org&select=id%2Cdoi", "http://127.0.0.1:1/works?…"},
		{"https://user:pw@example.org/x.pdf", "https://example.org/x.pdf"},
		{"https://example.org/x.pdf#page=2", "https://example.org/x.pdf?…"},
		{"https://example.org", "https://example.org"},
		{"not a url ?token=abc", "not a url ?…"},
	} {
		if got := Short(c.in); got != c.want {
			t.Errorf("Short(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got := Short(long + "?key=k")
	if !strings.HasPrefix(got, "https://files.example.org/aaaa") || !strings.HasSuffix(got, "/paper.pdf?…") ||
		!strings.Contains(got, "…/") && !strings.Contains(got, "a…a") {
		t.Errorf("long URL shortened to %q", got)
	}
	if n := utf8.RuneCountInString(got); n > len("https://files.example.org")+maxShortPath+2 {
		t.Errorf("long URL still %d characters: %q", n, got)
	}
	if strings.Contains(Short("https://x.org/?api_key=SECRET"), "SECRET") {
		t.Error("secret survived")
	}
}
