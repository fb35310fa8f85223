package download

import (
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/resolve"
)

// reservePaid asks the OpenAlex budget for one paid download (a candidate of the
// openalex_content resolver). When the budget refuses, the run notes it (the summary
// says budget_exhausted, exit 3) and the candidate ends as a miss that a later run
// retries.
func (r *Runner) reservePaid(c resolve.Candidate) (result, bool) {
	if !c.Paid {
		return result{}, true
	}
	if err := r.deps.Ledger.Reserve(openalex.CallContent); err != nil {
		r.mu.Lock()
		first := !r.budgetSpent
		r.budgetSpent = true
		r.mu.Unlock()
		if first {
			r.log.Warn("OpenAlex budget reached: no more paid downloads in this run; a later run resumes", "err", err.Error())
		}
		return result{class: manifest.ClassMiss, reason: ReasonBudgetExhausted, resolver: c.Resolver, url: c.URL, transient: true}, false
	}
	return result{}, true
}

// settlePaid books a paid download: the cost its answer reports, or the list price
// when a PDF arrived and the answer did not say.
func (r *Runner) settlePaid(c resolve.Candidate, k *kept) {
	if !c.Paid || r.deps.Ledger == nil {
		return
	}
	if k == nil {
		r.deps.Ledger.Settle(openalex.CallContent, nil)
		return
	}
	r.deps.Ledger.SettleDelivered(openalex.CallContent, k.res.hdr)
}
