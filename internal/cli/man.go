package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra/doc"
)

// WriteManPages writes a section-1 man page for contentdl and each of its commands
// into dir (created if needed), e.g. contentdl.1, contentdl-run.1, contentdl-export.1.
// The date in each page comes from SOURCE_DATE_EPOCH when set, so builds can be
// reproducible. `make man` calls it through scripts/genman.
func WriteManPages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	root := NewRootCmd(&State{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(string) string { return "" }})
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "CONTENTDL", Section: "1", Source: "contentdl " + Version(), Manual: "contentdl manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	return nil
}
