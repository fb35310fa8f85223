// Package fleet shares each host's politeness budget between processes through Redis:
// the request budget (a reserving GCRA), Retry-After windows and quota marks, the
// concurrency cap (leases that expire), the learned rate (one cut per episode, raises
// by compare-and-set) and the members' count (a heartbeat). Every change is one Lua
// script that reads Redis's clock, so the machines' clocks never need to agree.
//
// Redis going away is not an outage: each call has a short timeout, and after a few
// failures in a row the client reports fallback, the fetch layer limits each host
// locally at its rate divided by the last known members' count, and the client
// reconnects in the background with backoff. See docs/fleet.md.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docstokg/contentdl/internal/clock"
)

// Options configures a Client.
type Options struct {
	URL    string // redis://[user:password@]host:port/db, rediss:// or unix://
	Name   string // the fleet's name, the key prefix: processes of one fleet share it; default "default"
	Member string // this process's id (cli gives host:pid:random); default member-<random>

	Timeout   time.Duration // every call's limit; default 100ms
	Failures  int           // failures in a row before falling back; default 3
	Heartbeat time.Duration // how often the member says it is alive; default 1s
	LeaseTTL  time.Duration // a concurrency lease's life, renewed by the heartbeat; default 60s

	Clock  clock.Clock
	Logger *slog.Logger
	Rand   func() float64 // jitter of the reconnect backoff; nil = math/rand/v2
}

// ErrUnavailable is returned without touching the network while the client is in
// fallback: the caller limits locally.
var ErrUnavailable = errors.New("fleet: redis unavailable, limiting locally")

// ownerTimeout is how long the member that made the last change of a host's learned
// rate keeps the sole right to raise it: after that, any member may (the owner may
// have ended).
const ownerTimeout = time.Minute

// keyTTL is how long an idle host's keys stay in Redis.
const keyTTL = 24 * time.Hour

// Client talks to the fleet's Redis. It is safe for concurrent use.
type Client struct {
	o      Options
	rdb    *redis.Client
	prefix string
	addr   string // host:port for messages, never the password

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the heartbeat and the reconnect loop
	relWG  sync.WaitGroup // lease releases under way

	fallback  atomic.Bool
	fails     atomic.Int32
	members   atomic.Int64
	fallbacks atomic.Int64 // fallback episodes so far
	errs      atomic.Int64
	seq       atomic.Uint64

	mu    sync.Mutex
	held  map[string]map[string]struct{} // host → lease ids this member holds
	watch []Watcher
}

// Watcher is told when the client falls back and when it is back. FleetBack runs as
// soon as Redis answers again, so a watcher can write local state back into the fleet
// (for example, windows it learned of while Redis was away) through the client: the
// calls it makes then go to Redis. Other calls may reach Redis at the same time; a
// process's own windows still hold locally meanwhile.
type Watcher interface {
	FleetFallback(members int)
	FleetBack(ctx context.Context)
}

// ConfigError is a wrong URL, an unreachable server or refused credentials at start:
// the run should end before any request, with a usage-style exit code.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string { return e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

// Open connects to Redis, checks that it answers and accepts the credentials, and
// registers the member. It starts the heartbeat.
func Open(ctx context.Context, o Options) (*Client, error) {
	if o.Name == "" {
		o.Name = "default"
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Member == "" {
		o.Member = fmt.Sprintf("member-%08x", rand.Uint32())
	}
	quietRedisLog.Do(func() { redis.SetLogger(discardLogger{}) })
	ro, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, &ConfigError{Msg: "not a Redis URL (want redis://host:port/db): " + scrubURL(err.Error(), o.URL), Err: err}
	}
	addr := ro.Addr
	ro.DialTimeout = o.Timeout
	ro.ReadTimeout = o.Timeout
	ro.WriteTimeout = o.Timeout
	ro.PoolTimeout = o.Timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1 // no retries inside go-redis: a failure counts towards fallback
	ro.DisableIdentity = true
	rdb := redis.NewClient(ro)

	// The first contact may take longer than a per-request timeout (a TLS handshake,
	// a cold server), but not long: a cron job should fail fast on a wrong address.
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		_ = rdb.Close()
		return nil, &ConfigError{Msg: startError(addr, err), Err: err}
	}
	cctx, ccancel := context.WithCancel(context.Background())
	c := &Client{
		o: o, rdb: rdb, addr: addr,
		prefix: "contentdl:" + o.Name + ":",
		ctx:    cctx, cancel: ccancel,
		held: map[string]map[string]struct{}{},
	}
	c.members.Store(1)
	if err := c.beat(); err != nil {
		_ = rdb.Close()
		ccancel()
		return nil, &ConfigError{Msg: startError(addr, err), Err: err}
	}
	c.wg.Add(1)
	go c.heartbeat()
	return c, nil
}

