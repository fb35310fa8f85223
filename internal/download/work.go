package download

// One work's life: the resume check (resumed), one resolver or one candidate per step
// (step), how the work ends once all are tried (settle), and its one manifest record
// (finish). A candidate's own life is in candidate.go; the run loop is runner.go and
// the frontier that schedules steps is frontier.go.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/redact"
	"github.com/docstokg/contentdl/internal/resolve"
)

// workState is one work's life in the frontier: where it is in the resolver chain and
// its candidates, and what it has learnt so far. A work moves one step at a time (the
// resume check, one resolver, one candidate); between steps it is plain data, so a
// work waiting for a host costs memory, not a worker.
type workState struct {
	w       *openalex.Work
	started bool // a step has run (an unstarted work ends without a record on SIGINT)
	rounds  int  // defer rounds used
	last    result

	checked        bool // the resume check is done
	ri             int  // next resolver
	cands          []resolve.Candidate
	resolvedAt     time.Time // when the resolver of cands was asked
	seen           *resolve.Seen
	fallback       *kept // the best XML/HTML body so far, while a PDF may still come
	deferHosts     []string
	miss           result // the last failed candidate
	resolverFailed string // reason of the last resolver that failed, if any
	transient      bool   // some failure along the way may not happen next time
	candidates     int
	dry            []resolve.Candidate
	pages          *pageTally // what the HTML pages among the candidates were (pages.go)
	pass           pass       // an upgrade or redo pass of a saved work (upgrade.go)
	saved          result     // the "already saved" outcome an upgrade pass falls back to
}

func newWorkState(w *openalex.Work, rounds int) *workState {
	return &workState{w: w, rounds: rounds, seen: resolve.NewSeen(), pages: &pageTally{}}
}

// hoster is a resolver that can tell which host its Resolve will ask for a work ("" for
// none), so the frontier can schedule the request before a worker takes it.
type hoster interface {
	Host(w *openalex.Work) string
}

// nextHost names the host the work's next step sends to, or "" when the step sends
// nothing or the host cannot be known before it runs.
func (r *Runner) nextHost(ws *workState) string {
	switch {
	case !ws.checked:
		return ""
	case len(ws.cands) > 0:
		if r.opts.DryRun {
			return ""
		}
		return fetch.HostOf(ws.cands[0].URL)
	case ws.ri < len(r.deps.Resolvers):
		if h, ok := r.deps.Resolvers[ws.ri].(hoster); ok {
			return h.Host(ws.w)
		}
	}
	return ""
}

// step runs the work's next step. done is true when the work has ended for this round,
// with res saying how.
func (r *Runner) step(ctx context.Context, ws *workState) (res result, done bool) {
	res, done = r.stepOnce(ctx, ws)
	if done {
		res = r.finishPass(ws, res)
	}
	return res, done
}

func (r *Runner) stepOnce(ctx context.Context, ws *workState) (res result, done bool) {
	ws.started = true
	w := ws.w
	if !ws.checked {
		ws.checked = true
		return r.resumed(ctx, ws)
	}
	if ws.pass.mode != 0 {
		ctx = withPass(ctx, ws.pass.mode, ws.pass.prev)
	}
	if ctx.Err() != nil {
		return result{class: manifest.ClassDeferred, reason: "interrupted"}, true
	}
	if len(ws.cands) > 0 {
		c := ws.cands[0]
		ws.cands = ws.cands[1:]
		if r.opts.DryRun {
			ws.dry = append(ws.dry, c)
			rec := r.attempt(w, c.Resolver, c.URL, policy.Download, ws.resolvedAt)
			rec.Classification = manifest.ClassDryRun
			r.write(rec)
			return result{}, false
		}
		res, k := r.tryFollowing(ctx, w, c, ws.seen, ws.pages)
		if k != nil {
			if k.kind == KindPDF {
				return r.save(w, k, res), true
			}
			if ws.fallback == nil || (ws.fallback.kind == KindHTML && k.kind == KindXML) {
				ws.fallback.discard()
				ws.fallback = k
			} else {
				k.discard()
			}
			return result{}, false
		}
		ws.deferHosts = append(ws.deferHosts, res.hosts...)
		ws.transient = ws.transient || res.transient
		ws.miss = res
		return result{}, false
	}
	if ws.ri < len(r.deps.Resolvers) {
		rs := r.deps.Resolvers[ws.ri]
		ws.ri++
		start := r.deps.Clock.Now()
		cands, err := rs.Resolve(ctx, w)
		if err != nil {
			rec := r.attempt(w, rs.Name(), "", policy.Resolve, start)
			rec.Reason, rec.Decision = "resolver_error", policy.Failover.String()
			transient := true // a resolver that broke (an undecodable answer) may work next time
			if fe := (*fetch.Error)(nil); errors.As(err, &fe) {
				rec.Reason, rec.Decision, rec.HTTPStatus = fe.Reason(), decision(fe, policy.Failover), fe.Status
				transient = fe.Transient()
				if h, ok := fe.RateLimited(); ok && h != "" {
					ws.deferHosts = append(ws.deferHosts, h)
				}
			}
			rec.Classification = manifest.ClassMiss
			r.write(rec)
			ws.resolverFailed = rec.Reason
			ws.transient = ws.transient || transient
			r.log.Debug("resolver failed; trying the next", "work", w.ID, "resolver", rs.Name(), "err", redact.Text(err.Error()))
			return result{}, false
		}
		ws.resolvedAt = start
		for _, c := range cands {
			if ws.seen.Add(c) {
				ws.candidates++
				ws.cands = append(ws.cands, c)
				continue
			}
			ws.preferHTTPS(c)
		}
		return result{}, false
	}
	return r.settle(ctx, ws), true
}

