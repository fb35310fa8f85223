package fetch

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

// Real failures, described: the operation, the host, the cause in plain words, the
// attempt count and the URL once, shortened and without secrets.
func TestErrorMessagesAreReadable(t *testing.T) {
	pc := policy.DefaultConfig()
	pc.Ops[policy.Download] = policy.OpRule{MaxAttempts: 2}
	pc.Ops[policy.Resolve] = policy.OpRule{MaxAttempts: 2}
	c := New(Options{Policy: policy.NewContextual(pc), MaxWait: time.Minute, Clock: clock.NewFake(start()),
		Timeout: 100 * time.Millisecond, LimitFor: func(string) HostLimit { return fastLimit }, Rand: func() float64 { return 0.5 }})
	t.Cleanup(c.CloseIdleConnections)

	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(status.Close)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // no headers until the client gives up
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)

	secret := "?api_key=TOPSECRET&mailto=me@example.org"
	for _, tc := range []struct {
		name, url string
		op        policy.OperationType
		want      []string
	}{
		{"http status", status.URL + "/x.pdf" + secret, policy.Resolve,
			[]string{"resolve " + strings.TrimPrefix(status.URL, "http://") + ": HTTP 429 Too Many Requests; failing over after 1 attempt (", "/x.pdf?…)"}},
		{"tls", tlsSrv.URL + "/x" + secret, policy.Download,
			[]string{"download ", ": TLS failed: ", "failed after 1 attempt (https://"}},
		{"timeout", slow.URL + "/y" + secret, policy.Resolve,
			[]string{"resolve ", ": timed out; ", "after 2 attempts"}},
		{"bad scheme", "ftp://files.example.org/z.pdf" + secret, policy.Download,
			[]string{"download files.example.org: unsupported URL scheme; not sent (ftp://files.example.org/z.pdf?…)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Get(context.Background(), tc.op, tc.url, nil)
			if resp != nil {
				resp.Body.Close()
				if err == nil {
					t.Fatalf("status %d, want an error", resp.StatusCode)
				}
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			msg := fe.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "me@example.org") || strings.Count(msg, "://") != 1 {
				t.Errorf("message leaks a secret or repeats the URL:\n%s", msg)
			}
			if d := fe.Detail(); strings.Contains(d, "TOPSECRET") || !strings.Contains(d, "api_key=REDACTED") {
				t.Errorf("detail: %s", d)
			}
		})
	}
}

// Decisions without a transport error still read as words.
func TestErrorMessageForCooldownAndDefer(t *testing.T) {
	e := &Error{Op: policy.Download, URL: "https://pub.example/a.pdf", Host: "pub.example",
		Decision: policy.Decision{Action: policy.Defer, Reason: "host_cooldown", Wait: 90 * time.Second}}
	if got, want := e.Error(), "download pub.example: host is cooling down after Retry-After or 429s; deferred for 1m30s (https://pub.example/a.pdf)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	e = &Error{Op: policy.Download, URL: "https://pub.example/a.pdf", Host: "pub.example", Status: 429, Attempts: 3,
		Decision: policy.Decision{Action: policy.Defer, Reason: "retry_after_over_cap", Wait: time.Hour}}
	if got, want := e.Error(), "download pub.example: HTTP 429 Too Many Requests; deferred for 1h0m0s after 3 attempts (https://pub.example/a.pdf)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
