package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// cleanText makes free text (a title, a name) safe for line-based formats: control
// characters and line or paragraph separators become spaces, bidirectional-override
// characters are dropped (they can make a line read differently from what it holds),
// and runs of spaces collapse.
func cleanText(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\u202a' || r == '\u202b' || r == '\u202c' || r == '\u202d' || r == '\u202e' ||
			r == '\u2066' || r == '\u2067' || r == '\u2068' || r == '\u2069' || r == '\u200e' || r == '\u200f':
			continue
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.IsSpace(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// csvCell guards a cell against spreadsheet formula injection: text that starts with
// =, +, - or @ gets a leading apostrophe, so a spreadsheet shows it instead of
// evaluating it.
func csvCell(s string) string {
	s = cleanText(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVHeader is the first row of the CSV export.
var CSVHeader = []string{"work_id", "doi", "title", "year", "outcome", "reason", "path", "sha256", "bytes", "url"}

func writeCSV(w io.Writer, works []Work) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, x := range works {
		year, size := "", ""
		if x.PublicationYear != 0 {
			year = strconv.Itoa(x.PublicationYear)
		}
		if x.ContentLength > 0 && x.File != "" {
			size = strconv.FormatInt(x.ContentLength, 10)
		}
		if err := cw.Write([]string{csvCell(x.WorkID), csvCell(x.DOI), csvCell(x.Title), year, x.Outcome,
			csvCell(x.Reason), csvCell(x.File), csvCell(x.SHA256), size, csvCell(x.URL)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonWork is one line of the JSON Lines export.
type jsonWork struct {
	WorkID  string   `json:"work_id"`
	DOI     string   `json:"doi,omitempty"`
	Title   string   `json:"title,omitempty"`
	Authors []string `json:"authors,omitempty"`
	Year    int      `json:"year,omitempty"`
	Outcome string   `json:"outcome"`
	Reason  string   `json:"reason,omitempty"`
	Path    string   `json:"path,omitempty"`
	SHA256  string   `json:"sha256,omitempty"`
	Bytes   int64    `json:"bytes,omitempty"`
	URL     string   `json:"url,omitempty"`
	RunID   string   `json:"run_id"`
}

func writeJSONL(w io.Writer, works []Work) error {
	var bw bytes.Buffer // entries are built here (writes cannot fail) and written out once
	enc := json.NewEncoder(&bw)
	enc.SetEscapeHTML(false)
	for _, x := range works {
		j := jsonWork{WorkID: x.WorkID, DOI: x.DOI, Title: x.Title, Authors: x.Authors, Year: x.PublicationYear,
			Outcome: x.Outcome, Reason: x.Reason, Path: x.File, SHA256: x.SHA256, URL: x.URL, RunID: x.RunID}
		if x.File != "" {
			j.Bytes = x.ContentLength
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	_, err := w.Write(bw.Bytes())
	return err
}

// inputID is what `contentdl run --input` takes for a work: its DOI, or its W-id when
// it has none (or a DOI that could not stand on one line).
func inputID(x *Work) string {
	if d := x.DOI; d != "" && !strings.ContainsFunc(d, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return d
	}
	return x.WorkID
}

func writeIDs(w io.Writer, works []Work) error {
	var bw bytes.Buffer // entries are built here (writes cannot fail) and written out once
	for i := range works {
		id := inputID(&works[i])
		if id == "" || strings.ContainsFunc(id, unicode.IsSpace) {
			continue
		}
		bw.WriteString(id)
		bw.WriteByte('\n')
	}
	_, err := w.Write(bw.Bytes())
	return err
}

// risAuthor turns "Given Family" into RIS's "Family, Given"; a name with a comma
// already is kept.
func risAuthor(name string) string {
	name = cleanText(name)
	if strings.Contains(name, ",") {
		return name
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[i+1:] + ", " + name[:i]
	}
	return name
}

func writeRIS(w io.Writer, works []Work) error {
	var bw bytes.Buffer // entries are built here (writes cannot fail) and written out once
	tag := func(t, v string) {
		if v = cleanText(v); v != "" {
			bw.WriteString(t + "  - " + v + "\n")
		}
	}
	for i, x := range works {
		if i > 0 {
			bw.WriteByte('\n')
		}
		tag("TY", "GEN")
		tag("ID", x.WorkID)
		tag("TI", x.Title)
		for _, a := range x.Authors {
			tag("AU", risAuthor(a))
		}
		if x.PublicationYear != 0 {
			tag("PY", strconv.Itoa(x.PublicationYear))
		}
		tag("DO", x.DOI)
		tag("UR", x.URL)
		tag("L1", x.File)
		tag("N1", note(&x))
		bw.WriteString("ER  - \n")
	}
	_, err := w.Write(bw.Bytes())
	return err
}

// note says what contentdl made of the work, e.g. "contentdl: miss (no_oa_candidates)".
func note(x *Work) string {
	n := "contentdl: " + x.Outcome
	if x.Reason != "" && x.Reason != "ok" {
		n += " (" + x.Reason + ")"
	}
	return n
}