// go-redis logs connection failures itself, on the process's stderr; the client
// reports every failure through its errors and its own logger instead.
var quietRedisLog sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// startError says in one line why Redis could not be used at start.
func startError(addr string, err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "invalid username-password"):
		return "redis at " + addr + " refused the credentials: check the user and password in the URL (WRONGPASS)"
	case strings.Contains(msg, "NOAUTH"):
		return "redis at " + addr + " refused the credentials: it needs a password in the URL (NOAUTH)"
	case strings.Contains(msg, "NOPERM"):
		return "redis at " + addr + " does not let this user run scripts (NOPERM)"
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") {
		return "cannot reach redis at " + addr + ": " + firstLine(msg)
	}
	return "redis at " + addr + " did not answer as Redis: " + firstLine(msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// scrubURL removes the URL's password from a parser's message.
func scrubURL(msg, raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if cred := rest[:at]; cred != "" {
				msg = strings.ReplaceAll(msg, cred, "xxxxx")
			}
		}
	}
	return msg
}

// Watch adds a watcher. Call it before the first request.
func (c *Client) Watch(w Watcher) {
	c.mu.Lock()
	c.watch = append(c.watch, w)
	c.mu.Unlock()
}

// Name is the fleet's name; Member is this process's id; Addr is the server's address.
func (c *Client) Name() string   { return c.o.Name }
func (c *Client) Member() string { return c.o.Member }
func (c *Client) Addr() string   { return c.addr }

// Members is the number of live members at the last heartbeat (at least 1).
func (c *Client) Members() int { return int(max(c.members.Load(), 1)) }

// Fallback reports whether the client is limiting locally because Redis is away.
func (c *Client) Fallback() bool { return c.fallback.Load() }

// Stats is what the metrics and the summary show.
type Stats struct {
	Members   int
	Fallback  bool
	Fallbacks int64 // fallback episodes so far
	Errors    int64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Members: c.Members(), Fallback: c.Fallback(), Fallbacks: c.fallbacks.Load(),
		Errors: c.errs.Load()}
}

// Close stops the heartbeat, gives back this member's leases and leaves the fleet.
func (c *Client) Close() error {
	c.relWG.Wait() // let the last requests' leases go back before the context ends
	c.cancel()
	c.wg.Wait()
	if !c.fallback.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*c.o.Timeout)
		pipe := c.rdb.Pipeline()
		pipe.ZRem(ctx, c.prefix+"members", c.o.Member)
		c.mu.Lock()
		for host, ids := range c.held {
			for id := range ids {
				pipe.ZRem(ctx, c.leaseKey(host), id)
			}
		}
		c.held = map[string]map[string]struct{}{}
		c.mu.Unlock()
		_, _ = pipe.Exec(ctx)
		cancel()
	}
	return c.rdb.Close()
}

func (c *Client) hostKey(host string) string  { return c.prefix + "h:" + host }
func (c *Client) leaseKey(host string) string { return c.prefix + "l:" + host }

