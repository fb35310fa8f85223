// Package learning learns each host's real rate limit from what it answers, and keeps
// what it learned across runs.
//
// A Tracker is driven by Observe, called for every response or transport error. It
// reduces a host's rate on congestion (the seed's episode schedule and a windowed 429
// share, in the style of AWS adaptive retry), recovers over clean intervals (a CUBIC-like
// climb back to the last good rate, then additive probing), reads rate-limit headers
// (an advertised rate becomes a ceiling; Remaining: 0 means a cooldown), and tells a
// quota (a wait beyond MaxWait) from congestion. Every change is applied at once to
// the host's Limiter. There are no goroutines: time comes from the injected clock and
// recovery is evaluated lazily.
//
// Open and Save persist the state as JSON (see File), atomically and under an advisory
// lock, merging with other processes' updates. The status that
// `contentdl provider-learning-status` prints is rendered by internal/report
// (WriteLearningTable, WriteLearningJSON), with the run's other tables.
//
// The algorithm, the settings and the file format are described for users in
// docs/provider-learning.md.
package learning
