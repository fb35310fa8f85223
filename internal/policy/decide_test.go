package policy

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.MaxAttempts != 5 || c.BaseDelay != time.Second || c.MaxDelay != 30*time.Second || c.MaxWait != 60*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	want := map[OperationType]OpRule{
		Download:      {6, 60 * time.Second},
		Validate:      {3, 0},
		Resolve:       {3, 0},
		Extract:       {5, 0},
		ManifestFetch: {5, 0},
	}
	for op, r := range want {
		if c.Ops[op] != r {
			t.Errorf("Ops[%s] = %+v, want %+v", op, c.Ops[op], r)
		}
	}
	if c.normalized() != c {
		t.Errorf("DefaultConfig is not normalised: %+v", c.normalized())
	}
}

func TestConfigNormalized(t *testing.T) {
	var c Config
	c.Ops[Download] = OpRule{MaxAttempts: -1, Deadline: -time.Second}
	c.Ops[Resolve] = OpRule{MaxAttempts: 7, Deadline: time.Minute}
	n := c.normalized()
	d := DefaultConfig()
	if n.MaxAttempts != d.MaxAttempts || n.BaseDelay != d.BaseDelay || n.MaxDelay != d.MaxDelay || n.MaxWait != d.MaxWait {
		t.Errorf("zero fields not defaulted: %+v", n)
	}
	if n.Ops[Download] != (OpRule{MaxAttempts: 6, Deadline: 0}) {
		t.Errorf("Download rule = %+v, want attempts defaulted and negative deadline dropped", n.Ops[Download])
	}
	if n.Ops[Resolve] != (OpRule{MaxAttempts: 7, Deadline: time.Minute}) {
		t.Errorf("explicit Resolve rule changed: %+v", n.Ops[Resolve])
	}

	// Delays are ordered BaseDelay <= MaxDelay <= MaxWait.
	n = Config{BaseDelay: time.Hour, MaxDelay: 2 * time.Hour, MaxWait: 10 * time.Second}.normalized()
	if n.MaxDelay != 10*time.Second || n.BaseDelay != 10*time.Second {
		t.Errorf("delays not capped: base %v max %v", n.BaseDelay, n.MaxDelay)
	}
}

func TestStrings(t *testing.T) {
	kinds := map[ErrKind]string{
		ErrNone: "none", ErrTimeout: "timeout", ErrConnRefused: "connect_refused", ErrReset: "reset",
		ErrTLS: "tls", ErrCanceled: "canceled", ErrBadScheme: "bad_scheme", ErrOther: "other",
		ErrBlocked: "blocked_address", ErrTooSlow: "too_slow", 200: "unknown",
	}
	for k, want := range kinds {
		if got := k.String(); got != want {
			t.Errorf("ErrKind(%d).String() = %q, want %q", k, got, want)
		}
	}
	actions := map[Action]string{
		ActionNone: "none", Retry: "retry", Defer: "defer", Failover: "failover", Fail: "fail", 99: "unknown",
	}
	for a, want := range actions {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", a, got, want)
		}
	}
	if NewLegacy(Config{}).Name() != "legacy" || NewContextual(Config{}).Name() != "contextual" {
		t.Error("policy names")
	}
}

// ruleCase is one row of the rule table.
type ruleCase struct {
	name    string
	op      OperationType
	out     Outcome
	attempt int
	elapsed time.Duration
	want    Action
	wait    time.Duration
	reason  string
}

func runRuleTable(t *testing.T, p Policy, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s/attempt%d", p.Name(), tc.op, tc.name, tc.attempt), func(t *testing.T) {
			got := p.Decide(Input{
				Op: tc.op, Outcome: tc.out, Attempt: tc.attempt, Elapsed: tc.elapsed,
				Now: t0, Jitter: testJitter,
			})
			want := Decision{Action: tc.want, Wait: tc.wait, Reason: tc.reason}
			if got != want {
				t.Errorf("Decide = {%s %v %q}, want {%s %v %q}",
					got.Action, got.Wait, got.Reason, want.Action, want.Wait, want.Reason)
			}
		})
	}
}

