package report

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// The values of --progress.
const (
	ProgressAuto   = "auto"
	ProgressAlways = "always"
	ProgressNever  = "never"
)

// ProgressEnabled implements --progress auto|always|never. In auto mode (also the
// empty string) the display is on only when stderr is a terminal and neither --quiet
// nor --json was given. "always" is an explicit request and wins over all three;
// "never" turns it off. Any other value is an error naming the flag.
func ProgressEnabled(mode string, stderrIsTTY, quiet, json bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "", ProgressAuto:
		return stderrIsTTY && !quiet && !json, nil
	case ProgressAlways:
		return true, nil
	case ProgressNever:
		return false, nil
	}
	return false, fmt.Errorf("--progress %q: want %s, %s or %s", mode, ProgressAuto, ProgressAlways, ProgressNever)
}

// fder is what *os.File offers to find its descriptor.
type fder interface{ Fd() uintptr }

// IsTerminal reports whether w is a terminal (an *os.File, or anything with an Fd
// method, whose descriptor is a TTY). Buffers and pipes are not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termColumns returns the width of the terminal behind w, or 0 when w is not one.
func termColumns(w io.Writer) int {
	f, ok := w.(fder)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 {
		return 0
	}
	return cols
}
