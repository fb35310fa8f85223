package fetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/netguard"
	"github.com/docstokg/contentdl/internal/policy"
)

// A redirect to a denied address fails the request at once with blocked_address under
// both policies and every operation: no retry, and the denied server is never reached.
func TestRedirectToDeniedAddressFailsWithoutRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var deniedHits atomic.Int64
	denied := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { deniedHits.Add(1) }))
	denied.Listener.Close()
	denied.Listener = ln
	denied.Start()
	defer denied.Close()
	var redirects atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, denied.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()

	guard := netguard.New(netguard.MustParsePrefixes([]string{"127.0.0.2/32"}), nil, nil, nil)
	for _, pol := range []policy.Policy{policy.NewLegacy(policy.DefaultConfig()), policy.NewContextual(policy.DefaultConfig())} {
		for _, op := range policy.Operations() {
			redirects.Store(0)
			c := New(Options{Policy: pol, MaxWait: time.Minute, Clock: clock.NewFake(start()), Timeout: 2 * time.Second,
				LimitFor: func(string) HostLimit { return fastLimit }, Rand: func() float64 { return 0.5 }, Guard: guard})
			_, err := c.Get(context.Background(), op, srv.URL+"/landing", nil)
			c.CloseIdleConnections()
			var fe *Error
			if !errors.As(err, &fe) || fe.Reason() != "blocked_address" || fe.Decision.Action != policy.Fail ||
				fe.Decision.Reason != "blocked_address" {
				t.Fatalf("%s %s: err %v, want a failed blocked_address", pol.Name(), op, err)
			}
			if n := redirects.Load(); n != 1 {
				t.Errorf("%s %s: the redirecting page was asked %d times, want 1 (no retry)", pol.Name(), op, n)
			}
			if st := c.OpStats()[op.String()]; st.Retries != 0 || st.Fails != 1 {
				t.Errorf("%s %s: ops %+v, want no retry and one fail", pol.Name(), op, st)
			}
		}
	}
	if n := deniedHits.Load(); n != 0 {
		t.Errorf("the denied server answered %d requests", n)
	}
}

// With no Guard, the default one refuses the metadata address; the loopback test
// servers stay reachable.
func TestDefaultGuardRefusesMetadataAddress(t *testing.T) {
	c := newTestClient(t, policy.NewLegacy(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	_, err := c.Get(context.Background(), policy.Download, "http://169.254.169.254/latest/meta-data/", nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Reason() != "blocked_address" {
		t.Fatalf("err %v, want blocked_address", err)
	}
	_, err = c.Get(context.Background(), policy.Download, "http://[::ffff:169.254.169.254]/", nil)
	if !errors.As(err, &fe) || fe.Reason() != "blocked_address" {
		t.Fatalf("IPv4-mapped form: err %v, want blocked_address", err)
	}
}