// TestSuccessAndFatalEverywhere checks the rules shared by every policy and operation:
// 2xx/3xx succeed, and cancellation, TLS, bad schemes, blocked addresses, 501 and 4xx other than 408/429
// fail at once, even on the first attempt and with a Retry-After.
func TestSuccessAndFatalEverywhere(t *testing.T) {
	success := []Outcome{resp(200), resp(201), resp(204), resp(206), resp(301), resp(302), resp(304), resp(307)}
	fatal := map[string]Outcome{
		"canceled":        transport(ErrCanceled),
		"tls":             transport(ErrTLS),
		"bad_scheme":      transport(ErrBadScheme),
		"blocked_address": transport(ErrBlocked),
		"status_501":      resp(501),
		"status_400":      resp(400),
		"status_401":      resp(401),
		"status_403":      withRA(403, "5"),
		"status_404":      resp(404),
		"status_410":      resp(410),
		"status_422":      resp(422),
		"status_451":      resp(451),
		"status_505":      resp(505),
		"status_101":      resp(101),
		"status_invalid":  resp(0),
	}
	var cases []ruleCase
	for _, op := range append(Operations(), OperationType(42)) {
		for _, o := range success {
			cases = append(cases, ruleCase{name: fmt.Sprint(o.Status), op: op, out: o, attempt: 1, want: ActionNone, reason: "ok"})
		}
		for reason, o := range fatal {
			cases = append(cases, ruleCase{name: reason, op: op, out: o, attempt: 1, want: Fail, reason: reason})
		}
	}
	cases = append(cases, ruleCase{name: "999", op: Download, out: resp(999), attempt: 1, want: Fail, reason: "status_invalid"})
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		runRuleTable(t, p, cases)
	}
}

