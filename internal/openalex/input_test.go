package openalex

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseInputLine(t *testing.T) {
	tests := []struct {
		line    string
		wantID  string
		wantOK  bool
		wantErr string // substring; "" means no error
	}{
		{"", "", false, ""},
		{"   \t ", "", false, ""},
		{"# a comment", "", false, ""},
		{"   # indented comment", "", false, ""},
		{"W2741809807", "W2741809807", true, ""},
		{"w2741809807", "W2741809807", true, ""},
		{"  W2741809807\r", "W2741809807", true, ""},
		{"https://openalex.org/W2741809807", "W2741809807", true, ""},
		{"http://openalex.org/W42", "W42", true, ""},
		{"https://openalex.org/works/W42", "W42", true, ""},
		{"openalex.org/W42", "W42", true, ""},
		{"10.7717/peerj.4375", "10.7717/peerj.4375", true, ""},
		{"10.7717/PeerJ.4375", "10.7717/peerj.4375", true, ""},
		{"doi:10.7717/peerj.4375", "10.7717/peerj.4375", true, ""},
		{"DOI:10.7717/peerj.4375", "10.7717/peerj.4375", true, ""},
		{"https://doi.org/10.7717/peerj.4375", "10.7717/peerj.4375", true, ""},
		{"http://dx.doi.org/10.7717/peerj.4375", "10.7717/peerj.4375", true, ""},
		{"https://doi.org/10.1000%2Fabc%20def", "", false, "doi.org link"},
		{"https://doi.org/", "", false, "doi.org link"},
		{"https://doi.org/10.1000/a%2Bb", "10.1000/a+b", true, ""},
		{"\ufeff10.1000/bom", "10.1000/bom", true, ""},
		{"10.1000.5/x/y/z", "10.1000.5/x/y/z", true, ""},
		{"10.1002/(SICI)1097-4636(199706)35:4<413::AID-JBM1>3.0.CO;2-#", "10.1002/(sici)1097-4636(199706)35:4<413::aid-jbm1>3.0.co;2-#", true, ""},
		{"10.7717", "", false, "no suffix"},
		{"10.7717/", "", false, "not a DOI"},
		{"11.1000/x", "", false, "not a DOI"},
		{"W12a", "", false, "not a DOI"},
		{"W", "", false, "not a DOI"},
		{"A5023888391", "", false, "not a DOI"},
		{"https://openalex.org/A5023888391", "", false, "OpenAlex work URL"},
		{"https://example.com/paper.pdf", "", false, "unsupported URL"},
		{"10.1000/x 10.1000/y", "", false, "whitespace"},
		{"W1, W2", "", false, "whitespace"},
	}
	for _, tt := range tests {
		id, ok, err := ParseInputLine(tt.line)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseInputLine(%q) err = %v, want %q", tt.line, err, tt.wantErr)
			continue
		}
		if id != tt.wantID || ok != tt.wantOK {
			t.Errorf("ParseInputLine(%q) = %q, %v; want %q, %v", tt.line, id, ok, tt.wantID, tt.wantOK)
		}
	}
}

type badLine struct {
	no   int
	line string
	err  error
}

