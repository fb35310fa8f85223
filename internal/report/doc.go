// Package report is the human and machine face of a run: the live progress line on
// stderr, the end-of-run summary table, and the Prometheus textfile metrics.
//
// Nothing here decides anything about the run; it only shows what the runner and the
// fetch client report. The CLI picks which faces are on (ProgressEnabled, --json,
// --quiet, --metrics-file) once, at the start of a run.
package report
