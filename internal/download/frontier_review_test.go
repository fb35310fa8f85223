package download

// Regression tests for defects a review of the frontier found: a stale "wait for a
// change" mark, a frontier full of far-deferred works, a lost wake-up in slots, a
// woken deferred work without a record on SIGINT, and waitForDeferred missing a host
// that had just reopened.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
	"github.com/docstokg/contentdl/internal/policy"
)

// Two workers given back while a parked request waits for one: the frontier's take
// fails (waiting>0), the waiter takes one, one stays free and nobody is told.
func TestSlotsNoLostWakeWithTwoFree(t *testing.T) {
	lost := 0
	for i := 0; i < 2000; i++ {
		s := newSlots(2)
		s.take()
		s.take()
		done := make(chan struct{})
		go func() { _ = s.Unpark(context.Background()); close(done) }()
		for {
			s.mu.Lock()
			w := s.waiting
			s.mu.Unlock()
			if w == 1 {
				break
			}
			time.Sleep(time.Microsecond)
		}
		s.give()
		s.give()
		ch := s.watch()  // frontier: top of loop
		took := s.take() // frontier: dispatch
		<-done
		if !took && s.free1() {
			select {
			case <-ch:
			default:
				lost++
			}
		}
		if took {
			s.untake()
		}
	}
	t.Logf("lost wake-ups: %d / 2000", lost)
	if lost > 0 {
		t.Fail()
	}
}

// A host change and a step's outcome arrive together: wait() takes the outcome and
// the host queue's "until a change" mark survives, relative to a channel never closed again.
func TestStaleChangeMarksAreCleared(t *testing.T) {
	stale, stuck := 0, 0
	const n = 200
	for i := 0; i < n; i++ {
		c := fetch.New(fetch.Options{LimitFor: func(string) fetch.HostLimit { return fetch.HostLimit{RPS: 1000, Burst: 10, Concurrency: 4} }})
		r := New(Options{Workers: 1, MaxWait: time.Minute}, Deps{Fetch: c})
		f := r.newFrontier(context.Background(), make(chan *openalex.Work))
		ws := newWorkState(&openalex.Work{ID: "W1"}, 0)
		f.queues["h:1"] = &hostQueue{works: []*workState{ws}, untilChange: true}
		f.hosts = []string{"h:1"}
		f.held, f.running = 2, 1
		hc := c.Changed()
		sc := f.slots.watch()
		p, _, _ := c.TryAcquire("h:1") // the probe that parked the queue...
		p.Cancel()                     // ...is answered: a change
		sent := make(chan struct{})
		go func() {
			f.done <- stepOutcome{ws: newWorkState(&openalex.Work{ID: "W2"}, 0), parkOn: "h:1"}
			close(sent)
		}()
		time.Sleep(200 * time.Microsecond)
		f.wait(hc, sc)
		if f.queues["h:1"].untilChange && f.running == 0 {
			stale++
			// next loop iteration: nothing dispatches although the host admits now
			_ = c.Changed()
			f.dispatch()
			if f.running == 0 && len(f.queues["h:1"].works) == 2 {
				if p2, _, _ := c.TryAcquire("h:1"); p2 != nil {
					p2.Cancel()
					stuck++
				}
			}
		}
		if f.running == 1 {
			f.settle(<-f.done)
		}
		<-sent
	}
	t.Logf("stale marks: %d / %d, stuck with admitting host, nothing running: %d", stale, n, stuck)
	if stale > 0 {
		t.Fail()
	}
}

// The frontier is full of works deferred on a host closed far beyond max_wait, and
// discovery still has works: nothing reads discovery, nothing ends the deferred works.
func TestFullFrontierShedsFarDeferredWorks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c := fetch.New(fetch.Options{Policy: policy.NewLegacy(policy.DefaultConfig()), MaxWait: 50 * time.Millisecond,
		Transport: http.DefaultTransport})
	if _, err := c.Get(context.Background(), policy.Download, srv.URL+"/x", nil); err == nil {
		t.Fatal("want a deferral")
	}
	hostName := fetch.HostOf(srv.URL)
	if u, _ := c.HostOpenAt(hostName); u.IsZero() {
		t.Fatal("host not closed")
	}
	r := New(Options{Workers: 1, DeferRounds: 2, MaxWait: 50 * time.Millisecond}, Deps{Fetch: c})
	var err error
	if r.man, err = manifest.OpenWriter(filepath.Join(t.TempDir(), "m.jsonl"), fileperm.Shared); err != nil {
		t.Fatal(err)
	}
	works := make(chan *openalex.Work, 3)
	works <- &openalex.Work{ID: "W3"}
	works <- &openalex.Work{ID: "W4"}
	close(works)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f := r.newFrontier(ctx, works)
	f.capacity = 2 // stands for max(4096, 128*workers)
	for _, id := range []string{"W1", "W2"} {
		ws := newWorkState(&openalex.Work{ID: id}, 0)
		ws.last = result{class: manifest.ClassDeferred, reason: "rate_limited", hosts: []string{hostName}}
		f.deferred = append(f.deferred, ws)
		f.held++
	}
	start := time.Now()
	f.run()
	t.Logf("run returned after %s (ctx: %v); works left in discovery: %d", time.Since(start).Round(time.Millisecond), ctx.Err(), len(works))
	if ctx.Err() != nil {
		t.Fail()
	}
}

// A deferred work whose host has just reopened (between wakeDeferred and
// waitForDeferred) makes waitForDeferred say "none will reopen".
func TestWaitForDeferredSeesReopenedHost(t *testing.T) {
	c := fetch.New(fetch.Options{})
	r := New(Options{Workers: 1, DeferRounds: 2, MaxWait: time.Minute}, Deps{Fetch: c})
	f := r.newFrontier(context.Background(), nil)
	ws := newWorkState(&openalex.Work{ID: "W1"}, 0)
	ws.last = result{class: manifest.ClassDeferred, hosts: []string{"open.example:1"}}
	f.deferred = []*workState{ws}
	f.held = 1
	if !f.waitForDeferred() {
		t.Error("waitForDeferred gave up on a work whose host is open now")
	}
}

// A work deferred in round 0 and woken for round 1, interrupted before its first step
// of round 1: it ends the run with no manifest record although it was tried.
func TestWokenDeferredWorkKeepsItsRecordOnInterrupt(t *testing.T) {
	c := fetch.New(fetch.Options{})
	r := New(Options{Workers: 1, DeferRounds: 2, MaxWait: time.Minute}, Deps{Fetch: c})
	var err error
	if r.man, err = manifest.OpenWriter(filepath.Join(t.TempDir(), "m.jsonl"), fileperm.Shared); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := r.newFrontier(ctx, nil)
	ws := newWorkState(&openalex.Work{ID: "W1"}, 0)
	ws.started = true
	ws.last = result{class: manifest.ClassDeferred, reason: "rate_limited", hosts: []string{"open.example:1"}}
	f.deferred = []*workState{ws}
	f.held = 1
	f.wakeDeferred() // its host reopened
	cancel()         // SIGINT before a worker takes it
	f.shutdown()
	n := 0
	for _, v := range r.byClass {
		n += v
	}
	if n != 1 {
		t.Errorf("records for the work: %d, want 1 (byClass %v)", n, r.byClass)
	}
}
