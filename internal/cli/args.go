package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// noArgs rejects positional arguments as a usage error (exit 2). cobra.NoArgs says
// "unknown command" for a stray word after a leaf command, which misleads, and its
// error is not a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q: '%s' takes no positional arguments (see '%s --help')",
			args[0], c.CommandPath(), c.CommandPath())
	}
	return nil
}

// unknownSubcommand is the Args of a command that only groups subcommands: a word that
// names none of them is a usage error with a suggestion.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra sets this default on the root only
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usagef("%s (see '%s --help')", msg, c.CommandPath())
}

// guardArgs makes every argument error in the tree a usage error (exit 2): groups of
// subcommands (config, completion) reject unknown words instead of printing their help
// with exit 0, and any other Args validator's error (cobra's own commands included) is
// turned into a usage error naming the command.
func guardArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		guardArgs(sub)
	}
	if c.Name() == "help" || c.Name() == cobra.ShellCompRequestCmd || c.Name() == cobra.ShellCompNoDescRequestCmd {
		return // cobra's help topics and completion requests parse their own words
	}
	if c.HasAvailableSubCommands() && !c.Runnable() {
		c.Args = unknownSubcommand
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		return
	}
	orig := c.Args
	if orig == nil {
		return
	}
	c.Args = func(c *cobra.Command, args []string) error {
		err := orig(c, args)
		if err == nil || isUsage(err) {
			return err
		}
		return usagef("%v (see '%s --help')", err, c.CommandPath())
	}
}

func isUsage(err error) bool {
	_, ok := err.(*usageError)
	return ok
}

// guardHelp makes `contentdl help TOPIC` a usage error (exit 2) when TOPIC names no
// command; cobra's own help command prints the root help and exits 0 instead.
func guardHelp(root *cobra.Command) {
	for _, h := range root.Commands() {
		if h.Name() != "help" {
			continue
		}
		h.Run = nil
		h.RunE = func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				msg := fmt.Sprintf("unknown help topic %q", topic)
				if len(rest) > 0 {
					if s := cmd.SuggestionsFor(rest[0]); len(s) > 0 {
						msg += fmt.Sprintf("; did you mean %q?", strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), root.Name())+" "+s[0]))
					}
				}
				return usagef("%s (see '%s --help')", msg, root.Name())
			}
			return cmd.Help()
		}
	}
}
