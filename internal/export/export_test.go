package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/golden"
	"github.com/docstokg/contentdl/internal/manifest"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// writeManifest writes records as manifest lines (and raw extra text) to path.
func writeManifest(t *testing.T, path string, extra string, recs ...manifest.Record) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range recs {
		r.SchemaVersion = manifest.SchemaVersion
		if r.RecordType == "" {
			r.RecordType = manifest.TypeManifest
		}
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString(extra)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture is an output directory with a main manifest, two shard manifests, hostile
// titles and names, superseded records, a resume's skipped record and a torn line.
func fixture(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	writeManifest(t, filepath.Join(out, "manifest.jsonl"), `{"record_type":"manifest","work_id":"W9","tit`,
		manifest.Record{RunID: "r1", Timestamp: at(0), WorkID: "W10", DOI: "10.1000/xyz{1}", Title: "Braces {in} \\emph{titles} and 50% of $x_1^2$ & #tags ~ok",
			Authors: []string{"Zoë Núñez", "Kurt Gödel", "Anderson and Sons"}, PublicationYear: 2021, Resolver: "openalex",
			URL: "https://pub.example/a b{c}.pdf", Classification: manifest.ClassPDF, Reason: "ok",
			Path: "PDF/2021__braces-in-titles__W10.pdf", SHA256: "aa11", ContentLength: 4096},
		manifest.Record{RunID: "r1", Timestamp: at(1), WorkID: "W2", DOI: "10.1000/w2", Title: "Old title, superseded",
			PublicationYear: 2020, Classification: manifest.ClassDeferred, Reason: "rate_limited"},
		manifest.Record{RecordType: manifest.TypeAttempt, RunID: "r1", Timestamp: at(1), WorkID: "W2", URL: "https://x.example/w2.pdf",
			Classification: manifest.ClassMiss, Reason: "http_429"},
		manifest.Record{RunID: "r1", Timestamp: at(2), WorkID: "W3", DOI: "10.1000/w3", Title: "=HYPERLINK(\"http://evil.example\",\"click\")",
			Authors: []string{"@mallory"}, PublicationYear: 2019, Classification: manifest.ClassMiss, Reason: "no_oa_candidates"},
		manifest.Record{RunID: "r2", Timestamp: at(10), WorkID: "W2", DOI: "10.1000/w2", Title: "Line one\nline two\r\twith \u202eevil\u202c bidi, \"quotes\", commas",
			Authors: []string{"Ada Lovelace", "Chien-Shiung Wu"}, PublicationYear: 2020, Resolver: "unpaywall",
			URL: "https://repo.example/w2.xml", Classification: manifest.ClassXML, Reason: "ok",
			Path: "XML/2020__line-one__W2.xml", SHA256: "bb22", ContentLength: 777},
		manifest.Record{RunID: "r2", Timestamp: at(11), WorkID: "W10", DOI: "10.1000/xyz{1}", Title: "Braces {in} \\emph{titles} and 50% of $x_1^2$ & #tags ~ok",
			Authors: []string{"Zoë Núñez", "Kurt Gödel", "Anderson and Sons"}, PublicationYear: 2021, Resolver: "openalex",
			URL: "https://pub.example/a b{c}.pdf", Classification: manifest.ClassSkipped, Reason: "already_saved",
			Path: "PDF/2021__braces-in-titles__W10.pdf", SHA256: "aa11", ContentLength: 4096},
	)
	writeManifest(t, filepath.Join(out, "manifest.shard-1-of-2.jsonl"), "",
		manifest.Record{RunID: "r3", Timestamp: at(20), WorkID: "W7", DOI: "10.1000/bad doi\nW666", Title: "Ångström, Łódź, Straße, Œuvre, naïve, ǘ, Şişli, Dvořák — 量子 Ωmega",
			Authors: []string{"José Ñandú"}, Classification: manifest.ClassHTML, Reason: "ok",
			URL: "https://site.example/w7?x=1#frag", Path: "HTML/noyear__angstrom__W7.html", SHA256: "cc33", ContentLength: 12},
		manifest.Record{RunID: "r3", Timestamp: at(5), WorkID: "W2", Title: "stale shard record loses to the later one",
			Classification: manifest.ClassMiss, Reason: "http_404"},
	)
	writeManifest(t, filepath.Join(out, "manifest.shard-2-of-2.jsonl"), "",
		manifest.Record{RunID: "r3", Timestamp: at(21), WorkID: "W1", Title: "", Classification: manifest.ClassDeferred, Reason: "host_cooldown"},
	)
	return out
}

func TestGoldenFormats(t *testing.T) {
	out := fixture(t)
	works, err := Load(out, "/data/out", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := Write(&b, f, works); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "all."+string(f), b.Bytes())
	}
	var b bytes.Buffer
	missDeferred, err := ParseStatus("miss,deferred")
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, IDs, Filter(works, missDeferred)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "miss-deferred.ids", b.Bytes())
}

