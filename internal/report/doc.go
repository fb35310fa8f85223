// Package report is the human and machine face of a run: the live progress line on
// stderr, the end-of-run summary table, the Prometheus textfile metrics, and the
// provider-learning status (table and JSON). One set of formatters (format.go) prints
// every rate, duration and size in all of them.
//
// Nothing here decides anything about the run; it only shows what the runner and the
// fetch client report. The CLI picks which faces are on (ProgressEnabled, --json,
// --quiet, --metrics-file) once, at the start of a run.
package report
