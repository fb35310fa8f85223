package openalex

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Indicative OpenAlex prices (2026), used to estimate a call before its first answer
// reports the real cost in X-RateLimit-Cost-USD. The ledger prefers what the service
// reports.
const (
	PriceListUSD    = 0.0001 // one filter/list page (about $0.10 per 1,000)
	PriceSearchUSD  = 0.001  // one search= page (about $1 per 1,000)
	PriceContentUSD = 0.01   // one PDF from content.openalex.org
	PriceSingleUSD  = 0      // singleton look-ups are free
)

// CallKind is what an OpenAlex call is, for pricing.
type CallKind uint8

// The kinds of OpenAlex call.
const (
	CallSingle CallKind = iota
	CallList
	CallSearch
	CallContent
)

func (k CallKind) String() string {
	switch k {
	case CallList:
		return "list"
	case CallSearch:
		return "search"
	case CallContent:
		return "content"
	}
	return "single"
}

func (k CallKind) indicative() float64 {
	switch k {
	case CallList:
		return PriceListUSD
	case CallSearch:
		return PriceSearchUSD
	case CallContent:
		return PriceContentUSD
	}
	return PriceSingleUSD
}

// ErrBudgetExhausted says the next OpenAlex call would take the run's cost past
// openalex.max_cost_usd. Discovery and paid downloads stop; a later run resumes.
var ErrBudgetExhausted = errors.New("openalex: budget exhausted")

// Ledger counts what a run spends on OpenAlex, from the cost headers of every
// response (X-RateLimit-Cost-USD, -Remaining-USD, -Credits-Used, -Reset), and holds
// the run's budget. It is safe for concurrent use; a nil *Ledger does nothing.
type Ledger struct {
	mu           sync.Mutex
	maxUSD       float64 // 0 = no limit
	costUSD      float64
	remainingUSD float64
	hasRemaining bool
	creditsUsed  float64
	hasCredits   bool
	resetSeconds int64
	calls        int
	last         [4]float64 // last reported cost per CallKind
	seen         [4]bool
	reserved     float64 // estimated cost of calls in flight
}

// NewLedger returns a ledger with a budget of maxUSD (0 = no limit).
func NewLedger(maxUSD float64) *Ledger { return &Ledger{maxUSD: maxUSD} }

// Reserve asks to make one call of kind k. It returns ErrBudgetExhausted (wrapped,
// with the figures) when the run's cost so far plus the calls in flight plus this
// call's estimate would pass the budget. A successful Reserve must be followed by
// exactly one Settle with the same kind.
func (l *Ledger) Reserve(k CallKind) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	est := l.estimateLocked(k)
	if l.maxUSD > 0 && est > 0 && l.costUSD+l.reserved+est > l.maxUSD+1e-12 {
		return fmt.Errorf("%w: spent $%.4f of $%.4f, and a %s call costs about $%.4f",
			ErrBudgetExhausted, l.costUSD, l.maxUSD, k, est)
	}
	l.reserved += est
	return nil
}

// Settle records the answer to a reserved call: its headers (nil when no answer
// came) are read, and the reservation is released.
func (l *Ledger) Settle(k CallKind, h http.Header) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved = math.Max(0, l.reserved-l.estimateLocked(k))
	if h != nil {
		l.observeLocked(k, h)
	}
}

// SettleDelivered settles a reserved call whose answer was delivered (a paid PDF):
// like Settle, but when the answer does not report its cost the kind's list price is
// booked.
func (l *Ledger) SettleDelivered(k CallKind, h http.Header) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved = math.Max(0, l.reserved-l.estimateLocked(k))
	if h == nil {
		h = http.Header{}
	}
	if _, ok := headerFloat(h, "X-RateLimit-Cost-USD"); !ok {
		l.costUSD += k.indicative()
		h = h.Clone()
		h.Del("X-RateLimit-Cost-USD")
	}
	l.observeLocked(k, h)
}

// Observe records the cost headers of a response that was not reserved.
func (l *Ledger) Observe(k CallKind, h http.Header) {
	if l == nil || h == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observeLocked(k, h)
}

func (l *Ledger) estimateLocked(k CallKind) float64 {
	if l.seen[k] {
		return l.last[k]
	}
	return k.indicative()
}

func (l *Ledger) observeLocked(k CallKind, h http.Header) {
	l.calls++
	cost, ok := headerFloat(h, "X-RateLimit-Cost-USD")
	if ok {
		l.costUSD += cost
		l.last[k], l.seen[k] = cost, true
	}
	if v, ok := headerFloat(h, "X-RateLimit-Remaining-USD"); ok {
		l.remainingUSD, l.hasRemaining = v, true
	}
	if v, ok := headerFloat(h, "X-RateLimit-Credits-Used"); ok {
		l.creditsUsed, l.hasCredits = v, true
	}
	if v, ok := headerFloat(h, "X-RateLimit-Reset"); ok {
		l.resetSeconds = int64(v)
	}
}

// headerFloat parses a numeric header ("0.0001", "$0.0001", " 12 "); ok is false
// when it is absent or not a finite, non-negative number.
func headerFloat(h http.Header, name string) (float64, bool) {
	s := strings.TrimPrefix(strings.TrimSpace(h.Get(name)), "$")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	return v, true
}

// Usage is the ledger's view for the summary and the metrics.
type Usage struct {
	// CostUSD is what this run spent, as the service reported it.
	CostUSD float64 `json:"cost_usd"`
	// RemainingUSD is the allowance left as last reported; nil when never reported.
	RemainingUSD *float64 `json:"remaining_usd"`
	// CreditsUsed is the credits-used figure last reported, if any.
	CreditsUsed *float64 `json:"credits_used,omitempty"`
	// ResetSeconds is the last reported time until the allowance resets.
	ResetSeconds int64 `json:"reset_seconds,omitempty"`
	// MaxCostUSD is the run's budget; 0 means none.
	MaxCostUSD float64 `json:"max_cost_usd"`
	// Calls counts the OpenAlex responses seen.
	Calls int `json:"calls"`
}

// Usage returns the figures so far.
func (l *Ledger) Usage() Usage {
	if l == nil {
		return Usage{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u := Usage{CostUSD: l.costUSD, MaxCostUSD: l.maxUSD, Calls: l.calls, ResetSeconds: l.resetSeconds}
	if l.hasRemaining {
		v := l.remainingUSD
		u.RemainingUSD = &v
	}
	if l.hasCredits {
		v := l.creditsUsed
		u.CreditsUsed = &v
	}
	return u
}
