package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no secrets", "https://api.openalex.org/works?search=graphs&per_page=100", "https://api.openalex.org/works?search=graphs&per_page=100"},
		{"api_key", "https://api.openalex.org/works?api_key=s3cret&search=x", "https://api.openalex.org/works?api_key=REDACTED&search=x"},
		{"mailto and email", "https://x.org/v2/10.1/a?email=me%40example.org&mailto=me@example.org", "https://x.org/v2/10.1/a?email=REDACTED&mailto=REDACTED"},
		{"case-insensitive name", "https://x.org/?API_KEY=a&Email=b&ToKeN=c&Access_Token=d&KEY=e", "https://x.org/?API_KEY=REDACTED&Email=REDACTED&ToKeN=REDACTED&Access_Token=REDACTED&KEY=REDACTED"},
		{"percent-encoded name", "https://x.org/?api%5Fkey=abc", "https://x.org/?api%5Fkey=REDACTED"},
		{"semicolon separator", "https://x.org/?a=1;token=abc", "https://x.org/?a=1;token=REDACTED"},
		{"empty value", "https://x.org/?api_key=&a=1", "https://x.org/?api_key=REDACTED&a=1"},
		{"name without value kept", "https://x.org/?api_key&a=1", "https://x.org/?api_key&a=1"},
		{"similar names kept", "https://x.org/?keyword=graph&monkey=1&tokens=2", "https://x.org/?keyword=graph&monkey=1&tokens=2"},
		{"repeated param", "https://x.org/?key=a&key=b", "https://x.org/?key=REDACTED&key=REDACTED"},
		{"order and encoding kept", "https://x.org/w?z=%2F&a=b+c&mailto=m", "https://x.org/w?z=%2F&a=b+c&mailto=REDACTED"},
		{"userinfo", "https://user:pw@example.org/path?q=1", "https://example.org/path?q=1"},
		{"user only", "http://user@example.org", "http://example.org"},
		{"at in path kept", "https://medium.com/@someone/post", "https://medium.com/@someone/post"},
		{"scheme-relative userinfo", "//u:p@host/x", "//host/x"},
		{"fragment token", "https://app.example/cb#access_token=abc&state=1", "https://app.example/cb#access_token=REDACTED&state=1"},
		{"fragment plain", "https://x.org/a#sec-2", "https://x.org/a#sec-2"},
		{"not a url", "hello world", "hello world"},
		{"unparsable with password slash", "http://user:pa/ss@host/p?api_key=k", "http://host/p?api_key=REDACTED"},
		{"unparsable escape", "http://u:p@ho%zzst/?token=t", "http://ho%zzst/?token=REDACTED"},
		{"relative", "/works?api_key=k", "/works?api_key=REDACTED"},
		{"already redacted", "https://x.org/?api_key=REDACTED", "https://x.org/?api_key=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no urls here", "no urls here"},
		{`Get "https://api.openalex.org/works?api_key=abc&cursor=%2A": dial tcp: refused`,
			`Get "https://api.openalex.org/works?api_key=REDACTED&cursor=%2A": dial tcp: refused`},
		{"HTTP 422 from https://api.unpaywall.org/v2/10.1/x?email=me@example.org",
			"HTTP 422 from https://api.unpaywall.org/v2/10.1/x?email=REDACTED"},
		{"redirect to https://bob:hunter2@files.example/x.pdf failed",
			"redirect to https://files.example/x.pdf failed"},
		{"two: http://a/?token=1 and http://b/?mailto=x@y.z end",
			"two: http://a/?token=REDACTED and http://b/?mailto=REDACTED end"},
		{"contact me@example.org", "contact me@example.org"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	inner := &url.Error{Op: "Get", URL: "https://api.openalex.org/works?api_key=abc", Err: errors.New("boom")}
	wrapped := fmt.Errorf("page 1: %w", inner)
	err := Error(wrapped)
	if strings.Contains(err.Error(), "abc") {
		t.Fatalf("secret leaked: %v", err)
	}
	if !strings.Contains(err.Error(), "api_key=REDACTED") || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("message lost context: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) || ue != inner {
		t.Fatal("errors.As no longer finds the *url.Error")
	}
	if again := Error(err); again != err { //nolint:errorlint // identity, not matching, is the point
		t.Fatal("wrapping twice should return the same error")
	}
}

func FuzzRedact(f *testing.F) {
	seeds := []string{
		"", "https://api.openalex.org/works?api_key=abc&mailto=x@y.z",
		"http://u:p@h/?token=t#access_token=z", "//u@h", "http://user:pa/ss@host/p",
		"http://[::1]:80/?key=1;email=2", "mailto:me@example.org", "%zz", "http://a@b@c/?",
		"HTTP://X@Y/?API%5FKEY=1", "?&;#=", "a:/@b",
	}
	for _, s := range seeds {
		f.Add(s, "S3cretValue99")
	}
	f.Fuzz(func(t *testing.T, raw, secret string) {
		out := Redact(raw)
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, out, again)
		}
		if u, err := url.Parse(out); err == nil {
			if u.User != nil {
				t.Fatalf("userinfo survived: %q -> %q", raw, out)
			}
			checkQuery(t, raw, out, u.RawQuery)
		}
		if _ = Text(raw); len(secret) < 8 || strings.ContainsFunc(secret, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
		}) {
			return
		}
		// A URL built around a known secret never shows it, in either function.
		built := "https://user:" + secret + "@host.example/p?q=1&api_key=" + secret + "&mailto=" + secret
		if strings.Contains(Redact(built), secret) {
			t.Fatalf("Redact leaked %q: %q", secret, Redact(built))
		}
		if msg := Text("Get \"" + built + "\": EOF"); strings.Contains(msg, secret) {
			t.Fatalf("Text leaked %q: %q", secret, msg)
		}
	})
}

func checkQuery(t *testing.T, raw, out, rawQuery string) {
	t.Helper()
	values, _ := url.ParseQuery(rawQuery) // partial results are still checked
	for name, vs := range values {
		if !sensitive(name) {
			continue
		}
		for _, v := range vs {
			// An empty value ("?key" or "?key=") carries no secret to hide.
			if v != "" && v != Placeholder {
				t.Fatalf("%s=%q survived: %q -> %q", name, v, raw, out)
			}
		}
	}
}
