package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/docstokg/contentdl/internal/export"
	"github.com/docstokg/contentdl/internal/fileperm"
)

// ExportOptions are the inputs of `contentdl export`.
type ExportOptions struct {
	Out      string // from config (out / --out / DOCSTOKG_OUT)
	Format   export.Format
	Statuses map[string]bool // nil = every work
	Output   string          // "" = stdout
}

// NewCmdExport builds `contentdl export`. runF replaces the export in tests of flag
// parsing.
func NewCmdExport(st *State, gf *globalFlags, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{}
	var format, status string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export OUT's results as CSV, JSON Lines, BibTeX, RIS or a list of ids",
		Long: `Read OUT's manifest (manifest.jsonl and any manifest.shard-I-of-N.jsonl) and write one
entry per work, with its latest outcome, to stdout or, atomically, to --output FILE.

Formats: csv (work_id, doi, title, year, outcome, reason, path, sha256, bytes, url),
jsonl (one JSON object per work, with authors), bibtex and ris (one entry per work,
keyed by its W-id, with a file field pointing at the saved file), and ids (one DOI, or
W-id when there is none, per line: input for 'contentdl run --input -').`,
		Example: `  # every work of runs/dev as a spreadsheet
  contentdl export --out runs/dev --format csv --output results.csv

  # retry what was missed or deferred
  contentdl export --out runs/dev --format ids --status miss,deferred | contentdl run --input - --out runs/dev

  # the saved PDFs for a reference manager
  contentdl export --out runs/dev --format bibtex --status pdf > papers.bib`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			f, err := export.ParseFormat(format)
			if err != nil {
				return usagef("--format: %v", err)
			}
			s, err := export.ParseStatus(status)
			if err != nil {
				return usagef("--status: %v", err)
			}
			cfg, err := loadConfig(st, gf, c)
			if err != nil {
				return err
			}
			opts.Out, opts.Format, opts.Statuses = cfg.Out, f, s
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return exportRun(st, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "csv", "output format: csv, jsonl, bibtex, ris or ids")
	f.StringVar(&status, "status", "", "only works with these outcomes, comma-separated: pdf, xml, html, miss, deferred (default all)")
	f.StringVarP(&opts.Output, "output", "o", "", "write to FILE atomically instead of stdout")
	f.String("out", "runs/contentdl", "output directory of the runs to export (config: out)")
	return cmd
}

func exportRun(st *State, o *ExportOptions) error {
	base, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	log := newLogger(st.Stderr, "warn", "text")
	works, err := export.Load(o.Out, base, log)
	if errors.Is(err, export.ErrNoManifest) {
		return usagef("export: %v; give the --out of a run", err)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	works = export.Filter(works, o.Statuses)
	if o.Output == "" {
		return export.Write(st.Stdout, o.Format, works)
	}
	var buf bytes.Buffer
	if err := export.Write(&buf, o.Format, works); err != nil {
		return err
	}
	if err := fileperm.WriteFile(o.Output, buf.Bytes(), fileperm.Shared); err != nil {
		return fmt.Errorf("export: --output: %w", err)
	}
	return nil
}
