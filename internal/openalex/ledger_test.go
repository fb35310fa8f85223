package openalex

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/fetch"
)

func costHeader(cost, remaining string) http.Header {
	h := http.Header{}
	if cost != "" {
		h.Set("X-RateLimit-Cost-USD", cost)
	}
	if remaining != "" {
		h.Set("X-RateLimit-Remaining-USD", remaining)
	}
	return h
}

func TestLedgerCountsHeaders(t *testing.T) {
	l := NewLedger(0)
	for _, h := range []http.Header{costHeader("0.001", "0.999"), costHeader("$0.001", "0.998"), costHeader("", ""),
		costHeader("bogus", "-1"), costHeader("NaN", "Inf")} {
		if err := l.Reserve(CallSearch); err != nil {
			t.Fatal(err)
		}
		l.Settle(CallSearch, h)
	}
	u := l.Usage()
	if u.CostUSD < 0.00199 || u.CostUSD > 0.00201 || u.RemainingUSD == nil || *u.RemainingUSD != 0.998 || u.Calls != 5 {
		t.Fatalf("usage %+v (remaining %v)", u, u.RemainingUSD)
	}
	h := http.Header{}
	h.Set("X-RateLimit-Credits-Used", "1234")
	h.Set("X-RateLimit-Reset", "3600")
	l.Observe(CallSingle, h)
	if u := l.Usage(); u.CreditsUsed == nil || *u.CreditsUsed != 1234 || u.ResetSeconds != 3600 {
		t.Fatalf("credits/reset %+v", u)
	}
	var nilLedger *Ledger
	if nilLedger.Reserve(CallContent) != nil || nilLedger.Usage().Calls != 0 {
		t.Fatal("a nil ledger must allow everything and count nothing")
	}
	nilLedger.Settle(CallList, h)
	nilLedger.SettleDelivered(CallContent, h)
}

// The budget refuses the call that would pass it, estimating from the last reported
// cost of the same kind (or the list price before any report), and counting calls in
// flight.
func TestLedgerBudget(t *testing.T) {
	l := NewLedger(0.0025)
	for i := range 2 {
		if err := l.Reserve(CallList); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		l.Settle(CallList, costHeader("0.001", ""))
	}
	err := l.Reserve(CallList)
	if !errors.Is(err, ErrBudgetExhausted) || !strings.Contains(err.Error(), "$0.0020 of $0.0025") {
		t.Fatalf("third call: %v", err)
	}
	// Free calls always pass.
	if err := l.Reserve(CallSingle); err != nil {
		t.Fatal(err)
	}
	l.Settle(CallSingle, nil)

	// Calls in flight count: two reservations of 0.01 against 0.015 → the second waits.
	c := NewLedger(0.015)
	if err := c.Reserve(CallContent); err != nil {
		t.Fatal(err)
	}
	if err := c.Reserve(CallContent); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("second content reservation: %v", err)
	}
	// A delivered PDF without a cost header is booked at the list price.
	c.SettleDelivered(CallContent, http.Header{})
	if u := c.Usage(); u.CostUSD != PriceContentUSD {
		t.Fatalf("content cost %v", u.CostUSD)
	}
	// A failed one (no answer) costs nothing and frees its reservation.
	d := NewLedger(0.01)
	_ = d.Reserve(CallContent)
	d.Settle(CallContent, nil)
	if err := d.Reserve(CallContent); err != nil || d.Usage().CostUSD != 0 {
		t.Fatalf("after a failed call: %v, cost %v", err, d.Usage().CostUSD)
	}
}

// Search reads the cost of every page and stops before the budget, with an error
// that wraps ErrBudgetExhausted, having delivered the pages it paid for.
func TestSearchStopsAtBudget(t *testing.T) {
	pages := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages++
		w.Header().Set("X-RateLimit-Cost-USD", "0.001")
		fmt.Fprintf(w, `{"meta":{"count":100,"next_cursor":"c%d"},"results":[{"id":"https://openalex.org/W%d"}]}`, pages, pages)
	}))
	defer srv.Close()
	l := NewLedger(0.0035)
	c := &Client{BaseURL: srv.URL, Doer: fetch.ClientDoer{Client: srv.Client()}, Ledger: l}
	var got []string
	err := c.Search(context.Background(), Query{Search: "kg"}, nil, func(w Work) error { got = append(got, w.ID); return nil })
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("err %v", err)
	}
	if pages != 3 || len(got) != 3 {
		t.Fatalf("%d pages, works %v; want 3", pages, got)
	}
	if u := l.Usage(); u.CostUSD < 0.00299 || u.CostUSD > 0.00301 {
		t.Fatalf("cost %v", u.CostUSD)
	}
}

func TestCallKind(t *testing.T) {
	for u, want := range map[string]CallKind{
		"https://api.openalex.org/works?search=kg&cursor=*":        CallSearch,
		"https://api.openalex.org/works?filter=topics.id:T1":       CallList,
		"https://api.openalex.org/works/W123?select=id":            CallSingle,
		"https://api.openalex.org/works/doi:10.1/x":                CallSingle,
		"https://mirror.example/openalex/works/?filter=is_oa:true": CallList,
	} {
		if got := callKind(u); got != want {
			t.Errorf("callKind(%s) = %s, want %s", u, got, want)
		}
	}
}
