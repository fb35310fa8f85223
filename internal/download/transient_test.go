package download

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/resolve"
)

// statusSite serves one OpenAlex work whose only candidate, /pdf/1, and whose
// Unpaywall record, /v2/…, both answer status.
func statusSite(t *testing.T, status int) *testSite {
	t.Helper()
	s := &testSite{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/pdf/") || strings.HasPrefix(r.URL.Path, "/v2/") {
			rw.WriteHeader(status)
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"meta": map[string]any{"count": len(s.works)}, "results": s.works})
	}))
	t.Cleanup(s.srv.Close)
	loc := map[string]any{"is_oa": true, "pdf_url": s.srv.URL + "/pdf/1"}
	s.works = []map[string]any{{"id": "W1", "doi": "https://doi.org/10.1/x", "title": "One", "publication_year": 2021,
		"best_oa_location": loc, "locations": []any{loc}}}
	return s
}

// Whether a miss counts as failed (a later run may fix it; exit 3) follows the retry
// policy's classification: 503 is transient, 501 and 505 are not. Both ways a status
// reaches the runner are checked: a candidate's answer, and a resolver API's.
func TestStatusTransienceFollowsThePolicy(t *testing.T) {
	for _, tc := range []struct {
		status int
		failed int
	}{{503, 1}, {501, 0}, {505, 0}} {
		t.Run("candidate_"+strconv.Itoa(tc.status), func(t *testing.T) {
			site := statusSite(t, tc.status)
			out := filepath.Join(t.TempDir(), "out")
			r, _ := newTestRunner(t, site, out)
			sum, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := "http_" + strconv.Itoa(tc.status)
			if sum.Failed != tc.failed {
				t.Errorf("failed = %d, want %d", sum.Failed, tc.failed)
			}
			for _, rec := range readRecords(t, out) {
				if rec.RecordType == manifest.TypeManifest && (rec.Reason != want || rec.HTTPStatus != tc.status) {
					t.Errorf("W1 ended %s (%s, %d), want %s", rec.Classification, rec.Reason, rec.HTTPStatus, want)
				}
			}
		})
		t.Run("resolver_"+strconv.Itoa(tc.status), func(t *testing.T) {
			site := statusSite(t, tc.status)
			out := filepath.Join(t.TempDir(), "out")
			r, fc := newTestRunner(t, site, out, resolverFunc{name: "none", fn: func(context.Context, *openalex.Work) ([]resolve.Candidate, error) {
				return nil, nil
			}})
			rs, err := resolve.Chain([]string{providers.Unpaywall}, resolve.Options{Doer: fc, UnpaywallBase: site.srv.URL, Mailto: "me@example.org"})
			if err != nil {
				t.Fatal(err)
			}
			r.deps.Resolvers = rs
			sum, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := "http_" + strconv.Itoa(tc.status)
			if sum.Failed != tc.failed {
				t.Errorf("failed = %d, want %d", sum.Failed, tc.failed)
			}
			var attempt *manifest.Record
			for _, rec := range readRecords(t, out) {
				if rec.RecordType == manifest.TypeAttempt && rec.Resolver == providers.Unpaywall {
					attempt = &rec
				}
			}
			if attempt == nil || attempt.Reason != want || attempt.Decision != "failover" || attempt.HTTPStatus != tc.status {
				t.Errorf("resolver attempt = %+v, want %s, failover", attempt, want)
			}
		})
	}
}
