package download

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/resolve"
)

// revalidate checks a saved file against its source with a conditional GET (operation
// VALIDATE). A 304, or a 200 with the same bytes, keeps the file; a 200 with different
// valid content replaces it atomically. When the check is rate limited the file is kept
// and the work is deferred so the check runs again at the end of the run.
func (r *Runner) revalidate(ctx context.Context, w *openalex.Work, prev *manifest.Record, res result) result {
	if prev.URL == "" || strings.Contains(prev.URL, "REDACTED") {
		res.reason = "revalidate_no_url"
		return res
	}
	hdr := http.Header{}
	if prev.ETag != "" {
		hdr.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		hdr.Set("If-Modified-Since", prev.LastModified)
	}
	start := r.deps.Clock.Now()
	rec := r.attempt(w, prev.Resolver, prev.URL, policy.Validate, start)
	hint := KindPDF
	if prev.Classification == manifest.ClassXML || strings.HasPrefix(prev.Path, dirXML+"/") {
		hint = KindXML
	} else if strings.HasPrefix(prev.Path, dirHTML+"/") {
		hint = KindUnknown
	}
	var k *kept
	status := 0
	err := r.deps.Fetch.Fetch(ctx, policy.Validate, prev.URL, hdr, func(resp *http.Response) error {
		k.discard()
		k = nil
		status = resp.StatusCode
		switch resp.StatusCode {
		case http.StatusNotModified:
			return nil
		case http.StatusOK:
			var err error
			k, err = r.receive(resp, resolve.Candidate{URL: prev.URL, Resolver: prev.Resolver, Hint: hint})
			return err
		}
		return fetch.NewStatusError(resp, prev.URL)
	})
	rec.HTTPStatus = status
	rec.ElapsedMS = r.deps.Clock.Now().Sub(start).Milliseconds()
	if err != nil {
		k.discard()
		var fe *fetch.Error
		var ce *contentError
		switch {
		case errors.As(err, &fe):
			rec.Reason, rec.Decision = fe.Reason(), decision(fe, policy.Fail)
			if fe.Decision.Action == policy.Defer {
				res.class, res.reason = manifest.ClassDeferred, "revalidate_deferred"
				res.hosts = []string{fe.Host}
			} else {
				res.reason = "revalidate_failed_" + fe.Reason()
			}
		case errors.As(err, &ce):
			rec.Reason, rec.Decision = ce.reason, policy.Fail.String()
			res.reason = "revalidate_failed_" + ce.reason
		default:
			rec.Reason, rec.Decision = policy.ClassifyError(err).String(), policy.Fail.String()
			res.reason = "revalidate_failed_" + rec.Reason
		}
		rec.Classification = res.class
		r.write(rec)
		return res
	}
	rec.Decision = "accept"
	if k == nil {
		rec.Classification, rec.Reason = manifest.ClassSkipped, "not_modified"
		r.write(rec)
		res.reason = "not_modified"
		return res
	}
	k.res.resolver, k.res.url, k.res.status = prev.Resolver, prev.URL, status
	got := k.res
	got.class = k.kind.String()
	got.fill(rec)
	if k.res.sha == prev.SHA256 {
		k.discard()
		rec.Reason = "unchanged"
		r.write(rec)
		res.reason = "unchanged"
		if k.res.etag != "" || k.res.lastMod != "" {
			res.etag, res.lastMod = k.res.etag, k.res.lastMod
		}
		return res
	}
	rec.Reason = "changed"
	r.write(rec)
	saved := r.save(w, k, k.res)
	if saved.class == manifest.ClassMiss {
		// The new version could not be stored (disk full?): the old file is still
		// there and still valid, so keep pointing at it.
		res.reason = "revalidate_store_failed"
		return res
	}
	if saved.path != "" && saved.path != prev.Path {
		if old, ok := r.store.resolve(prev.Path); ok {
			os.Remove(old)
		}
	}
	saved.reason = "revalidated_changed"
	return saved
}
