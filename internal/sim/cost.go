package sim

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// CostSpec meters the OpenAlex host in USD the way OpenAlex does since 2026: every
// /works listing costs ListUSD (SearchUSD with search=), single records are free, and
// each answer carries X-RateLimit-Cost-USD, X-RateLimit-Remaining-USD,
// X-RateLimit-Credits-Used and X-RateLimit-Reset (seconds to the next UTC midnight).
// When the allowance cannot pay for a listing, it is answered 429 with a Retry-After
// until midnight. The zero value meters nothing and sends no cost headers.
type CostSpec struct {
	// ListUSD is the price of a filter/list page (OpenAlex: about 0.0001).
	ListUSD float64 `yaml:"list_usd"`
	// SearchUSD is the price of a search= page (OpenAlex: about 0.001).
	SearchUSD float64 `yaml:"search_usd"`
	// AllowanceUSD is the daily allowance; 0 means unlimited.
	AllowanceUSD float64 `yaml:"allowance_usd"`
}

func (c CostSpec) enabled() bool { return c.ListUSD > 0 || c.SearchUSD > 0 }

// meter is the OpenAlex host's spending state.
type meter struct {
	mu      sync.Mutex
	spent   float64
	credits int
}

// charge books one listing (search or not) at now and writes the cost headers. It
// returns false when the allowance cannot pay for it; the caller answers 429.
func (m *meter) charge(spec CostSpec, search bool, h http.Header, now time.Time) bool {
	if !spec.enabled() {
		return true
	}
	price := spec.ListUSD
	if search {
		price = spec.SearchUSD
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	reset := midnightAfter(now).Sub(now)
	h.Set("X-RateLimit-Reset", strconv.Itoa(int(reset.Seconds())))
	if spec.AllowanceUSD > 0 && m.spent+price > spec.AllowanceUSD+1e-12 {
		h.Set("X-RateLimit-Cost-Required-USD", usd(price))
		h.Set("X-RateLimit-Remaining-USD", usd(max(0, spec.AllowanceUSD-m.spent)))
		h.Set("Retry-After", strconv.Itoa(int(reset.Seconds())))
		return false
	}
	m.spent += price
	m.credits += int(price * 10000)
	h.Set("X-RateLimit-Cost-USD", usd(price))
	h.Set("X-RateLimit-Credits-Used", strconv.Itoa(m.credits))
	if spec.AllowanceUSD > 0 {
		h.Set("X-RateLimit-Limit-USD", usd(spec.AllowanceUSD))
		h.Set("X-RateLimit-Remaining-USD", usd(spec.AllowanceUSD-m.spent))
	}
	return true
}

// Spent returns what the OpenAlex host has charged so far, in USD.
func (s *Sim) Spent() float64 {
	s.cost.mu.Lock()
	defer s.cost.mu.Unlock()
	return s.cost.spent
}

func usd(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

func midnightAfter(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
}
