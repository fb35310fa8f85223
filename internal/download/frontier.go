package download

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
)

// The frontier schedules by host, like a crawler's: each work is a workState whose
// next step names a host, and a step is handed to a worker only when its host may be
// sent to now (fetch.Client.TryAcquire). A work whose host is closed, probing, at its
// concurrency cap or out of tokens waits in that host's queue as data. Workers bound
// the steps in progress; a step that has to wait inside a request (a retry pause, a
// redirect to a busy host) gives its worker back while it waits (fetch.Yielder).

// frontierCap bounds the works held at once (running, queued on a host, or deferred),
// so memory stays flat however long discovery is. At about 2 KB a work it is a few
// MB; only when every one of them waits on slow hosts does discovery pause.
func frontierCap(workers int) int { return max(4096, 128*workers) }

// slots counts the workers. A step holds one while it runs; a request that parks gives
// its one back and takes one again before it goes on, ahead of new steps.
type slots struct {
	mu      sync.Mutex
	free    int
	waiting int // parked requests that want their worker back
	changed chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n, changed: make(chan struct{})} }

// take claims a worker for a new step, unless every free one is wanted by a parked
// request waiting to unpark (those come first).
func (s *slots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free <= s.waiting {
		return false
	}
	s.free--
	return true
}

// untake returns a worker that take claimed but did not use. Only a parked request
// that began to wait for a worker in between needs waking: the frontier itself knows.
func (s *slots) untake() {
	s.mu.Lock()
	s.free++
	if s.waiting > 0 {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
}

// free1 reports whether take would succeed now.
func (s *slots) free1() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.free > s.waiting
}

