// Package cli holds contentdl's commands. It is the only package besides
// internal/config that knows about cobra and viper; it turns errors into the
// documented exit codes in one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docstokg/contentdl/internal/config"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0   // the run completed
	ExitError       = 1   // runtime error
	ExitUsage       = 2   // usage or configuration error
	ExitIncomplete  = 3   // completed, but some works failed or were deferred
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM)
)

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = ""

// Version returns the build's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Main runs contentdl with args and returns the exit code. SIGINT and SIGTERM cancel
// the run, which then cleans up and returns 130.
func Main(args []string, st *State) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, st)
}

// MainContext is Main with the caller's context; cancelling it interrupts the run.
func MainContext(ctx context.Context, args []string, st *State) int {
	st.fillDefaults()
	root := NewRootCmd(st)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	var ee *exitError
	if err != nil && code != ExitInterrupted && !errors.Is(err, errSilent) && !errors.As(err, &ee) {
		fmt.Fprint(st.Stderr, errorLines(err))
	}
	return code
}

// maxErrorLine bounds each line of the final error.
const maxErrorLine = 200

// errorLines is the end-of-run error as at most two lines of at most 200 characters:
// a longer message continues on a second line (split between words), and one too long
// for both is cut there with a pointer to --log-level debug, where run logs the whole
// error and every URL in full.
func errorLines(err error) string {
	const prefix = "contentdl: "
	msg := []rune(oneLine(err.Error()))
	room := maxErrorLine - len(prefix)
	if len(msg) <= room {
		return prefix + string(msg) + "\n"
	}
	cut := room
	for i := room; i > room*3/4; i-- { // prefer to break at a space
		if msg[i] == ' ' {
			cut = i
			break
		}
	}
	first, rest := string(msg[:cut]), []rune(strings.TrimLeft(string(msg[cut:]), " "))
	const more = "… (--log-level debug has it all)"
	if len(rest) > room {
		rest = append(rest[:room-len([]rune(more))], []rune(more)...)
	}
	return prefix + first + "\n" + prefix + string(rest) + "\n"
}

// exitError carries an exit code chosen by a command, e.g. 3 for an incomplete run.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// errSilent marks an error already reported to the user.
var errSilent = errors.New("already reported")

// usageError is bad input on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &ue), errors.Is(err, config.ErrUsage):
		return ExitUsage
	}
	return ExitError
}

func oneLine(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// NewRootCmd builds the command tree.
func NewRootCmd(st *State) *cobra.Command {
	root := &cobra.Command{
		Use:   "contentdl",
		Short: "Find scholarly works on OpenAlex and download their open-access full texts",
		Long: `contentdl finds scholarly works on OpenAlex for a topic and downloads their
open-access full texts (PDF first, XML/HTML as fallback) through a chain of resolvers,
politely: per-host rate limits, cooldowns on Retry-After, resume by default.`,
		SilenceUsage:               true,
		SilenceErrors:              true,
		SuggestionsMinimumDistance: 2,
		Version:                    Version(),
	}
	root.SetOut(st.Stdout)
	root.SetErr(st.Stderr)
	root.SetIn(st.Stdin)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
			var names []string
			c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
			if s := config.Closest(name, names); s != "" {
				msg += fmt.Sprintf("; did you mean --%s?", s)
			}
		}
		return usagef("%s (see '%s --help')", msg, c.CommandPath())
	})
	gf := &globalFlags{}
	root.PersistentFlags().StringVar(&gf.configFile, "config", "", "YAML config file (default: $DOCSTOKG_CONFIG, else none)")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().String("log-format", "text", "log format on stderr: text or json")
	root.AddCommand(
		NewCmdRun(st, gf, nil),
		NewCmdConfig(st, gf),
		NewCmdVersion(st),
		NewCmdProviderLearningStatus(st, gf, nil),
		NewCmdExport(st, gf, nil),
	)
	// The completion command is normally added when Execute runs; adding it now lets
	// guardArgs cover it and its shells too.
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	guardHelp(root)
	showZeroDefaults(root)
	// Unknown commands and stray positional arguments are usage errors (exit 2).
	root.Args = unknownSubcommand
	root.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
	guardArgs(root)
	return root
}

type globalFlags struct {
	configFile string
}

// loadConfig loads the config with the command's flags bound.
func loadConfig(st *State, gf *globalFlags, c *cobra.Command) (*config.Config, error) {
	// Config's warnings (an unknown DOCSTOKG_* variable) are held until the config
	// says how to log, then written to stderr in the run's log format.
	held := newHeldLogs()
	cfg, err := config.Load(config.LoadOptions{File: gf.configFile, Flags: c.Flags(), Getenv: st.Getenv,
		Environ: st.Environ, FS: st.FS, Logger: slog.New(held)})
	if err != nil {
		return nil, err
	}
	held.replay(c.Context(), newLogger(st.Stderr, cfg.LogLevel, cfg.LogFormat))
	return cfg, nil
}

// NewCmdVersion prints the version.
func NewCmdVersion(st *State) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(st.Stdout, "contentdl "+Version())
			return err
		},
	}
}

// NewCmdConfig groups config subcommands.
func NewCmdConfig(st *State, gf *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the effective configuration", Args: unknownSubcommand}
	cmd.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective config as YAML, secrets masked",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := loadConfig(st, gf, c)
			if err != nil {
				return err
			}
			return cfg.WriteYAML(st.Stdout)
		},
	})
	return cmd
}

// showZeroDefaults makes --help state every flag's default: pflag omits zero values
// (false, 0, ""), which leaves a reader guessing.
func showZeroDefaults(c *cobra.Command) {
	mark := func(f *pflag.Flag) {
		if strings.Contains(f.Usage, "(default") || f.Name == "help" {
			return
		}
		switch f.DefValue {
		case "false", "0":
			f.Usage += " (default " + f.DefValue + ")"
		case "":
			f.Usage += " (default none)"
		}
	}
	c.Flags().VisitAll(mark)
	c.PersistentFlags().VisitAll(mark)
	for _, sub := range c.Commands() {
		showZeroDefaults(sub)
	}
}
