package export

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// texSpecial are the characters TeX treats specially, written so they print as
// themselves.
var texSpecial = map[rune]string{
	'\\': `\textbackslash{}`, '{': `\{`, '}': `\}`, '$': `\$`, '&': `\&`, '%': `\%`, '#': `\#`,
	'_': `\_`, '^': `\^{}`, '~': `\~{}`, '<': `\textless{}`, '>': `\textgreater{}`, '|': `\textbar{}`,
}

// texLetter are letters with a TeX command of their own.
var texLetter = map[rune]string{
	'ß': `{\ss}`, 'æ': `{\ae}`, 'Æ': `{\AE}`, 'ø': `{\o}`, 'Ø': `{\O}`, 'ł': `{\l}`, 'Ł': `{\L}`,
	'œ': `{\oe}`, 'Œ': `{\OE}`, 'ı': `{\i}`, 'å': `{\aa}`, 'Å': `{\AA}`,
}

// texAccent maps a combining mark to its TeX accent command.
var texAccent = map[rune]string{
	'\u0300': "`", '\u0301': "'", '\u0302': "^", '\u0303': "~", '\u0304': "=", '\u0306': "u",
	'\u0307': ".", '\u0308': `"`, '\u030a': "r", '\u030b': "H", '\u030c': "v", '\u0327': "c", '\u0328': "k",
}

// TeX escapes s for a BibTeX field: TeX specials print as themselves, braces cannot
// unbalance the entry, accented Latin letters become TeX accents ({\'e}), other
// non-ASCII text (Greek, CJK, …) stays UTF-8 for biber, and control characters become
// spaces.
func TeX(s string) string {
	s = norm.NFC.String(cleanText(s))
	var b strings.Builder
	for _, r := range s {
		if t, ok := texSpecial[r]; ok {
			b.WriteString(t)
			continue
		}
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		if t, ok := texLetter[r]; ok {
			b.WriteString(t)
			continue
		}
		b.WriteString(texAccented(r))
	}
	return b.String()
}

// texAccented writes an accented Latin letter as TeX accents around its base letter
// (ǘ → {\'{\"u}}), or returns it unchanged when it is not one.
func texAccented(r rune) string {
	d := []rune(norm.NFD.String(string(r)))
	if len(d) < 2 || d[0] >= utf8.RuneSelf || !unicode.IsLetter(d[0]) {
		return string(r)
	}
	base := string(d[0])
	switch d[0] {
	case 'i':
		base = `\i`
	case 'j':
		base = `\j`
	}
	out := base
	for _, m := range d[1:] {
		cmd, ok := texAccent[m]
		if !ok {
			return string(r)
		}
		if cmd[0] >= 'a' && cmd[0] <= 'z' || cmd[0] >= 'A' && cmd[0] <= 'Z' {
			out = `{\` + cmd + `{` + out + `}}` // \v{s}: a letter command takes a braced argument
		} else {
			out = `{\` + cmd + out + `}` // {\'e}, {\'{\"u}}, {\'\i}
		}
	}
	return out
}

// verbatim makes a URL, DOI or path safe inside a BibTeX field that is read verbatim
// (url, doi, file): braces would end the field, so they are percent-encoded in URLs
// and DOIs and escaped in paths; whitespace and control characters are removed.
func verbatim(s string, path bool) string {
	s = cleanText(s)
	if path {
		return strings.NewReplacer(`{`, `\{`, `}`, `\}`).Replace(s)
	}
	return strings.NewReplacer(`{`, `%7B`, `}`, `%7D`, " ", "%20", `\`, `%5C`).Replace(s)
}

// bibAuthor escapes one name; a name containing the word "and" is braced so BibTeX
// does not split it into two people.
func bibAuthor(name string) string {
	n := TeX(name)
	if strings.Contains(" "+strings.ToLower(n)+" ", " and ") {
		return "{" + n + "}"
	}
	return n
}

// writeBibTeX writes one @misc entry per work, keyed by its W-id (stable across runs),
// with a file field pointing at the saved file.
func writeBibTeX(w io.Writer, works []Work) error {
	var bw bytes.Buffer // entries are built here (writes cannot fail) and written out once
	for i, x := range works {
		if i > 0 {
			bw.WriteByte('\n')
		}
		bw.WriteString("@misc{" + bibKey(x.WorkID) + ",\n")
		field := func(name, v string) {
			if v != "" {
				bw.WriteString("  " + name + " = {" + v + "},\n")
			}
		}
		if x.Title != "" {
			field("title", "{"+TeX(x.Title)+"}") // double braces keep the title's capitals
		}
		if len(x.Authors) > 0 {
			names := make([]string, len(x.Authors))
			for j, a := range x.Authors {
				names[j] = bibAuthor(a)
			}
			field("author", strings.Join(names, " and "))
		}
		if x.PublicationYear != 0 {
			field("year", strconv.Itoa(x.PublicationYear))
		}
		field("doi", verbatim(x.DOI, false))
		field("url", verbatim(x.URL, false))
		field("file", verbatim(x.File, true))
		field("note", TeX(note(&x)))
		bw.WriteString("}\n")
	}
	_, err := w.Write(bw.Bytes())
	return err
}

// bibKey is the entry key: the W-id, with anything but letters, digits, '-', '_' and
// ':' removed, so a hostile id cannot break the entry.
func bibKey(id string) string {
	k := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == ':') {
			return r
		}
		return -1
	}, id)
	if k == "" {
		return "work"
	}
	return k
}
