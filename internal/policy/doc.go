// Package policy makes the retry decisions for every HTTP request contentdl sends. It is
// pure: no I/O, no clock, no randomness, no allocation in Decide. The caller reports what
// an attempt produced (an Outcome), how many attempts it has made, how long the request
// has been running, the current time and a jitter draw; Decide answers with an Action, a
// Wait and a static Reason code.
//
// # Classifying outcomes
//
// ClassifyError turns the error of http.Client.Do or of a body read into an ErrKind. With
// the status code, that sorts every outcome into one of these groups:
//
//	success      2xx, 3xx (including 304)                        → ActionNone "ok"
//	fatal        canceled; tls; bad_scheme; blocked_address;     → Fail, at once, on every
//	             501; 4xx except 408/429; 1xx; a status            operation and policy
//	             outside 100..599
//	timeout      ErrTimeout                                       retryable
//	connection   ErrConnRefused, ErrReset, ErrTooSlow, ErrOther   retryable
//	rate limited 429                                              retryable
//	unavailable  503                                              retryable
//	server       408, 500, 502, 504                               retryable
//
// The fatal reasons are "canceled", "tls", "bad_scheme", "blocked_address" (the network
// guard refused the address: retrying would reach the same address) and "status_NNN"
// ("status_invalid" for an impossible status). Other 5xx codes (505, 507, …) are fatal
// too: only the codes above are known to be transient.
//
// # Retrying
//
// For a retryable outcome the policy first looks for a Retry-After header (HTTP responses
// only; delay-seconds or any HTTP-date form, see ParseRetryAfter):
//
//   - Retry-After above Config.MaxWait → Defer "retry_after_over_cap", Wait = the full
//     Retry-After, so the caller knows when the host reopens. This holds whatever the
//     attempt count.
//   - Otherwise, once Attempt >= the attempt limit → the operation's exhausted action
//     (Fail, or Failover for Resolve) with reason "max_attempts".
//   - Otherwise Wait = the Retry-After ("retry_after"), never below the backoff floor, or
//     Backoff(Attempt, BaseDelay, MaxDelay, Jitter) ("backoff").
//   - If the operation has a Deadline and Elapsed + Wait would pass it → the exhausted
//     action with reason "deadline".
//   - Otherwise → Retry after Wait, which then lies between BaseDelay/10 and MaxWait.
//
// Backoff is full-jitter exponential, Jitter·min(MaxDelay, BaseDelay·2^(Attempt-1)),
// with a floor of BaseDelay/10 so that a retry never spins.
//
// # Legacy policy
//
// The legacy policy ("legacy", the default) applies the rules above to every operation
// with Config.MaxAttempts attempts and no deadline: it retries timeouts, connection
// errors, 408, 429, 500, 502, 503 and 504, never fails over, and defers only when a
// Retry-After exceeds MaxWait.
//
// # Contextual policy
//
// The contextual policy ("contextual") takes the attempt limit and deadline from
// Config.Ops[op] and changes the treatment of some groups per operation. "Defer" and
// "Failover" below stop at once, whatever the attempt count:
//
//	operation      attempts  deadline  429                  503     timeout  exhausted
//	DOWNLOAD       6         60s       retry                retry   retry    Fail
//	VALIDATE       3         -         Defer                retry   Defer    Fail
//	RESOLVE        3         -         Failover (Wait 0)    retry   retry    Failover
//	EXTRACT        5         -         retry                retry   retry    Fail
//	MANIFEST_FETCH 5         -         Defer                Defer   retry    Fail
//
// Connection errors and the other server statuses are retried everywhere. A Defer
// carries Wait = the Retry-After if the response had one (reason
// "retry_after_over_cap" when it exceeds MaxWait), else the current Backoff value; its
// reason is otherwise "rate_limited", "unavailable" or "timeout". A Failover carries
// Wait 0 and reason "rate_limited" or "max_attempts"/"deadline".
//
// An operation outside the known set gets the legacy rules.
//
// # Obligations of the caller
//
//   - Attempt counts real attempts only. Defer rounds are not attempts: when a deferred
//     request (for example a MANIFEST_FETCH page after a 429 or 503) runs again after the
//     host cooldown, the caller must not add the deferred round to Attempt, so a host
//     that keeps asking for a pause does not use up the request's retries.
//   - Elapsed runs from the start of the request's first attempt and includes the waits.
//   - Now must be the current time; an HTTP-date Retry-After is measured from it.
//   - Jitter must be uniform in [0, 1); Decide clamps anything else into [0, 1].
//   - Canceled means the caller's own context ended: the request is abandoned, never
//     retried.
package policy