// call runs fn with the per-call timeout and counts its failure towards fallback.
func (c *Client) call(fn func(ctx context.Context) error) error {
	if c.fallback.Load() {
		return ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
	err := fn(ctx)
	cancel()
	if err == nil || errors.Is(err, redis.Nil) {
		c.fails.Store(0)
		return nil
	}
	if c.ctx.Err() != nil {
		return err // closing
	}
	c.errs.Add(1)
	if c.fails.Add(1) >= int32(c.o.Failures) {
		c.startFallback(err)
	}
	return err
}

// startFallback switches to local limits once and starts reconnecting.
func (c *Client) startFallback(cause error) {
	if !c.fallback.CompareAndSwap(false, true) {
		return
	}
	c.fallbacks.Add(1)
	n := c.Members()
	c.o.Logger.Warn("fleet: redis unreachable; limiting each host locally at its rate divided by the fleet's members until it is back",
		"redis", c.addr, "members", n, "error", firstLine(cause.Error()))
	c.mu.Lock()
	ws := append([]Watcher(nil), c.watch...)
	// Leases lapse on their own; forget them so the heartbeat does not renew them.
	c.held = map[string]map[string]struct{}{}
	c.mu.Unlock()
	for _, w := range ws {
		go w.FleetFallback(n) // not here: the caller may hold a host's lock
	}
	c.wg.Add(1)
	go c.reconnect()
}

// reconnect pings Redis with a doubling, jittered backoff until it answers, lets the
// watchers write their local state back, and leaves fallback.
func (c *Client) reconnect() {
	defer c.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		d := time.Duration(float64(backoff) * (0.5 + c.o.Rand()))
		if err := c.o.Clock.Sleep(c.ctx, d); err != nil {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
		ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		c.fails.Store(0)
		c.fallback.Store(false)
		if err := c.beat(); err != nil {
			c.fallback.Store(true)
			continue
		}
		c.mu.Lock()
		ws := append([]Watcher(nil), c.watch...)
		c.mu.Unlock()
		for _, w := range ws {
			w.FleetBack(c.ctx)
		}
		if c.fallback.Load() {
			continue // failed again while writing back
		}
		c.o.Logger.Info("fleet: redis is back; hosts are limited fleet-wide again", "redis", c.addr, "members", c.Members())
		return
	}
}

// heartbeat says the member is alive, counts the members and renews the leases it
// holds, every Heartbeat.
func (c *Client) heartbeat() {
	defer c.wg.Done()
	for {
		if err := c.o.Clock.Sleep(c.ctx, c.o.Heartbeat); err != nil {
			return
		}
		if c.fallback.Load() {
			continue
		}
		_ = c.beat()
		c.renew()
	}
}

func (c *Client) beat() error {
	return c.call(func(ctx context.Context) error {
		silent := 5 * c.o.Heartbeat
		n, err := heartbeatScript.Run(ctx, c.rdb, []string{c.prefix + "members"},
			c.o.Member, silent.Microseconds(), keyTTL.Milliseconds()).Int64()
		if err == nil && n > 0 {
			c.members.Store(n)
		}
		return err
	})
}

func (c *Client) renew() {
	c.mu.Lock()
	work := make(map[string][]any, len(c.held))
	for host, ids := range c.held {
		if len(ids) == 0 {
			continue
		}
		args := []any{c.o.LeaseTTL.Microseconds()}
		for id := range ids {
			args = append(args, id)
		}
		work[host] = args
	}
	c.mu.Unlock()
	for host, args := range work {
		_ = c.call(func(ctx context.Context) error {
			return renewScript.Run(ctx, c.rdb, []string{c.leaseKey(host)}, args...).Err()
		})
	}
}

// Status says what Reserve decided.
type Status int

const (
	Reserved Status = iota // send after Wait; Lease is held from now
	Closed                 // the host's window runs for Wait more; Quota marks a quota
	Busy                   // every concurrency lease is taken; ask again shortly
)

// Grant is Reserve's answer.
type Grant struct {
	Status  Status
	Wait    time.Duration
	Quota   bool
	Lease   string  // "" without a concurrency cap
	Rate    float64 // the fleet's rate for the host (learned, or the default given)
	Version int64   // the learned rate's compare-and-set token
}

// Reserve asks for one request to host: closed (the fleet-wide window), busy (the
// fleet-wide concurrency cap), or reserved at Redis's now + Wait. Reservations are
// served in the order they reach Redis. A reservation with no wait holds its lease
// (Lease); one with a wait is claimed with Claim when its time comes. rate is the member's own rate for the host,
// used while the fleet has learned none; rate <= 0 or +Inf is unlimited. conc <= 0
// means no fleet-wide cap.
func (c *Client) Reserve(host string, rate float64, burst, conc int) (Grant, error) {
	var g Grant
	lease := ""
	if conc > 0 {
		lease = c.newLease()
	}
	err := c.call(func(ctx context.Context) error {
		v, err := reserveScript.Run(ctx, c.rdb, []string{c.hostKey(host), c.leaseKey(host)},
			rateArg(rate), burst, conc, lease, c.o.LeaseTTL.Microseconds(), keyTTL.Milliseconds()).Slice()
		if err != nil {
			return err
		}
		return parseGrant(v, &g)
	})
	if err != nil {
		return Grant{}, err
	}
	if g.Status == Reserved && g.Wait == 0 && lease != "" {
		g.Lease = lease
		c.hold(host, lease)
	}
	return g, nil
}

func rateArg(r float64) string {
	if r <= 0 || math.IsInf(r, 1) || math.IsNaN(r) {
		return "0"
	}
	return strconv.FormatFloat(r, 'g', -1, 64)
}

func parseGrant(v []any, g *Grant) error {
	if len(v) != 5 {
		return fmt.Errorf("fleet: reserve script returned %d values", len(v))
	}
	st, _ := v[0].(int64)
	wait, _ := v[1].(int64)
	q, _ := v[2].(int64)
	rs, _ := v[3].(string)
	ver, _ := v[4].(int64)
	r, err := strconv.ParseFloat(rs, 64)
	if err != nil {
		return fmt.Errorf("fleet: reserve script returned rate %q", rs)
	}
	*g = Grant{Status: Status(st), Wait: time.Duration(wait) * time.Microsecond, Quota: q == 1, Rate: r, Version: ver}
	return nil
}

// Claim turns a reservation whose time has come into a request (see Reserve):
// Reserved with the lease taken, Closed with the window's rest, or Busy.
func (c *Client) Claim(host string, conc int) (Grant, error) {
	lease := ""
	if conc > 0 {
		lease = c.newLease()
	}
	var v []int64
	err := c.call(func(ctx context.Context) error {
		var err error
		v, err = claimScript.Run(ctx, c.rdb, []string{c.hostKey(host), c.leaseKey(host)},
			conc, lease, c.o.LeaseTTL.Microseconds(), keyTTL.Milliseconds()).Int64Slice()
		return err
	})
	if err != nil {
		return Grant{}, err
	}
	if len(v) != 3 {
		return Grant{}, fmt.Errorf("fleet: claim script returned %d values", len(v))
	}
	g := Grant{Status: Status(v[0]), Wait: time.Duration(v[1]) * time.Microsecond, Quota: v[2] == 1}
	if g.Status == Reserved {
		g.Lease = lease
		c.hold(host, lease)
	}
	return g, nil
}

func (c *Client) newLease() string {
	return c.o.Member + ":" + strconv.FormatUint(c.seq.Add(1), 36)
}

func (c *Client) hold(host, lease string) {
	if lease == "" {
		return
	}
	c.mu.Lock()
	ids := c.held[host]
	if ids == nil {
		ids = map[string]struct{}{}
		c.held[host] = ids
	}
	ids[lease] = struct{}{}
	c.mu.Unlock()
}

// Release gives back a lease. It does not wait: a lease that cannot be given back now
// expires on its own.
func (c *Client) Release(host, lease string) {
	if lease == "" {
		return
	}
	c.mu.Lock()
	held := false
	if ids := c.held[host]; ids != nil {
		_, held = ids[lease]
		delete(ids, lease)
	}
	c.mu.Unlock()
	if !held || c.fallback.Load() {
		return
	}
	c.relWG.Add(1)
	go func() {
		defer c.relWG.Done()
		_ = c.call(func(ctx context.Context) error { return c.rdb.ZRem(ctx, c.leaseKey(host), lease).Err() })
	}()
}

// CloseHost extends the host's fleet-wide window to d from now (quota: an exhausted
// quota). A window is never shortened. It returns how long the window in force runs.
func (c *Client) CloseHost(host string, d time.Duration, quota bool) (time.Duration, error) {
	q := "0"
	if quota {
		q = "1"
	}
	var left int64
	err := c.call(func(ctx context.Context) error {
		var err error
		left, err = closeScript.Run(ctx, c.rdb, []string{c.hostKey(host)}, d.Microseconds(), q, keyTTL.Milliseconds()).Int64()
		return err
	})
	return time.Duration(left) * time.Microsecond, err
}

// Kind is the kind of change Learn proposes.
type Kind string

const (
	Seed    Kind = "seed"    // min(rate, the fleet's); the member owns the rate when it applies
	Restore Kind = "restore" // min(rate, the fleet's); the owner stays
	Cut     Kind = "cut"     // once per episode
	Raise   Kind = "raise"   // compare-and-set against version
)

// Learn proposes a change of the host's learned rate and returns the fleet's rate and
// version after it, and whether the proposal was applied. episode is how long a cut
// blocks further cuts. Only the member that made the last change raises the rate
// (for a minute after it; then any member may), by compare-and-set on version.
func (c *Client) Learn(host string, kind Kind, rate float64, version int64, episode time.Duration) (float64, int64, bool, error) {
	var out []any
	err := c.call(func(ctx context.Context) error {
		var err error
		out, err = learnScript.Run(ctx, c.rdb, []string{c.hostKey(host)},
			string(kind), rateArg(rate), version, episode.Microseconds(), keyTTL.Milliseconds(),
			c.o.Member, ownerTimeout.Microseconds()).Slice()
		return err
	})
	if err != nil {
		return 0, 0, false, err
	}
	if len(out) != 3 {
		return 0, 0, false, fmt.Errorf("fleet: learn script returned %d values", len(out))
	}
	rs, _ := out[0].(string)
	r, perr := strconv.ParseFloat(rs, 64)
	if perr != nil {
		return 0, 0, false, fmt.Errorf("fleet: learn script returned rate %q", rs)
	}
	ver, _ := out[1].(int64)
	applied, _ := out[2].(int64)
	return r, ver, applied == 1, nil
}
