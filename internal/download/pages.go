package download

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/resolve"
)

// checkPage classifies an HTML body held in tmp (n bytes) that answered candidate c.
// It returns nil when the body is full text worth keeping, and otherwise the reason
// it is not: a landing page (with the PDF link found on it as the next candidate), a
// paywall or a bot challenge. A body from a candidate that promised a PDF or XML is
// never kept, but it is still classified, so a challenge page is reported as one and
// a landing page's PDF link is still followed.
func (r *Runner) checkPage(tmp *os.File, n int64, resp *http.Response, c resolve.Candidate) *contentError {
	pageURL := c.URL
	if resp.Request != nil && resp.Request.URL != nil {
		pageURL = resp.Request.URL.String()
	}
	v := ClassifyPage(io.NewSectionReader(tmp, 0, n), pageURL, c.FullText)
	ce := &contentError{reason: v.Reason(), verdict: v}
	if v == PageFullText {
		if c.Hint != KindPDF && c.Hint != KindXML {
			return nil
		}
		ce.reason = "html_not_pdf"
	}
	if v == PageLanding || v == PageFullText {
		base, _ := url.Parse(pageURL)
		if link, ok := resolve.ExtractPDFLink(io.NewSectionReader(tmp, 0, n), base); ok {
			ce.next = []resolve.Candidate{{URL: link, Resolver: providers.LandingPage, Hint: KindPDF}}
		}
		if v == PageLanding && (c.Hint == KindPDF || c.Hint == KindXML) {
			ce.reason = "html_not_pdf"
		}
	}
	return ce
}

// pageTally remembers, for one work, which kinds of non-article pages its candidates
// met, so that a work without full text ends with the reason that explains it best.
type pageTally struct {
	landing, paywall, challenge bool
}

func (p *pageTally) note(v PageVerdict) {
	switch v {
	case PageLanding:
		p.landing = true
	case PagePaywall:
		p.paywall = true
	case PageChallenge:
		p.challenge = true
	}
}

// final turns the last failure of a work that saved nothing into its outcome: a work
// whose candidates led only to landing pages ends as landing_page_only, else one that
// met a paywall as paywall, else one that met a bot check as bot_challenge. Other
// failures (a 404, a timeout) keep their own reason.
func (p *pageTally) final(last result) result {
	switch {
	case p.landing:
		last.reason = "landing_page_only"
	case p.paywall:
		last.reason = "paywall"
	case p.challenge:
		last.reason = "bot_challenge"
	}
	return last
}

// tryFollowing downloads candidate c; when c turns out to be a landing page (or any
// page that is not kept) that names a PDF, it downloads that link too, once, if the
// work has not offered it already. It notes every page verdict in pages.
func (r *Runner) tryFollowing(ctx context.Context, w *openalex.Work, c resolve.Candidate, seen *resolve.Seen, pages *pageTally) (result, *kept) {
	var res result
	var k *kept
	if skip, links := r.skipForUpgrade(ctx, c); skip {
		// The saved file came from here: its PDF link is read from disk instead.
		res = result{reason: "upgrade_skipped", resolver: c.Resolver, url: c.URL, next: links}
	} else if pres, ok := r.reservePaid(c); !ok {
		return pres, nil
	} else {
		res, k = r.tryCandidate(ctx, w, c)
		r.settlePaid(c, k)
	}
	next := res.next
	if k != nil {
		if k.kind != KindHTML {
			return res, k
		}
		// An HTML full text is kept as a fallback, but the PDF it links to is better.
		next = r.pdfLinkOf(k)
	}
	pages.note(res.verdict)
	for _, next := range next {
		if ctx.Err() != nil || !seen.Add(next) {
			continue
		}
		r.log.Debug("following the PDF link of a page", "work", w.ID, "verdict", res.verdict.String())
		nres, nk := r.tryCandidate(ctx, w, next)
		if nk != nil {
			if k != nil && nk.kind != KindPDF {
				nk.discard() // keep the page that led here
				continue
			}
			k.discard()
			return nres, nk
		}
		pages.note(nres.verdict)
		if k == nil && (len(nres.hosts) > 0 || nres.transient) {
			// A rate-limited or flaky PDF host matters more than the page that led there.
			return nres, nil
		}
	}
	return res, k
}

// pdfLinkOf returns the PDF link an HTML full text names, as a candidate.
func (r *Runner) pdfLinkOf(k *kept) []resolve.Candidate {
	if k.tmp == nil {
		return nil
	}
	base, _ := url.Parse(k.res.url)
	link, ok := resolve.ExtractPDFLink(io.NewSectionReader(k.tmp, 0, k.res.size), base)
	if !ok {
		return nil
	}
	return []resolve.Candidate{{URL: link, Resolver: providers.LandingPage, Hint: KindPDF}}
}
