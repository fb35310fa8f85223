package openalex

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInputLine is the longest --input line accepted; longer lines are reported as bad.
const MaxInputLine = 64 << 10

// ErrLineTooLong is reported (through onBad) for input lines over MaxInputLine bytes.
var ErrLineTooLong = fmt.Errorf("line longer than %d bytes", MaxInputLine)

// parseID normalises a work reference to "W<n>" or a bare lower-case DOI.
func parseID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty id")
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return "", errors.New("contains whitespace; put one id per line")
	}
	if w, ok := workID(s); ok {
		return w, nil
	}
	if doi := NormalizeDOI(s); doi != "" {
		return doi, nil
	}
	lower := strings.ToLower(s)
	switch {
	case strings.Contains(lower, "doi.org/"):
		return "", errors.New("doi.org link does not hold a valid DOI (want https://doi.org/10.prefix/suffix)")
	case strings.Contains(lower, "openalex.org/"):
		return "", errors.New("not an OpenAlex work URL (want https://openalex.org/W123)")
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		return "", errors.New("unsupported URL (want a doi.org DOI link or an openalex.org work link)")
	case strings.Contains(lower, "10.") && !strings.Contains(lower, "/"):
		return "", errors.New("DOI has no suffix (want 10.prefix/suffix)")
	default:
		return "", errors.New("not a DOI (10.x/y) or an OpenAlex work id (W123)")
	}
}

// workID recognises W123, w123 and openalex.org work URLs.
func workID(s string) (string, bool) {
	lower := strings.ToLower(s)
	for _, p := range []string{"https://openalex.org/works/", "http://openalex.org/works/", "https://api.openalex.org/works/",
		"https://openalex.org/", "http://openalex.org/", "openalex.org/"} {
		if strings.HasPrefix(lower, p) {
			s = s[len(p):]
			break
		}
	}
	if len(s) >= 2 && (s[0] == 'W' || s[0] == 'w') && allDigits(s[1:]) {
		return "W" + s[1:], true
	}
	return "", false
}

// ParseInputLine normalises one line of an --input file to "W<n>" or a bare
// lower-case DOI. Blank lines and lines starting with '#' (after trimming) give
// ok=false and a nil error; a line that is neither a DOI, a DOI URL nor an OpenAlex
// work id gives an error saying why.
func ParseInputLine(line string) (id string, ok bool, err error) {
	line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
	if line == "" || strings.HasPrefix(line, "#") {
		return "", false, nil
	}
	id, err = parseID(line)
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// ReadInput reads an --input stream line by line (lines numbered from 1) and calls fn
// with each normalised id, skipping blank and comment lines. Bad lines, including
// lines over MaxInputLine bytes, go to onBad (which may be nil) with the trimmed line
// (shortened for display) and are skipped. ReadInput returns fn's first error
// unchanged, or a read error naming the line.
func ReadInput(r io.Reader, fn func(lineNo int, id string) error, onBad func(lineNo int, line string, err error)) error {
	br := bufio.NewReaderSize(r, MaxInputLine)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, readErr := readLine(br)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return fmt.Errorf("read input line %d: %w", lineNo, readErr)
		}
		if errors.Is(readErr, io.EOF) && line == "" && !tooLong {
			return nil
		}
		switch id, ok, err := ParseInputLine(line); {
		case tooLong:
			if onBad != nil {
				onBad(lineNo, shorten(strings.TrimSpace(line)), ErrLineTooLong)
			}
		case err != nil:
			if onBad != nil {
				onBad(lineNo, shorten(strings.TrimSpace(line)), err)
			}
		case ok:
			if err := fn(lineNo, id); err != nil {
				return err
			}
		}
		if errors.Is(readErr, io.EOF) {
			return nil
		}
	}
}

// readLine returns the next line without its terminator. For a line longer than the
// reader's buffer it returns the first buffer's worth, discards the rest, and sets
// tooLong.
func readLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		line = string(b)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return line, true, err
	}
	return strings.TrimRight(string(b), "\r\n"), false, err
}

// shorten keeps bad lines readable in reports.
func shorten(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
