package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/policy"
)

// A redirect loop is followed up to the limit once and then given up: retrying it
// would only send the same 11 requests again (found by the CLI fault test, where each
// looping work cost 50-60 requests).
func TestRedirectLoopIsNotRetried(t *testing.T) {
	for _, pol := range []policy.Policy{policy.NewLegacy(policy.DefaultConfig()), policy.NewContextual(policy.DefaultConfig())} {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := hits.Add(1)
			http.Redirect(w, r, "/loop?hop="+strconv.FormatInt(n, 10), http.StatusFound)
		}))
		c := newTestClient(t, pol, clock.NewFake(start()), fastLimit)
		err := c.Fetch(context.Background(), policy.Download, srv.URL+"/loop", nil, func(*http.Response) error {
			t.Error("consume called for a redirect loop")
			return nil
		})
		srv.Close()
		var fe *Error
		if !errors.As(err, &fe) || fe.Reason() != "too_many_redirects" || fe.Decision.Action != policy.Fail {
			t.Fatalf("%s: err %v, want a failed too_many_redirects", pol.Name(), err)
		}
		// The first request and 10 redirects, once.
		if n := hits.Load(); n != 11 {
			t.Errorf("%s: %d requests, want 11", pol.Name(), n)
		}
		if got := c.OpStats()[policy.Download.String()]; got.Retries != 0 || got.Fails != 1 {
			t.Errorf("%s: download ops %+v, want no retry and one fail", pol.Name(), got)
		}
	}
}

// Exactly 10 redirects are followed; the 10th lands.
func TestTenRedirectsAreFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hop, _ := strconv.Atoi(r.URL.Query().Get("hop"))
		if hop < 10 {
			http.Redirect(w, r, "/r?hop="+strconv.Itoa(hop+1), http.StatusFound)
			return
		}
		w.Write([]byte("landed"))
	}))
	defer srv.Close()
	c := newTestClient(t, policy.NewLegacy(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	resp, err := c.Get(context.Background(), policy.Download, srv.URL+"/r?hop=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Query().Get("hop") != "10" {
		t.Errorf("status %d at %s", resp.StatusCode, resp.Request.URL)
	}
}

// CloseIdleConnections really closes the pooled connections (found by the CLI's file
// descriptor test: the wrapping transport did not forward the call, so every run left
// its keep-alive sockets and their goroutines open until the server hung up).
func TestCloseIdleConnectionsClosesPooledConnections(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := newTestClient(t, policy.NewLegacy(policy.DefaultConfig()), clock.NewFake(start()), fastLimit)
	for range 3 {
		resp, err := c.Get(context.Background(), policy.Download, srv.URL+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if open.Load() == 0 {
		t.Fatal("no keep-alive connection to close; the test proves nothing")
	}
	c.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Errorf("%d connections still open after CloseIdleConnections", n)
	}
}