// preferHTTPS: a later resolver offers the https form of a candidate that an earlier
// one offered over http and that is still waiting: fetch the https one.
func (ws *workState) preferHTTPS(c resolve.Candidate) {
	if !resolve.IsHTTPSOf(c.URL, "") {
		return
	}
	for i := range ws.cands {
		if resolve.IsHTTPSOf(c.URL, ws.cands[i].URL) {
			ws.cands[i].URL = c.URL
			return
		}
	}
}

// settle is how a work ends once every resolver and candidate has been tried.
func (r *Runner) settle(ctx context.Context, ws *workState) result {
	if r.opts.DryRun {
		res := result{class: manifest.ClassDryRun, reason: fmt.Sprintf("%d_candidates", len(ws.dry))}
		if len(ws.dry) > 0 {
			res.url, res.resolver = ws.dry[0].URL, ws.dry[0].Resolver
		} else {
			res.reason = "no_oa_candidates"
		}
		return res
	}
	if len(ws.deferHosts) > 0 {
		// A host that asked us to wait may hold the PDF: defer rather than settle for
		// an XML/HTML fallback (which the retry will find again if there is no PDF).
		return result{class: manifest.ClassDeferred, reason: "rate_limited", hosts: dedupe(ws.deferHosts)}
	}
	if ws.fallback != nil && r.upgrading(ctx) {
		return result{class: manifest.ClassMiss, reason: "no_pdf"} // keep the saved file (upgrade.go)
	}
	if k := ws.fallback; k != nil {
		ws.fallback = nil
		return r.save(ws.w, k, k.res)
	}
	if ws.candidates == 0 {
		if ws.resolverFailed != "" {
			// A resolver that failed may know a candidate: say why. The work counts
			// as failed (exit 3) only when that failure may pass (5xx, timeout,
			// malformed answer), not for a permanent answer such as a 403.
			return result{class: manifest.ClassMiss, reason: ws.resolverFailed, transient: ws.transient}
		}
		if r.readLandingPages(ws.w) {
			// The landing-page resolver read the work's pages without an error and
			// found no link to full text on any: all there is, is landing pages.
			return result{class: manifest.ClassMiss, reason: "landing_page_only"}
		}
		return result{class: manifest.ClassMiss, reason: "no_oa_candidates"}
	}
	last := ws.pages.final(ws.miss)
	last.class = manifest.ClassMiss
	if last.reason == "" {
		last.reason = "no_valid_candidate"
	}
	last.transient = ws.transient
	return last
}

// readLandingPages reports whether the landing-page resolver is in the chain and the
// work has a landing page for it to read.
func (r *Runner) readLandingPages(w *openalex.Work) bool {
	if r.opts.DryRun {
		return false
	}
	for _, rs := range r.deps.Resolvers {
		if rs.Name() == providers.LandingPage {
			for _, loc := range w.AllLocations() {
				if loc.LandingPageURL != "" {
					return true
				}
			}
		}
	}
	return false
}

// resumed handles a work that an earlier run saved. done is true when nothing more
// is to be done for it. A saved XML or HTML file may start a pass instead (ws.pass):
// an upgrade to PDF, or a redo when the saved page is not full text (upgrade.go).
func (r *Runner) resumed(ctx context.Context, ws *workState) (result, bool) {
	w := ws.w
	if (r.opts.NoResume && !r.opts.Revalidate) || ws.pass.mode != 0 {
		return result{}, false
	}
	prev, ok := r.index.Latest(w.ID)
	if !ok || !prev.Saved() || !r.store.verify(prev.Path, prev.SHA256) {
		return result{}, false
	}
	res := savedResult(prev)
	res.class, res.reason, res.status = manifest.ClassSkipped, "already_saved", 0
	if r.opts.Revalidate {
		return r.revalidate(ctx, w, prev, res), true
	}
	if m := r.reconsider(w, prev); m != 0 {
		ws.pass, ws.saved = pass{mode: m, prev: prev}, res
		return result{}, false
	}
	return res, true
}

// finish writes the work's one manifest record for this run and counts it.
func (r *Runner) finish(w *openalex.Work, res result) {
	rec := r.record(w, manifest.TypeManifest)
	res.fill(rec)
	r.write(rec)
	r.checkpointFinished(w.ID, res)
	r.mu.Lock()
	r.byClass[res.class]++
	if res.reason != "" {
		r.byReason[res.reason]++
	}
	if res.class == manifest.ClassMiss && res.transient {
		r.failed++
	}
	r.mu.Unlock()
	if r.deps.Progress != nil {
		r.deps.Progress.WorkDone(res.class, res.size)
	}
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || v != s[i-1]) {
			out = append(out, v)
		}
	}
	return out
}
