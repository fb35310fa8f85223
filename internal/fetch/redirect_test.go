package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

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
		// The chain is followed to the limit once.
		if n := hits.Load(); n != 10 {
			t.Errorf("%s: %d requests, want 10", pol.Name(), n)
		}
		if got := c.OpStats()[policy.Download.String()]; got.Retries != 0 || got.Fails != 1 {
			t.Errorf("%s: download ops %+v, want no retry and one fail", pol.Name(), got)
		}
	}
}
