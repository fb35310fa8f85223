// Command contentdl-sim serves a simulated scholarly web on loopback: an
// OpenAlex-like API, an Unpaywall-like API and publisher hosts with hidden rate
// limits and injected faults, all described by a scenario file (see
// testdata/scenarios). It prints the base URLs and a contentdl configuration
// snippet, serves until SIGINT or SIGTERM, and reports per-host stats at
// /__stats on the OpenAlex host.
//
//	contentdl-sim --scenario testdata/scenarios/demo.yaml [--addr-file sim.json] [--print-config]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/docstokg/contentdl/internal/fileperm"
	"github.com/docstokg/contentdl/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the scenario or the simulator failed
	exitUsage = 2 // bad flags
)

// options are the command's flags.
type options struct {
	scenario    string
	addrFile    string
	printConfig bool
	logLevel    string
}

// Main runs the simulator until ctx ends and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		_, _ = fmt.Fprintf(stderr, "contentdl-sim: --log-level: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sc, err := sim.LoadScenario(opts.scenario)
	if err != nil {
		log.Error("contentdl-sim: " + err.Error())
		return exitError
	}
	s, err := sim.Start(sc, sim.Options{Logger: log})
	if err != nil {
		log.Error("contentdl-sim: " + err.Error())
		return exitError
	}
	defer func() { _ = s.Close() }() // on early returns; the normal path closes below

	info := s.Info()
	var out any = info
	header := fmt.Sprintf("# contentdl-sim: scenario %q, %d works; stats at %s\n", info.Scenario, info.Works, info.StatsURL)
	if opts.printConfig {
		out = info.Config
		header = "# contentdl configuration for the simulator (scenario " + fmt.Sprintf("%q", info.Scenario) + ")\n"
	}
	doc, err := yaml.Marshal(out)
	if err != nil {
		log.Error("contentdl-sim: render", "err", err)
		return exitError
	}
	if _, err := io.WriteString(stdout, header+string(doc)); err != nil {
		log.Error("contentdl-sim: write stdout", "err", err)
		return exitError
	}
	if opts.addrFile != "" {
		if err := writeAtomic(opts.addrFile, info); err != nil {
			log.Error("contentdl-sim: --addr-file", "err", err)
			return exitError
		}
		defer os.Remove(opts.addrFile)
	}
	log.Info("contentdl-sim: ready; stop with Ctrl-C", "openalex", info.OpenAlexURL, "unpaywall", info.UnpaywallURL)

	<-ctx.Done()
	log.Info("contentdl-sim: stopping")
	for _, h := range s.Stats().Hosts {
		if h.Requests == 0 {
			continue
		}
		log.Info("contentdl-sim: host stats", "host", h.Name, "addr", h.Addr, "requests", h.Requests,
			"status", statusSummary(h.ByStatus), "bytes", h.BytesSent, "max_in_flight", h.MaxInFlight,
			"retry_after_announced", h.RetryAfterAnnounced, "in_retry_after_window", h.InRetryAfterWindow,
			"in_retry_after_grace", h.InRetryAfterGrace, "reopenings", len(h.Reopens), "max_reopen_in_flight", h.MaxReopenInFlight)
	}
	if err := s.Close(); err != nil {
		log.Error("contentdl-sim: close", "err", err)
		return exitError
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("contentdl-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "", "scenario `file` (YAML or JSON), required")
	fs.StringVar(&o.addrFile, "addr-file", "", "write the addresses as JSON to this `path` once listening (removed on exit)")
	fs.BoolVar(&o.printConfig, "print-config", false, "print only the contentdl configuration snippet on stdout")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level` on stderr: debug, info, warn or error")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "Usage: contentdl-sim --scenario FILE [--addr-file PATH] [--print-config]\n\n"+
			"Serves a simulated OpenAlex, Unpaywall and publisher hosts on 127.0.0.1 until\n"+
			"SIGINT or SIGTERM; prints their URLs and a contentdl configuration on stdout.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK, false
		}
		return o, exitUsage, false
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "contentdl-sim: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return o, exitUsage, false
	}
	if o.scenario == "" {
		_, _ = fmt.Fprintln(stderr, "contentdl-sim: --scenario is required")
		fs.Usage()
		return o, exitUsage, false
	}
	return o, exitOK, true
}

// writeAtomic writes v as JSON to path with fileperm.WriteFile (temp file, fsync,
// rename), so a script polling for the file never reads half of it.
func writeAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fileperm.WriteFile(path, append(data, '\n'), fileperm.Shared)
}

// statusSummary renders {"200": 5, "429": 1} as "200:5 429:1".
func statusSummary(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
