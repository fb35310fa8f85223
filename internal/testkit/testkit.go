// Package testkit holds the small helpers that tests across packages share: a
// buffer that goroutines may write while the test reads it, and a local HTTP server
// that records what it was asked. Only tests import it.
package testkit

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer that is safe to write from many goroutines (a logger, a
// server, a progress display) while the test reads it. The zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Server is an httptest.Server that keeps a copy of every request it receives
// (without the body) before handing it to its handler. It closes when the test ends.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

// NewServer starts a recording server in front of h.
func NewServer(t testing.TB, h http.Handler) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}