func TestContextualRules(t *testing.T) {
	const s = time.Second
	cases := []ruleCase{
		// DOWNLOAD: standard retries, 6 attempts, 60 s deadline.
		{"408", Download, resp(408), 1, 0, Retry, s / 2, "backoff"},
		{"429", Download, resp(429), 1, 0, Retry, s / 2, "backoff"},
		{"500", Download, resp(500), 2, 0, Retry, s, "backoff"},
		{"502", Download, resp(502), 3, 0, Retry, 2 * s, "backoff"},
		{"503", Download, resp(503), 1, 0, Retry, s / 2, "backoff"},
		{"504", Download, resp(504), 5, 0, Retry, 8 * s, "backoff"},
		{"timeout", Download, transport(ErrTimeout), 1, 0, Retry, s / 2, "backoff"},
		{"refused", Download, transport(ErrConnRefused), 1, 0, Retry, s / 2, "backoff"},
		{"reset", Download, transport(ErrReset), 1, 0, Retry, s / 2, "backoff"},
		{"other", Download, transport(ErrOther), 1, 0, Retry, s / 2, "backoff"},
		{"too slow", Download, transport(ErrTooSlow), 1, 0, Retry, s / 2, "backoff"},
		{"too slow", Download, transport(ErrTooSlow), 6, 0, Fail, 0, "max_attempts"},
		{"503", Download, resp(503), 6, 0, Fail, 0, "max_attempts"},
		{"refused", Download, transport(ErrConnRefused), 6, 0, Fail, 0, "max_attempts"},
		{"503 retry-after 10", Download, withRA(503, "10"), 1, 0, Retry, 10 * s, "retry_after"},
		{"429 retry-after 60 (= cap)", Download, withRA(429, "60"), 1, 0, Retry, 60 * s, "retry_after"},
		{"429 retry-after 0", Download, withRA(429, "0"), 1, 0, Retry, s / 10, "retry_after"},
		{"429 retry-after date", Download, withRA(429, t0.Add(7*s).Format(http.TimeFormat)), 1, 0, Retry, 7 * s, "retry_after"},
		{"429 retry-after garbage", Download, withRA(429, "soon"), 1, 0, Retry, s / 2, "backoff"},
		{"503 retry-after 61", Download, withRA(503, "61"), 1, 0, Defer, 61 * s, "retry_after_over_cap"},
		{"503 retry-after 61", Download, withRA(503, "61"), 6, 0, Defer, 61 * s, "retry_after_over_cap"},
		{"500 deadline exactly reached", Download, resp(500), 2, 59 * s, Retry, s, "backoff"},
		{"500 deadline would pass", Download, resp(500), 2, 59*s + s/2, Fail, 0, "deadline"},
		{"500 deadline passed", Download, resp(500), 1, 60 * s, Fail, 0, "deadline"},
		{"429 retry-after past deadline", Download, withRA(429, "30"), 1, 45 * s, Fail, 0, "deadline"},

		// VALIDATE: 429 and timeouts defer at once; 5xx retried up to 3 attempts.
		{"429", Validate, resp(429), 1, 0, Defer, s / 2, "rate_limited"},
		{"429 retry-after 20", Validate, withRA(429, "20"), 1, 0, Defer, 20 * s, "rate_limited"},
		{"429 retry-after 3600", Validate, withRA(429, "3600"), 1, 0, Defer, 3600 * s, "retry_after_over_cap"},
		{"timeout", Validate, transport(ErrTimeout), 1, 0, Defer, s / 2, "timeout"},
		{"timeout", Validate, transport(ErrTimeout), 2, 0, Defer, s, "timeout"},
		{"500", Validate, resp(500), 1, 0, Retry, s / 2, "backoff"},
		{"503", Validate, resp(503), 2, 0, Retry, s, "backoff"},
		{"500", Validate, resp(500), 3, 0, Fail, 0, "max_attempts"},
		{"refused", Validate, transport(ErrConnRefused), 3, 0, Fail, 0, "max_attempts"},

		// RESOLVE: 429 fails over at once; the rest retries 3 times, then fails over.
		{"429", Resolve, resp(429), 1, 0, Failover, 0, "rate_limited"},
		{"429 retry-after 5", Resolve, withRA(429, "5"), 1, 0, Failover, 0, "rate_limited"},
		{"timeout", Resolve, transport(ErrTimeout), 1, 0, Retry, s / 2, "backoff"},
		{"timeout", Resolve, transport(ErrTimeout), 2, 0, Retry, s, "backoff"},
		{"timeout", Resolve, transport(ErrTimeout), 3, 0, Failover, 0, "max_attempts"},
		{"500", Resolve, resp(500), 3, 0, Failover, 0, "max_attempts"},
		{"reset", Resolve, transport(ErrReset), 3, 0, Failover, 0, "max_attempts"},
		{"503", Resolve, resp(503), 1, 0, Retry, s / 2, "backoff"},
		{"503 retry-after 120", Resolve, withRA(503, "120"), 1, 0, Defer, 120 * s, "retry_after_over_cap"},

		// EXTRACT: standard retries up to 5 attempts.
		{"timeout", Extract, transport(ErrTimeout), 4, 0, Retry, 4 * s, "backoff"},
		{"timeout", Extract, transport(ErrTimeout), 5, 0, Fail, 0, "max_attempts"},
		{"429", Extract, resp(429), 1, 0, Retry, s / 2, "backoff"},
		{"503", Extract, resp(503), 1, 0, Retry, s / 2, "backoff"},
		{"reset", Extract, transport(ErrReset), 2, 0, Retry, s, "backoff"},
		{"500", Extract, resp(500), 5, 0, Fail, 0, "max_attempts"},

		// MANIFEST_FETCH: 429 and 503 defer without using attempts; the rest retries 5 times.
		{"429", ManifestFetch, resp(429), 1, 0, Defer, s / 2, "rate_limited"},
		{"429 retry-after 30", ManifestFetch, withRA(429, "30"), 1, 0, Defer, 30 * s, "rate_limited"},
		{"429 retry-after 7200", ManifestFetch, withRA(429, "7200"), 1, 0, Defer, 7200 * s, "retry_after_over_cap"},
		{"503", ManifestFetch, resp(503), 1, 0, Defer, s / 2, "unavailable"},
		{"503 at the attempt limit", ManifestFetch, resp(503), 5, 0, Defer, 8 * s, "unavailable"},
		{"timeout", ManifestFetch, transport(ErrTimeout), 4, 0, Retry, 4 * s, "backoff"},
		{"timeout", ManifestFetch, transport(ErrTimeout), 5, 0, Fail, 0, "max_attempts"},
		{"502", ManifestFetch, resp(502), 1, 0, Retry, s / 2, "backoff"},
		{"500", ManifestFetch, resp(500), 5, 0, Fail, 0, "max_attempts"},
		{"refused", ManifestFetch, transport(ErrConnRefused), 2, 0, Retry, s, "backoff"},
	}
	runRuleTable(t, NewContextual(DefaultConfig()), cases)
}

