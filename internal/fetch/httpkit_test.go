package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestDecodeJSONLimit(t *testing.T) {
	var v map[string]string
	body := `{"a":"` + strings.Repeat("x", 100) + `"}`
	if err := DecodeJSON(strings.NewReader(body), 50, &v); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	if err := DecodeJSON(strings.NewReader(body), int64(len(body)), &v); err != nil || len(v["a"]) != 100 {
		t.Fatalf("exact-size body: %v", err)
	}
	if err := DecodeJSON(strings.NewReader(body+"\n\n"), int64(len(body)+2), &v); err != nil {
		t.Fatalf("trailing whitespace: %v", err)
	}
	if err := DecodeJSON(strings.NewReader(body+"{}"), 1000, &v); err == nil {
		t.Fatal("trailing value accepted")
	}
}

func TestClientDoerSendsHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	hdr := http.Header{"X-Api-Key": {"k"}, "Accept": {"text/html"}}
	resp, err := ClientDoer{Client: srv.Client()}.Get(context.Background(), 0, srv.URL+"/p", hdr)
	if err != nil {
		t.Fatal(err)
	}
	CloseBody(resp)
	if h := <-got; h.Get("X-Api-Key") != "k" || h.Get("Accept") != "text/html" {
		t.Fatalf("headers = %v", h)
	}
	_, err = ClientDoer{}.Get(context.Background(), 0, "http://127.0.0.1:1/x?api_key=zzz", nil)
	if err == nil || strings.Contains(err.Error(), "zzz") {
		t.Fatalf("transport error not redacted: %v", err)
	}
}

// A status error is one *Error: its reason, host and transience come from its status,
// the last through the policy's classification (501 and 505 are final, 503 is not).
func TestStatusErrorBehaviour(t *testing.T) {
	for _, tc := range []struct {
		status    int
		transient bool
		limited   bool
	}{{503, true, false}, {500, true, false}, {429, true, true}, {408, true, false},
		{501, false, false}, {505, false, false}, {404, false, false}, {304, false, false}} {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.org/v2/x?api_key=sekrit", nil)
		resp := &http.Response{StatusCode: tc.status, Request: req, Header: http.Header{"Retry-After": {"7"}}}
		e := NewStatusError(resp, "ignored")
		host, limited := e.RateLimited()
		if e.Transient() != tc.transient || limited != tc.limited || host != "api.example.org" {
			t.Errorf("%d: transient %v, rate limited %v %q; want %v, %v", tc.status, e.Transient(), limited, host,
				tc.transient, tc.limited)
		}
		if e.Reason() != "http_"+strconv.Itoa(tc.status) {
			t.Errorf("%d: reason %q", tc.status, e.Reason())
		}
		if strings.Contains(e.Error(), "sekrit") || !strings.HasPrefix(e.Error(), "HTTP "+strconv.Itoa(tc.status)) ||
			!strings.HasSuffix(e.Error(), "(Retry-After: 7)") {
			t.Errorf("%d: message %q", tc.status, e.Error())
		}
	}
}
