package testkit

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestBufferTakesConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}

func TestServerRecordsRequests(t *testing.T) {
	s := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, p := range []string{"/a?x=1", "/b"} {
		resp, err := s.Client().Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Errorf("status %d: the handler did not answer", resp.StatusCode)
		}
	}
	got := s.Requests()
	if len(got) != 2 || got[0].URL.Path != "/a" || got[0].URL.Query().Get("x") != "1" || got[1].URL.Path != "/b" {
		t.Errorf("recorded %v", got)
	}
}