func TestLegacyRules(t *testing.T) {
	const s = time.Second
	var cases []ruleCase
	retryable := map[string]Outcome{
		"408": resp(408), "429": resp(429), "500": resp(500), "502": resp(502), "503": resp(503), "504": resp(504),
		"timeout": transport(ErrTimeout), "refused": transport(ErrConnRefused),
		"reset": transport(ErrReset), "other": transport(ErrOther), "too_slow": transport(ErrTooSlow),
	}
	for _, op := range Operations() {
		for name, o := range retryable {
			cases = append(cases,
				ruleCase{name, op, o, 1, 0, Retry, s / 2, "backoff"},
				ruleCase{name, op, o, 4, time.Hour, Retry, 4 * s, "backoff"}, // no deadline
				ruleCase{name, op, o, 5, 0, Fail, 0, "max_attempts"},
			)
		}
		cases = append(cases,
			ruleCase{"429 retry-after 3", op, withRA(429, "3"), 1, 0, Retry, 3 * s, "retry_after"},
			ruleCase{"503 retry-after 61", op, withRA(503, "61"), 1, 0, Defer, 61 * s, "retry_after_over_cap"},
		)
	}
	runRuleTable(t, NewLegacy(DefaultConfig()), cases)
}

// TestMalformedInput feeds inputs a careless caller could produce.
func TestMalformedInput(t *testing.T) {
	const s = time.Second
	p := NewContextual(DefaultConfig())
	cases := []struct {
		name string
		in   Input
		want Decision
	}{
		{"attempt 0", Input{Op: Download, Outcome: resp(500), Attempt: 0, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"negative attempt", Input{Op: Download, Outcome: resp(500), Attempt: -3, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"negative elapsed", Input{Op: Download, Outcome: resp(500), Attempt: 1, Elapsed: -time.Hour, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"nil header", Input{Op: Download, Outcome: Outcome{Status: 429}, Attempt: 1, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"NaN jitter", Input{Op: Download, Outcome: resp(500), Attempt: 1, Jitter: math.NaN()}, Decision{Retry, s / 10, "backoff"}},
		{"negative jitter", Input{Op: Download, Outcome: resp(500), Attempt: 1, Jitter: -5}, Decision{Retry, s / 10, "backoff"}},
		{"jitter above 1", Input{Op: Download, Outcome: resp(500), Attempt: 1, Jitter: 7}, Decision{Retry, s, "backoff"}},
		{"huge attempt", Input{Op: Download, Outcome: resp(500), Attempt: math.MaxInt, Jitter: testJitter}, Decision{Fail, 0, "max_attempts"}},
		{"huge elapsed", Input{Op: Download, Outcome: resp(500), Attempt: 1, Elapsed: math.MaxInt64, Jitter: testJitter}, Decision{Fail, 0, "deadline"}},
		{"unknown op uses legacy rules", Input{Op: 42, Outcome: resp(429), Attempt: 4, Jitter: testJitter}, Decision{Retry, 4 * s, "backoff"}},
		{"unknown op attempt limit", Input{Op: 42, Outcome: resp(429), Attempt: 5, Jitter: testJitter}, Decision{Fail, 0, "max_attempts"}},
		{"unknown error kind is retryable", Input{Op: Download, Outcome: Outcome{Err: 200}, Attempt: 1, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"transport error wins over status", Input{Op: Download, Outcome: Outcome{Status: 200, Err: ErrReset}, Attempt: 1, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"retry-after ignored on transport error", Input{Op: Download, Outcome: Outcome{Err: ErrTimeout, Header: http.Header{"Retry-After": {"3600"}}}, Attempt: 1, Jitter: testJitter}, Decision{Retry, s / 2, "backoff"}},
		{"huge retry-after", Input{Op: Download, Outcome: withRA(503, "99999999999999999999"), Attempt: 1}, Decision{Defer, maxDuration, "retry_after_over_cap"}},
		{"past retry-after date", Input{Op: Download, Outcome: withRA(503, "Sun, 06 Nov 1994 08:49:37 GMT"), Attempt: 1, Now: t0}, Decision{Retry, s / 10, "retry_after"}},
		{"zero value input", Input{}, Decision{Fail, 0, "status_invalid"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Decide(tc.in); got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestConfigShapesDecisions checks that the Config fields are honoured.
func TestConfigShapesDecisions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAttempts = 2
	cfg.BaseDelay = 100 * time.Millisecond
	cfg.MaxDelay = 400 * time.Millisecond
	cfg.MaxWait = 5 * time.Second
	cfg.Ops[Extract] = OpRule{MaxAttempts: 4, Deadline: time.Second}

	legacy := NewLegacy(cfg)
	if got := legacy.Decide(Input{Op: Download, Outcome: resp(500), Attempt: 2}); got.Action != Fail {
		t.Errorf("legacy MaxAttempts=2, attempt 2: %+v", got)
	}
	if got := legacy.Decide(Input{Op: Download, Outcome: resp(500), Attempt: 1, Jitter: 0.99}); got != (Decision{Retry, 99 * time.Millisecond, "backoff"}) {
		t.Errorf("legacy BaseDelay: %+v", got)
	}
	if got := legacy.Decide(Input{Op: Download, Outcome: withRA(503, "6"), Attempt: 1}); got.Action != Defer {
		t.Errorf("legacy MaxWait=5s, Retry-After 6: %+v", got)
	}

	ctx := NewContextual(cfg)
	if got := ctx.Decide(Input{Op: Extract, Outcome: resp(500), Attempt: 3, Jitter: 1}); got != (Decision{Retry, 400 * time.Millisecond, "backoff"}) {
		t.Errorf("contextual MaxDelay cap: %+v", got)
	}
	if got := ctx.Decide(Input{Op: Extract, Outcome: resp(500), Attempt: 3, Elapsed: 700 * time.Millisecond, Jitter: 1}); got != (Decision{Fail, 0, "deadline"}) {
		t.Errorf("contextual Extract deadline 1s: %+v", got)
	}
	if got := ctx.Decide(Input{Op: Extract, Outcome: resp(500), Attempt: 4}); got != (Decision{Fail, 0, "max_attempts"}) {
		t.Errorf("contextual Extract MaxAttempts=4: %+v", got)
	}
	if got := ctx.Decide(Input{Op: Download, Outcome: resp(500), Attempt: 5, Elapsed: time.Minute - time.Second}); got.Action != Retry {
		t.Errorf("contextual Download keeps its own rule: %+v", got)
	}
}

func TestScenarios(t *testing.T) {
	ctx := NewContextual(DefaultConfig())
	cases := []struct {
		name     string
		p        Policy
		op       OperationType
		outcomes []Outcome
		attempts int
		want     Action
		reason   string // checked when not empty
	}{
		{"download 429 twice then 200", ctx, Download, repeat(resp(429), 2, resp(200)), 3, ActionNone, "ok"},
		{"validate 429", ctx, Validate, repeat(resp(429), 5), 1, Defer, "rate_limited"},
		{"resolve 429", ctx, Resolve, repeat(resp(429), 5), 1, Failover, "rate_limited"},
		{"manifest_fetch 429", ctx, ManifestFetch, repeat(resp(429), 5), 1, Defer, "rate_limited"},
		{"manifest_fetch 503", ctx, ManifestFetch, repeat(resp(503), 5), 1, Defer, "unavailable"},
		{"validate timeout every time", ctx, Validate, repeat(transport(ErrTimeout), 5), 1, Defer, "timeout"},
		{"resolve timeout twice then 200", ctx, Resolve, repeat(transport(ErrTimeout), 2, resp(200)), 3, ActionNone, "ok"},
		{"resolve timeout every time", ctx, Resolve, repeat(transport(ErrTimeout), 9), 3, Failover, "max_attempts"},
		{"extract read timeout twice then 200", ctx, Extract, repeat(transport(ErrTimeout), 2, resp(200)), 3, ActionNone, "ok"},
		{"download connection error twice then 200", ctx, Download, repeat(transport(ErrConnRefused), 2, resp(200)), 3, ActionNone, "ok"},
		{"download reset twice then 200", ctx, Download, repeat(transport(ErrReset), 2, resp(200)), 3, ActionNone, "ok"},
		{"download read timeout twice then 200", ctx, Download, repeat(transport(ErrTimeout), 2, resp(200)), 3, ActionNone, "ok"},
		{"download 503 every time", ctx, Download, repeat(resp(503), 20), 6, Fail, "max_attempts"},
		{"download 501", ctx, Download, repeat(resp(501), 5), 1, Fail, "status_501"},
		{"download 404", ctx, Download, repeat(resp(404), 5), 1, Fail, "status_404"},
		{"download tls", ctx, Download, repeat(transport(ErrTLS), 5), 1, Fail, "tls"},
		{"download cancelled mid-loop", ctx, Download, []Outcome{transport(ErrTimeout), transport(ErrCanceled), resp(200)}, 2, Fail, "canceled"},
		{"download retry-after over cap", ctx, Download, repeat(withRA(503, "3600"), 3), 1, Defer, "retry_after_over_cap"},
		// Retry-After 25 s: attempts end at 0.1 s, 25.2 s and 50.3 s; a third 25 s wait
		// would pass the 60 s deadline long before the 6-attempt limit.
		{"download deadline cuts retries short", ctx, Download, repeat(withRA(503, "25"), 20), 3, Fail, "deadline"},
		{"validate 5xx every time", ctx, Validate, repeat(resp(502), 9), 3, Fail, "max_attempts"},
		{"manifest_fetch timeout every time", ctx, ManifestFetch, repeat(transport(ErrTimeout), 9), 5, Fail, "max_attempts"},
		{"legacy 500 every time", NewLegacy(DefaultConfig()), Download, repeat(resp(500), 20), 5, Fail, "max_attempts"},
		{"legacy 429 twice then 200", NewLegacy(DefaultConfig()), Resolve, repeat(resp(429), 2, resp(200)), 3, ActionNone, "ok"},
		{"legacy 403", NewLegacy(DefaultConfig()), Download, repeat(resp(403), 5), 1, Fail, "status_403"},
	}
	for _, op := range Operations() {
		cases = append(cases, struct {
			name     string
			p        Policy
			op       OperationType
			outcomes []Outcome
			attempts int
			want     Action
			reason   string
		}{op.String() + " 500 twice then 200", ctx, op, repeat(resp(500), 2, resp(200)), 3, ActionNone, "ok"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attempts, final := simulate(tc.p, tc.op, tc.outcomes)
			if attempts != tc.attempts || final.Action != tc.want || (tc.reason != "" && final.Reason != tc.reason) {
				t.Errorf("simulate = %d attempts, %+v; want %d attempts, %s %q",
					attempts, final, tc.attempts, tc.want, tc.reason)
			}
		})
	}
}

func TestScenarioDownloadMaxAttempts2(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Ops[Download].MaxAttempts = 2
	attempts, final := simulate(NewContextual(cfg), Download, repeat(transport(ErrConnRefused), 10))
	if attempts != 2 || final != (Decision{Action: Fail, Reason: "max_attempts"}) {
		t.Errorf("got %d attempts, %+v; want 2 attempts then Fail max_attempts", attempts, final)
	}
}

func TestScenarioRetryAfterHonoured(t *testing.T) {
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		// The date form names a whole second: 3 s after t0 is 2.9 s after the attempt ends.
		for _, ra := range []string{"2", t0.Add(3 * time.Second).Format(http.TimeFormat)} {
			trace := simulateTrace(p, Download, []Outcome{withRA(503, ra), resp(200)})
			if len(trace) != 2 || trace[1].got.Action != ActionNone {
				t.Fatalf("%s, Retry-After %q: trace %+v", p.Name(), ra, trace)
			}
			if first := trace[0].got; first.Action != Retry || first.Wait < 2*time.Second || first.Reason != "retry_after" {
				t.Errorf("%s, Retry-After %q: first decision %+v, want Retry with Wait >= 2s", p.Name(), ra, first)
			}
		}
	}
}

// TestRetryWaitsNeverZero guards against the busy loop of the Python original: every
// Retry waits at least BaseDelay/10, whatever the jitter.
func TestRetryWaitsNeverZero(t *testing.T) {
	cfg := DefaultConfig()
	floor := cfg.BaseDelay / 10
	for _, p := range []Policy{NewLegacy(cfg), NewContextual(cfg)} {
		for _, jitter := range []float64{0, 1e-300, 1e-12, 0.01, 0.5, 0.999999} {
			for attempt := 1; attempt < 5; attempt++ {
				for _, o := range []Outcome{resp(500), resp(429), transport(ErrReset), withRA(503, "0")} {
					d := p.Decide(Input{Op: Extract, Outcome: o, Attempt: attempt, Now: t0, Jitter: jitter})
					if d.Action != Retry {
						t.Fatalf("%s: %+v is not a Retry", p.Name(), d)
					}
					if d.Wait < floor {
						t.Errorf("%s jitter %g attempt %d status %d: Wait %v below floor %v",
							p.Name(), jitter, attempt, o.Status, d.Wait, floor)
					}
				}
			}
		}
	}
}

// decideMix is a spread of inputs for the allocation test and the benchmark: successes,
// fatal statuses, retries, Retry-After in seconds and IMF-fixdate, defers and failovers.
func decideMix() []Input {
	date := t0.Add(30 * time.Second).Format(http.TimeFormat)
	outcomes := []Outcome{
		resp(200), resp(304), resp(404), resp(501), withRA(403, "1"),
		resp(429), withRA(429, "5"), withRA(429, date), withRA(429, "3600"), withRA(503, "garbage"),
		resp(500), resp(502), resp(503), resp(504), resp(408),
		transport(ErrTimeout), transport(ErrConnRefused), transport(ErrReset),
		transport(ErrTLS), transport(ErrCanceled), transport(ErrOther), transport(ErrBlocked), Outcome{Status: 429},
	}
	var in []Input
	for i, o := range outcomes {
		for _, op := range Operations() {
			in = append(in, Input{
				Op: op, Outcome: o, Attempt: 1 + i%7, Elapsed: time.Duration(i) * 5 * time.Second,
				Now: t0, Jitter: float64(i%10) / 10,
			})
		}
	}
	return in
}

func TestDecideDoesNotAllocate(t *testing.T) {
	mix := decideMix()
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		allocs := testing.AllocsPerRun(20, func() {
			for _, in := range mix {
				_ = p.Decide(in)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pass over the mix, want 0", p.Name(), allocs)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	mix := decideMix()
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		b.Run(p.Name(), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = p.Decide(mix[i])
				i++
				if i == len(mix) {
					i = 0
				}
			}
		})
	}
}

// Retryable agrees with Decide: an outcome is retryable exactly when some policy, on
// some operation, answers it with anything but success or an immediate Fail.
func TestRetryableMatchesDecide(t *testing.T) {
	outs := []Outcome{transport(ErrTimeout), transport(ErrConnRefused), transport(ErrReset), transport(ErrOther),
		transport(ErrTooSlow), transport(ErrCanceled), transport(ErrTLS), transport(ErrBadScheme), transport(ErrBlocked),
		resp(0), resp(101), resp(999)}
	for s := 200; s <= 599; s++ {
		outs = append(outs, resp(s))
	}
	for _, o := range outs {
		decided := false
		for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
			for _, op := range Operations() {
				d := p.Decide(Input{Op: op, Outcome: o, Attempt: 1, Now: t0, Jitter: testJitter})
				if d.Action != ActionNone && d.Action != Fail {
					decided = true
				}
			}
		}
		if got := Retryable(o); got != decided {
			t.Errorf("Retryable(%d, %s) = %v, but Decide retries or defers it: %v", o.Status, o.Err, got, decided)
		}
	}
	for _, s := range []int{501, 505} {
		if Retryable(resp(s)) {
			t.Errorf("Retryable(%d) = true, want false", s)
		}
	}
}