// give returns a worker.
func (s *slots) give() {
	s.mu.Lock()
	s.free++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// watch returns a channel closed when a worker is next given back.
func (s *slots) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Park gives the worker of a waiting request back.
func (s *slots) Park() { s.give() }

// Unpark takes a worker again for a request that is done waiting. When ctx is done it
// takes one at once (the run is ending) and returns ctx.Err().
func (s *slots) Unpark(ctx context.Context) error {
	s.mu.Lock()
	for s.free <= 0 && ctx.Err() == nil {
		ch := s.changed
		s.waiting++
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.waiting--
	}
	s.free--
	s.mu.Unlock()
	return ctx.Err()
}

// stepOutcome is what a worker reports when a work leaves it: ended (res) or parked on
// a host.
type stepOutcome struct {
	ws     *workState
	res    result
	done   bool
	parkOn string
}

// hostQueue holds the works waiting for one host, oldest first.
type hostQueue struct {
	works []*workState
	// notBefore: do not ask the host again before this time; untilChange: not before
	// the next change of some host's state.
	notBefore   time.Time
	untilChange bool
}

type frontier struct {
	r     *Runner
	ctx   context.Context
	slots *slots
	done  chan stepOutcome
	jobs  chan stepJob // idle step goroutines wait here for their next step; closed at shutdown

	discovery <-chan *openalex.Work // nil once closed
	ready     []*workState          // next step needs no host: run it as soon as a worker is free
	queues    map[string]*hostQueue
	hosts     []string // hosts with a queue, in round-robin order
	rr        int
	deferred  []*workState // ended deferred, waiting for their hosts to reopen
	// deferredDue is the earliest time a deferred work's hosts reopen: windows are
	// never shortened, so no deferred work needs looking at before it.
	deferredDue time.Time
	held        int // works in the frontier: running, ready, queued or deferred
	running     int
	capacity    int
}

func (r *Runner) newFrontier(ctx context.Context, works <-chan *openalex.Work) *frontier {
	return &frontier{r: r, ctx: ctx, slots: newSlots(r.opts.Workers), done: make(chan stepOutcome), jobs: make(chan stepJob),
		discovery: works, queues: map[string]*hostQueue{}, capacity: frontierCap(r.opts.Workers)}
}

// run schedules until discovery has ended and every work has its record, or until ctx
// ends; then it waits for the steps in progress and settles what is left.
func (f *frontier) run() {
	for {
		hostsChanged := f.r.deps.Fetch.Changed()
		slotsChanged := f.slots.watch()
		f.collect()
		if f.ctx.Err() != nil {
			break
		}
		f.wakeDeferred()
		f.shedDeferred()
		f.dispatch()
		if f.discovery == nil && f.held == len(f.deferred) {
			if !f.waitForDeferred() {
				break
			}
			continue
		}
		f.wait(hostsChanged, slotsChanged)
	}
	f.shutdown()
}

// collect takes in the outcomes of steps that have ended, without blocking.
func (f *frontier) collect() {
	for {
		select {
		case o := <-f.done:
			f.settle(o)
		default:
			return
		}
	}
}

func (f *frontier) settle(o stepOutcome) {
	f.running--
	ws := o.ws
	if !o.done {
		f.enqueue(o.parkOn, ws)
		return
	}
	ws.fallback.discard()
	ws.fallback = nil
	if o.res.class == manifest.ClassDeferred && f.ctx.Err() == nil && ws.rounds < f.r.opts.DeferRounds {
		ws.last = o.res
		f.deferred = append(f.deferred, ws)
		if at := f.reopenAt(ws); f.deferredDue.IsZero() || at.Before(f.deferredDue) {
			f.deferredDue = at
		}
		return
	}
	f.held--
	f.r.finish(ws.w, o.res)
}

// enqueue parks a work on its next host.
func (f *frontier) enqueue(hostName string, ws *workState) {
	q := f.queues[hostName]
	if q == nil {
		q = &hostQueue{}
		f.queues[hostName] = q
		f.hosts = append(f.hosts, hostName)
	}
	q.works = append(q.works, ws)
}

// reopenAt is when the latest of the hosts that deferred the work reopens (zero if all
// are open).
func (f *frontier) reopenAt(ws *workState) time.Time {
	var t time.Time
	for _, h := range ws.last.hosts {
		if u, _ := f.r.deps.Fetch.HostOpenAt(h); u.After(t) {
			t = u
		}
	}
	return t
}

// wakeDeferred moves deferred works whose hosts have reopened back into the frontier,
// for another round, even in the middle of the main pass.
func (f *frontier) wakeDeferred() {
	if len(f.deferred) == 0 {
		return
	}
	now := f.r.deps.Clock.Now()
	if f.deferredDue.After(now) {
		return
	}
	kept := f.deferred[:0]
	woken := 0
	f.deferredDue = time.Time{}
	for _, ws := range f.deferred {
		if at := f.reopenAt(ws); at.After(now) {
			kept = append(kept, ws)
			if f.deferredDue.IsZero() || at.Before(f.deferredDue) {
				f.deferredDue = at
			}
			continue
		}
		again := newWorkState(ws.w, ws.rounds+1)
		again.started, again.last = true, ws.last // tried in this run: it gets a record
		f.ready = append(f.ready, again)
		woken++
	}
	clear(f.deferred[len(kept):])
	f.deferred = kept
	if woken > 0 {
		f.r.log.Info("retrying deferred works: their hosts reopened", "works", woken)
	}
}

// shedDeferred makes room when the frontier is full: works deferred on hosts that
// stay closed beyond max_wait (a spent quota, a long Retry-After) end as deferred now,
// as they would at the end of the pass, so discovery can go on.
func (f *frontier) shedDeferred() {
	if f.held < f.capacity || len(f.deferred) == 0 {
		return
	}
	limit := f.r.deps.Clock.Now().Add(f.r.opts.MaxWait)
	kept := f.deferred[:0]
	for _, ws := range f.deferred {
		if f.reopenAt(ws).After(limit) {
			f.held--
			f.r.finish(ws.w, ws.last)
			continue
		}
		kept = append(kept, ws)
	}
	clear(f.deferred[len(kept):])
	f.deferred = kept
}

// waitForDeferred is the end of the main pass: everything left is deferred. It sleeps
// until the first host that reopens within max_wait does, and says false when none
// will (the deferred works then end as deferred).
func (f *frontier) waitForDeferred() bool {
	if len(f.deferred) == 0 {
		return false
	}
	now := f.r.deps.Clock.Now()
	var first time.Time
	for _, ws := range f.deferred {
		at := f.reopenAt(ws)
		if !at.After(now) {
			return true // reopened since the loop last looked
		}
		if at.Sub(now) > f.r.opts.MaxWait {
			continue
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	if first.IsZero() {
		return false
	}
	if d := first.Sub(now); d > 0 {
		f.r.log.Info(fmt.Sprintf("waiting %s for a host to reopen before retrying deferred works", d.Round(time.Millisecond)),
			"works", len(f.deferred))
		if f.r.deps.Clock.Sleep(f.ctx, d) != nil {
			return false
		}
	}
	return true
}

// dispatch hands steps to free workers: ready works first, then works whose host may
// be sent to now (one per host per pass, round robin), then new works.
func (f *frontier) dispatch() {
	now := f.r.deps.Clock.Now()
	for f.slots.take() {
		ws, p := f.next(now)
		if ws == nil {
			f.slots.untake()
			return
		}
		f.start(ws, p)
	}
}

// next picks the next step to run now, with its host's permit when it has a host.
func (f *frontier) next(now time.Time) (*workState, *fetch.Permit) {
	if len(f.ready) > 0 {
		ws := f.ready[0]
		f.ready[0] = nil
		f.ready = f.ready[1:]
		return ws, nil
	}
	for range len(f.hosts) {
		if f.rr >= len(f.hosts) {
			f.rr = 0
		}
		name := f.hosts[f.rr]
		q := f.queues[name]
		if q.untilChange || q.notBefore.After(now) {
			f.rr++
			continue
		}
		p, at, err := f.r.deps.Fetch.TryAcquire(name)
		if p == nil && err == nil {
			q.notBefore, q.untilChange = at, at.IsZero()
			f.rr++
			continue
		}
		// A permit, or a window beyond max_wait: the step then defers at once,
		// without a request.
		ws := q.works[0]
		q.works[0] = nil
		q.works = q.works[1:]
		if len(q.works) == 0 {
			delete(f.queues, name)
			f.hosts = append(f.hosts[:f.rr], f.hosts[f.rr+1:]...)
		} else {
			f.rr++
		}
		return ws, p
	}
	if f.discovery != nil && f.held < f.capacity {
		select {
		case w, ok := <-f.discovery:
			if !ok {
				f.discovery = nil
				return nil, nil
			}
			f.held++
			return newWorkState(w, 0), nil
		default:
		}
	}
	return nil, nil
}

// stepJob is a work to run from its next step, with the permit acquired for it.
type stepJob struct {
	ws *workState
	p  *fetch.Permit
}

// start runs ws on a worker (already taken) from its next step: on an idle step
// goroutine when one waits, else on a new one. Reusing them spares each step a new
// goroutine's stack growth through the HTTP client (7.7 % of the instructions outside
// SHA-256 in bench/profiles). The worker count is the slots', not the goroutines':
// a step parked on a host holds its goroutine but gives its slot back.
func (f *frontier) start(ws *workState, p *fetch.Permit) {
	f.running++
	j := stepJob{ws, p}
	select {
	case f.jobs <- j:
	default:
		go f.stepper(j)
	}
}

// stepper runs steps until the frontier shuts down.
func (f *frontier) stepper(j stepJob) {
	for {
		o := f.r.runSteps(f.ctx, f.slots, j.ws, j.p)
		f.slots.give()
		f.done <- o
		var ok bool
		if j, ok = <-f.jobs; !ok {
			return
		}
	}
}

// wait blocks until something may let a step run: a step ended, a worker came free, a
// host changed, a new work arrived, the earliest host to ask again is due, or ctx ended.
func (f *frontier) wait(hostsChanged, slotsChanged <-chan struct{}) {
	var due time.Time
	// With every worker busy, a host coming due could not be served anyway: the next
	// worker given back (slotsChanged) wakes the loop instead of a timer that would
	// spin.
	for _, q := range f.whenFree() {
		if !q.untilChange && !q.notBefore.IsZero() && (due.IsZero() || q.notBefore.Before(due)) {
			due = q.notBefore
		}
	}
	// Deferred works are looked at on every pass of the loop. A timer wakes the loop
	// for one whose host reopens within max_wait while a worker is free to take it;
	// one further away gets a timer (capped at max_wait, so an idle loop looks again at
	// least that often) only while no step runs, since nothing else would wake the
	// loop. (A long timer while requests run would also warp a test's auto-advancing
	// clock under their feet.)
	if at := f.deferredDue; len(f.deferred) > 0 && !at.IsZero() && (f.running == 0 || f.slots.free1()) {
		limit := f.r.deps.Clock.Now().Add(f.r.opts.MaxWait)
		if !at.After(limit) || f.running == 0 {
			if at = minTime(at, limit); due.IsZero() || at.Before(due) {
				due = at
			}
		}
	}
	var timer <-chan struct{}
	if !due.IsZero() {
		tctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		ch := make(chan struct{})
		clk := f.r.deps.Clock
		d := due.Sub(clk.Now())
		go func() {
			if clk.Sleep(tctx, d) == nil {
				close(ch)
			}
		}()
		timer = ch
	}
	var discovery <-chan *openalex.Work
	if f.held < f.capacity && len(f.ready) == 0 {
		discovery = f.discovery
	}
	select {
	case o := <-f.done:
		f.settle(o)
	case w, ok := <-discovery:
		if !ok {
			f.discovery = nil
			return
		}
		f.held++
		f.ready = append(f.ready, newWorkState(w, 0))
	case <-hostsChanged:
	case <-slotsChanged:
	case <-timer:
	case <-f.ctx.Done():
	}
	// A host change may have come with another event that the select picked: the
	// marks set against the channel of this turn are stale either way.
	select {
	case <-hostsChanged:
		f.clearChangeMarks()
	default:
	}
}

// whenFree returns the host queues to time the next wake-up by: all of them while a
// worker is free, none while every worker is busy.
func (f *frontier) whenFree() map[string]*hostQueue {
	if !f.slots.free1() {
		return nil
	}
	return f.queues
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (f *frontier) clearChangeMarks() {
	for _, q := range f.queues {
		q.untilChange = false
	}
}

// shutdown ends the run loop: it waits for the steps in progress, then writes the
// records of works still held. A work that never ran a step gets none (it was not
// tried in this run); one interrupted in between steps is deferred.
func (f *frontier) shutdown() {
	for f.running > 0 {
		f.settle(<-f.done)
	}
	close(f.jobs) // the idle step goroutines end
	leftover := append([]*workState(nil), f.ready...)
	for _, name := range f.hosts {
		leftover = append(leftover, f.queues[name].works...)
	}
	for _, ws := range leftover {
		ws.fallback.discard()
		if !ws.started {
			continue
		}
		res := result{class: manifest.ClassDeferred, reason: "interrupted"}
		if ws.last.class != "" {
			res = ws.last // deferred earlier in this run, and not tried again since
		}
		f.r.finish(ws.w, res)
	}
	for _, ws := range f.deferred {
		f.r.finish(ws.w, ws.last)
	}
	if f.discovery != nil {
		for range f.discovery { //nolint:revive // drain so discovery can end
		}
	}
}

// runSteps runs a work's steps on one worker for as long as each next step may go now:
// it ends when the work ends, or parks the work on the host of a step that must wait.
func (r *Runner) runSteps(ctx context.Context, y fetch.Yielder, ws *workState, p *fetch.Permit) stepOutcome {
	ctx = fetch.WithYielder(ctx, y)
	for {
		res, done := r.step(fetch.WithPermit(ctx, p), ws)
		p.Cancel()
		p = nil
		if done {
			return stepOutcome{ws: ws, res: res, done: true}
		}
		h := r.nextHost(ws)
		if h == "" || ctx.Err() != nil {
			continue
		}
		var err error
		p, _, err = r.deps.Fetch.TryAcquire(h)
		if p != nil || err != nil {
			continue // err: a window beyond max_wait; the step defers at once
		}
		return stepOutcome{ws: ws, parkOn: h}
	}
}
