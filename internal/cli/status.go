package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/report"
)

// StatusOptions are the inputs of provider-learning-status.
type StatusOptions struct {
	JSON     bool
	Provider string
	Reset    string // "" = no reset; resetAll = every entry; else one key
	Yes      bool
	Path     string
	// Learning relaxes stored reductions by the time passed (learning.forget_after),
	// so the table shows the rates the next run starts from.
	Learning learning.Config
}

const resetAll = "\x00all"

// NewCmdProviderLearningStatus builds `contentdl provider-learning-status`.
func NewCmdProviderLearningStatus(st *State, gf *globalFlags, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{}
	cmd := &cobra.Command{
		Use:   "provider-learning-status",
		Short: "Show what provider learning has learned about each host",
		Long: `Show the learned per-host rate limits from the provider learning state file: status,
429 counts, the applied reduction, configured → effective rps, a recovery estimate and
the time since the last 429. --reset forgets one entry (provider@host) or all of them.`,
		Example: `  contentdl provider-learning-status
  contentdl provider-learning-status --json | jq '.providers[] | select(.status != "normal")'
  contentdl provider-learning-status --reset web@files.example.org`,
		// --reset has an optional value, so pflag reads "--reset KEY" as a bare --reset
		// followed by the positional KEY: accept exactly that one word as the key.
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 1 && opts.Reset == resetAll && c.Flags().Changed("reset") {
				return nil
			}
			return noArgs(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Reset = args[0]
			}
			cfg, err := loadConfig(st, gf, c)
			if err != nil {
				return err
			}
			opts.Path = cfg.ProviderLearningPath
			opts.Learning = learningConfig(cfg)
			if opts.Path == "" {
				return usagef("provider_learning_path is not set and neither XDG_STATE_HOME nor HOME is available")
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return statusRun(st, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.JSON, "json", false, "print a stable JSON document instead of the table")
	f.StringVar(&opts.Provider, "provider", "", "only rows whose provider@host contains this text")
	f.StringVar(&opts.Reset, "reset", "", "forget one entry (--reset provider@host) or, with no value, all entries")
	f.Lookup("reset").NoOptDefVal = resetAll
	f.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before --reset forgets every entry")
	f.String("provider-learning-path", "", "learning state file (default $XDG_STATE_HOME/contentdl/provider-learning.json)")
	return cmd
}

func statusRun(st *State, o *StatusOptions) error {
	if o.Reset != "" {
		return statusReset(st, o)
	}
	file, err := learning.Load(o.Path)
	if err != nil {
		return fmt.Errorf("provider learning file %s: %w", o.Path, err)
	}
	now := st.Clock.Now()
	rows := file.Rows()
	for i := range rows {
		rows[i] = learning.Relaxed(rows[i], o.Learning, now)
	}
	if o.Provider != "" {
		rows = learning.FilterRows(rows, o.Provider)
	}
	if o.JSON {
		return report.WriteLearningJSON(st.Stdout, rows, now)
	}
	return report.WriteLearningTable(st.Stdout, rows, now)
}

func statusReset(st *State, o *StatusOptions) error {
	key := o.Reset
	if key == resetAll {
		key = ""
		if !o.Yes {
			file, err := learning.Load(o.Path)
			if err != nil {
				return fmt.Errorf("provider learning file %s: %w", o.Path, err)
			}
			fmt.Fprintf(st.Stderr, "Forget all %d learned entries in %s? [y/N] ", len(file.Providers), o.Path)
			answer, _ := bufio.NewReader(st.Stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				fmt.Fprintln(st.Stderr, "nothing forgotten")
				return errors.Join(errSilent, &exitError{code: ExitError})
			}
		}
	}
	n, err := learning.Reset(o.Path, key, st.Clock)
	if err != nil {
		return fmt.Errorf("reset %s: %w", o.Path, err)
	}
	if key != "" && n == 0 {
		return usagef("--reset %s: no such entry in %s", key, o.Path)
	}
	fmt.Fprintf(st.Stdout, "forgot %d entr%s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	return nil
}