func TestReadInput(t *testing.T) {
	long := "10.1000/" + strings.Repeat("x", MaxInputLine+10)
	input := "\ufeff# works to fetch\r\n" +
		"W1\r\n" +
		"\n" +
		"https://doi.org/10.1000/ABC\n" +
		"not an id\n" +
		long + "\n" +
		"doi:10.1000/after-long\n" +
		"   \n" +
		"10.1000/last-without-newline"
	var ids []string
	var lines []int
	var bad []badLine
	err := ReadInput(strings.NewReader(input), func(n int, id string) error {
		lines = append(lines, n)
		ids = append(ids, id)
		return nil
	}, func(n int, line string, err error) { bad = append(bad, badLine{n, line, err}) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"W1", "10.1000/abc", "10.1000/after-long", "10.1000/last-without-newline"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	if want := []int{2, 4, 7, 9}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("line numbers = %v, want %v", lines, want)
	}
	if len(bad) != 2 || bad[0].no != 5 || bad[0].line != "not an id" || bad[1].no != 6 || !errors.Is(bad[1].err, ErrLineTooLong) {
		t.Fatalf("bad lines = %+v", bad)
	}
	if len(bad[1].line) > 210 {
		t.Fatalf("bad line not shortened: %d bytes", len(bad[1].line))
	}
}

func TestReadInputErrors(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ReadInput(strings.NewReader("W1\nW2\nW3\n"), func(int, string) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("err %v after %d ids", err, n)
	}
	// Bad lines with a nil onBad are skipped silently.
	n = 0
	if err := ReadInput(strings.NewReader("junk\nW5"), func(int, string) error { n++; return nil }, nil); err != nil || n != 1 {
		t.Fatalf("err %v, ids %d", err, n)
	}
	boom := errors.New("disk on fire")
	err = ReadInput(iotest.DataErrReader(iotest.ErrReader(boom)), func(int, string) error { return nil }, nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("read error = %v", err)
	}
	if err := ReadInput(strings.NewReader(""), func(int, string) error { t.Fatal("called"); return nil }, nil); err != nil {
		t.Fatal(err)
	}
}

func TestArxivID(t *testing.T) {
	loc := func(landing string) Location { return Location{LandingPageURL: landing} }
	tests := []struct {
		name string
		w    Work
		want string
	}{
		{"none", Work{}, ""},
		{"arxiv DOI", Work{DOI: "10.48550/arxiv.2102.00001"}, "2102.00001"},
		{"arxiv DOI five digits with version", Work{DOI: "10.48550/arxiv.2301.12345v2"}, "2301.12345v2"},
		{"arxiv DOI old style", Work{DOI: "10.48550/arxiv.hep-th/9901001"}, "hep-th/9901001"},
		{"other DOI", Work{DOI: "10.1145/3292500"}, ""},
		{"best landing", Work{Best: &Location{LandingPageURL: "https://arxiv.org/abs/1706.03762"}}, "1706.03762"},
		{"primary landing with version", Work{Primary: &Location{LandingPageURL: "http://arxiv.org/abs/1706.03762v5"}}, "1706.03762v5"},
		{"export host and trailing slash", Work{Locations: []Location{loc("https://doi.org/10.1/x"), loc("https://export.arxiv.org/abs/2102.00001/")}}, "2102.00001"},
		{"old style with subject class", Work{Locations: []Location{loc("https://arxiv.org/abs/math.GT/0309136")}}, "math.GT/0309136"},
		{"pdf landing ignored", Work{Locations: []Location{loc("https://arxiv.org/pdf/1706.03762")}}, ""},
		{"lookalike host", Work{Locations: []Location{loc("https://notarxiv.org/abs/1706.03762")}}, ""},
		{"lookalike suffix", Work{Locations: []Location{loc("https://arxiv.org.evil.example/abs/1706.03762")}}, ""},
		{"junk id", Work{Locations: []Location{loc("https://arxiv.org/abs/../../etc/passwd")}}, ""},
		{"injection in DOI", Work{DOI: "10.48550/arxiv.2102.00001?x=1"}, ""},
		{"DOI beats landing", Work{DOI: "10.48550/arxiv.2102.00001", Best: &Location{LandingPageURL: "https://arxiv.org/abs/1111.11111"}}, "2102.00001"},
	}
	for _, tt := range tests {
		if got := tt.w.ArxivID(); got != tt.want {
			t.Errorf("%s: ArxivID() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNormalizers(t *testing.T) {
	dois := map[string]string{
		"https://doi.org/10.1/ABC": "10.1/abc", " doi: 10.1/x ": "10.1/x", "10.1/x": "10.1/x",
		"": "", "https://doi.org/": "", "https://example.org/10.1/x": "", "10.1": "",
	}
	for in, want := range dois {
		if got := NormalizeDOI(in); got != want {
			t.Errorf("NormalizeDOI(%q) = %q, want %q", in, got, want)
		}
	}
	pmcids := map[string]string{
		"PMC123": "PMC123", "pmc123": "PMC123", "123": "PMC123",
		"https://www.ncbi.nlm.nih.gov/pmc/articles/5815332":     "PMC5815332",
		"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5815332/": "PMC5815332",
		"": "", "PMC": "", "PMC12a": "", "PMC-1": "",
	}
	for in, want := range pmcids {
		if got := NormalizePMCID(in); got != want {
			t.Errorf("NormalizePMCID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := normalizePMID("https://pubmed.ncbi.nlm.nih.gov/29456894"); got != "29456894" {
		t.Errorf("normalizePMID = %q", got)
	}
	if got := EscapeDOIPath("10.1000/a b/c?d#e%f"); got != "10.1000/a%20b/c%3Fd%23e%25f" {
		t.Errorf("EscapeDOIPath = %q", got)
	}
}

func FuzzParseInputLine(f *testing.F) {
	for _, s := range []string{"W1", "10.1/x", "https://doi.org/10.1/%zz", "# c", "doi:", "https://openalex.org/W", "\ufeff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		id, ok, err := ParseInputLine(line)
		if err != nil && ok || !ok && id != "" {
			t.Fatalf("inconsistent result %q %v %v", id, ok, err)
		}
		if !ok {
			return
		}
		// A normalised id parses to itself, and is a W-id or a DOI.
		again, ok2, err2 := ParseInputLine(id)
		if err2 != nil || !ok2 || again != id {
			t.Fatalf("%q -> %q -> %q %v %v", line, id, again, ok2, err2)
		}
		if !strings.HasPrefix(id, "W") && NormalizeDOI(id) != id {
			t.Fatalf("%q normalised to %q, neither W-id nor DOI", line, id)
		}
	})
}
