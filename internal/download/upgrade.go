package download

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/resolve"
)

// ReasonUpgraded marks a work whose saved XML or HTML was joined by a PDF.
const ReasonUpgraded = "upgraded"

// passMode says why a work that an earlier run saved is taken through its steps again.
type passMode uint8

const (
	passUpgrade passMode = iota + 1 // look for a PDF only; the saved file stays
	passRedo                        // the saved file was not full text: resolve afresh
)

type passKey struct{}

type pass struct {
	mode passMode
	prev *manifest.Record
}

func withPass(ctx context.Context, m passMode, prev *manifest.Record) context.Context {
	return context.WithValue(ctx, passKey{}, pass{m, prev})
}

func passOf(ctx context.Context) passMode {
	p, _ := ctx.Value(passKey{}).(pass)
	return p.mode
}

// skipForUpgrade says an upgrade pass need not fetch c: it promises XML or HTML, or
// it is the URL the saved file came from. In the latter case a saved HTML page's PDF
// link, read from the file on disk, is returned to be tried instead.
func (r *Runner) skipForUpgrade(ctx context.Context, c resolve.Candidate) (bool, []resolve.Candidate) {
	p, _ := ctx.Value(passKey{}).(pass)
	if p.mode != passUpgrade {
		return false, nil
	}
	if c.Hint == KindXML || c.Hint == KindHTML {
		return true, nil
	}
	if p.prev == nil || p.prev.URL == "" {
		return false, nil
	}
	a, okA := resolve.CanonicalKey(c.URL)
	b, okB := resolve.CanonicalKey(p.prev.URL)
	if !okA || !okB || a != b {
		return false, nil
	}
	return true, r.savedPageLinks(p.prev)
}

// savedPageLinks returns the PDF link named by a saved HTML page, as a candidate.
func (r *Runner) savedPageLinks(prev *manifest.Record) []resolve.Candidate {
	if savedKind(prev) != manifest.ClassHTML {
		return nil
	}
	path, ok := r.store.resolve(prev.Path)
	if !ok {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	base, _ := url.Parse(prev.URL)
	link, found := resolve.ExtractPDFLink(f, base)
	if !found {
		return nil
	}
	return []resolve.Candidate{{URL: link, Resolver: providers.LandingPage, Hint: KindPDF}}
}

// upgrading reports whether this pass only looks for a PDF, so an XML or HTML
// fallback must not replace the saved file.
func (r *Runner) upgrading(ctx context.Context) bool { return passOf(ctx) == passUpgrade }

// reconsider decides what happens to a work whose earlier outcome is a saved file. It
// returns the pass to run for it, or 0 when the saved file stands as it is (a PDF, a
// dry run, --no-upgrade for XML):
//   - an HTML file saved by an earlier version is classified again with ClassifyPage;
//     a landing, paywall or challenge page is removed and the work resolved afresh
//     (passRedo);
//   - an XML or HTML full text is re-resolved for a PDF (passUpgrade, unless
//     NoUpgrade); see finishPass.
//
// The pass runs as the work's next steps in the frontier, scheduled by host like any
// other.
func (r *Runner) reconsider(w *openalex.Work, prev *manifest.Record) passMode {
	if r.opts.DryRun {
		return 0
	}
	class := savedKind(prev)
	if class != manifest.ClassHTML && class != manifest.ClassXML {
		return 0
	}
	if class == manifest.ClassHTML {
		if v := r.reclassify(prev); v != PageFullText {
			r.log.Info("a page saved by an earlier run is not full text; resolving the work again",
				"work", w.ID, "path", prev.Path, "verdict", v.String())
			if p, ok := r.store.resolve(prev.Path); ok {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					r.log.Warn("could not remove the page", "path", prev.Path, "err", err)
				}
			}
			return passRedo
		}
	}
	if r.opts.NoUpgrade {
		return 0
	}
	return passUpgrade
}

// finishPass turns the outcome of a work's steps into its result for this run. After
// an upgrade pass a PDF is saved next to the old file and the record names both;
// anything else leaves the old file standing and the work counts as already saved.
func (r *Runner) finishPass(ws *workState, up result) result {
	if ws.pass.mode != passUpgrade {
		return up
	}
	prev := ws.pass.prev
	if up.class != manifest.ClassPDF {
		r.log.Debug("no PDF yet for a work saved as "+savedKind(prev), "work", ws.w.ID, "outcome", up.class, "reason", up.reason)
		return ws.saved
	}
	up.reason = ReasonUpgraded
	up.previous = prev
	r.log.Info("upgraded a work to PDF; the earlier file stays", "work", ws.w.ID, "previous", prev.Path, "path", up.path)
	return up
}

// savedKind is the classification of a saved record, taken from its folder when the
// record is a "skipped" one.
func savedKind(prev *manifest.Record) string {
	switch {
	case prev.Classification == manifest.ClassPDF || strings.HasPrefix(prev.Path, dirPDF+"/"):
		return manifest.ClassPDF
	case prev.Classification == manifest.ClassXML || strings.HasPrefix(prev.Path, dirXML+"/"):
		return manifest.ClassXML
	case prev.Classification == manifest.ClassHTML || strings.HasPrefix(prev.Path, dirHTML+"/"):
		return manifest.ClassHTML
	}
	return prev.Classification
}

// reclassify runs the page classifier over a saved HTML file (its first PageScanLen
// bytes). A file that cannot be read counts as full text: resume already checked its
// hash, and a read error is no evidence against it.
func (r *Runner) reclassify(prev *manifest.Record) PageVerdict {
	p, ok := r.store.resolve(prev.Path)
	if !ok {
		return PageFullText
	}
	f, err := os.Open(p)
	if err != nil {
		return PageFullText
	}
	defer f.Close()
	return ClassifyPage(f, prev.URL, prev.Resolver == providers.EuropePMC)
}