// The latest record per work wins across the main manifest and the shards; a
// skipped record keeps its file's kind; attempt records and a torn line are ignored.
func TestLoadLatestPerWork(t *testing.T) {
	works, err := Load(fixture(t), "/data/out", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range works {
		got = append(got, w.WorkID+"="+w.Outcome)
	}
	if want := "W1=deferred W2=xml W3=miss W7=html W10=pdf"; strings.Join(got, " ") != want {
		t.Errorf("works %q, want %q", strings.Join(got, " "), want)
	}
	if works[4].File != filepath.Join("/data/out", "PDF", "2021__braces-in-titles__W10.pdf") {
		t.Errorf("file of a skipped work: %q", works[4].File)
	}
}

// The CSV parses back into the same number of rows and columns however hostile the
// titles, and no cell starts with a formula character.
func TestCSVParsesBack(t *testing.T) {
	works, err := Load(fixture(t), "/data/out", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, CSV, works); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(works)+1 || strings.Join(rows[0], ",") != "work_id,doi,title,year,outcome,reason,path,sha256,bytes,url" {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell starts a formula: %q", cell)
			}
			if strings.ContainsAny(cell, "\n\r\u202e") {
				t.Errorf("cell holds a line break or bidi override: %q", cell)
			}
		}
	}
}

// Every BibTeX entry has balanced braces, whatever its title holds.
func TestBibTeXBalanced(t *testing.T) {
	works, err := Load(fixture(t), "/data/out", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, BibTeX, works); err != nil {
		t.Fatal(err)
	}
	entries := strings.Split(b.String(), "\n@")
	if len(entries) != len(works) {
		t.Fatalf("%d entries for %d works", len(entries), len(works))
	}
	for _, e := range entries {
		depth := 0
		for i := 0; i < len(e); i++ {
			switch e[i] {
			case '\\':
				i++ // an escaped character
			case '{':
				depth++
			case '}':
				depth--
				if depth < 0 {
					t.Fatalf("closing brace without an opening one in\n%s", e)
				}
			}
		}
		if depth != 0 {
			t.Errorf("unbalanced braces (%d) in\n%s", depth, e)
		}
	}
}

func TestTeXEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"a{b}c":       `a\{b\}c`,
		`\emph`:       `\textbackslash{}emph`,
		"50% & $5 #1": `50\% \& \$5 \#1`,
		"x_1^2 ~ y":   `x\_1\^{}2 \~{} y`,
		"Zoë Núñez":   `Zo{\"e} N{\'u}{\~n}ez`,
		"naïve":       `na{\"\i}ve`,
		"Dvořák":      `Dvo{\v{r}}{\'a}k`,
		"Şişli":       `{\c{S}}i{\c{s}}li`,
		"ǘ":           `{\'{\"u}}`,
		"Straße Łódź": `Stra{\ss}e {\L}{\'o}d{\'z}`,
		"量子 Ωmega":    "量子 Ωmega",
		"a\nb\tc":     "a b c",
	} {
		if got := TeX(in); got != want {
			t.Errorf("TeX(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseStatusAndFormat(t *testing.T) {
	if _, err := ParseStatus("pdf,bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("bad status: %v", err)
	}
	if s, err := ParseStatus(" pdf , miss"); err != nil || !s["pdf"] || !s["miss"] || len(s) != 2 {
		t.Errorf("good status: %v %v", s, err)
	}
	if s, err := ParseStatus(""); err != nil || s != nil {
		t.Errorf("empty status: %v %v", s, err)
	}
	if _, err := ParseFormat("xlsx"); err == nil {
		t.Error("xlsx accepted")
	}
}

func TestLoadWithoutManifest(t *testing.T) {
	if _, err := Load(t.TempDir(), "/x", nil); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("err = %v", err)
	}
}
