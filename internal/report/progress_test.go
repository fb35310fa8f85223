package report

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/testkit"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// screen plays the output on a dumb terminal: '\r' returns to column 0 and what
// follows overwrites, '\n' ends the line. It returns the lines that scrolled up and
// the line the cursor is on, both with trailing spaces trimmed.
func screen(out string) (lines []string, current string) {
	var line []rune
	col := 0
	for _, r := range out {
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = line[:0], 0
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	return lines, strings.TrimRight(string(line), " ")
}

func noWidth() int { return 0 }

func TestProgressShowsCountsRateETAAndCooldowns(t *testing.T) {
	clk := clock.NewFake(t0)
	cool := map[string]time.Time{
		"api.openalex.org": t0.Add(90 * time.Second),
		"export.arxiv.org": t0.Add(30 * time.Second),
		"gone.example":     t0.Add(-time.Second), // already open again
		"c.example":        t0.Add(2 * time.Hour),
		"d.example":        t0.Add(26 * time.Hour),
	}
	var buf bytes.Buffer
	p := newProgress(&buf, func() map[string]time.Time { return cool }, clk, 0, noWidth)
	p.SetTotal(10)
	clk.Advance(2 * time.Second)
	p.WorkDone("pdf", 2_000_000)
	clk.Advance(2 * time.Second)
	p.WorkDone("miss", 0)
	p.WorkDone("skipped", 5_000_000) // on disk already: not part of the rate
	p.WorkDone("deferred", 0)
	p.Refresh()

	_, cur := screen(buf.String())
	for _, want := range []string{
		" 40% [", "] (4/10)",
		"saved 2 missed 1 deferred 1",
		"500 kB/s", // 2 MB in 4 s
		"ETA 6s",   // 4 works in 4 s, 6 to go
		"cooling: export.arxiv.org until 12:00:30 (26s), api.openalex.org until 12:01:30 (1m26s) +2 more",
	} {
		if !strings.Contains(cur, want) {
			t.Errorf("progress line %q lacks %q", cur, want)
		}
	}
	if strings.Contains(cur, "gone.example") {
		t.Errorf("a host whose cooldown ended is still listed: %q", cur)
	}
	p.Close()
	if _, cur := screen(buf.String()); cur != "" {
		t.Errorf("Close left %q on the line", cur)
	}
}

func TestProgressUnknownTotal(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf bytes.Buffer
	p := newProgress(&buf, nil, clk, 0, noWidth)
	defer p.Close()
	if _, cur := screen(buf.String()); !strings.Contains(cur, "(0/-)") {
		t.Errorf("no initial line before any event: %q", cur)
	}
	p.WorkDone("pdf", 1000)
	p.WorkDone("dry_run", 0)
	_, cur := screen(buf.String())
	if !strings.Contains(cur, "(2/-)") || !strings.Contains(cur, "saved 1") || !strings.Contains(cur, "dry-run 1") {
		t.Errorf("unknown total: line %q", cur)
	}
	if strings.Contains(cur, "ETA") || strings.Contains(cur, "%") {
		t.Errorf("an ETA or percentage without a total: %q", cur)
	}
}

func TestProgressTotalArrivesLateOrIsExceeded(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf bytes.Buffer
	p := newProgress(&buf, nil, clk, 0, noWidth)
	defer p.Close()
	for range 3 {
		p.WorkDone("pdf", 10)
	}
	p.SetTotal(10)
	if _, cur := screen(buf.String()); !strings.Contains(cur, " 30% [") || !strings.Contains(cur, "(3/10)") {
		t.Errorf("after a late SetTotal(10): %q", cur)
	}
	p.SetTotal(2) // smaller than what is done: clamp
	if _, cur := screen(buf.String()); !strings.Contains(cur, "100% [") || !strings.Contains(cur, "(3/3)") {
		t.Errorf("after SetTotal below done: %q", cur)
	}
	p.WorkDone("miss", 0) // more works than announced
	if _, cur := screen(buf.String()); !strings.Contains(cur, "(4/4)") || !strings.Contains(cur, "missed 1") {
		t.Errorf("past the total: %q", cur)
	}
}

func TestProgressLogLinesAreWholeUnderConcurrency(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf testkit.Buffer
	cool := func() map[string]time.Time { return map[string]time.Time{"api.example": clk.Now().Add(time.Minute)} }
	p := newProgress(&buf, cool, clk, time.Millisecond, noWidth) // background refresh on
	log := p.LogWriter()

	const writers, perWriter = 8, 60
	var want []string
	for g := range writers {
		for i := range perWriter {
			want = append(want, fmt.Sprintf("time=2026-03-14T12:00:00Z level=INFO msg=\"writer %d line %d\" host=h%d.example", g, i, g))
		}
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := log.Write([]byte(want[g*perWriter+i] + "\n")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.SetTotal(writers * perWriter)
		for i := range writers * perWriter {
			clk.Advance(10 * time.Millisecond)
			p.WorkDone([]string{"pdf", "miss", "deferred"}[i%3], 1000)
			if i%50 == 0 {
				p.Refresh()
			}
		}
	}()
	wg.Wait()
	p.Close()

	out := buf.String()
	if !strings.Contains(out, "[") || !strings.Contains(out, "saved") {
		t.Fatalf("no progress line was drawn: %q", out[:min(len(out), 300)])
	}
	lines, cur := screen(out)
	if cur != "" {
		t.Errorf("Close left %q on the line", cur)
	}
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		for i := range min(len(lines), len(want)) {
			if lines[i] != want[i] {
				t.Fatalf("a log line came out torn or changed:\n got %q\nwant %q", lines[i], want[i])
			}
		}
		t.Fatalf("got %d log lines, want %d", len(lines), len(want))
	}
}

func TestProgressLogWriterJoinsPartialWrites(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, nil, clock.NewFake(t0), 0, noWidth)
	w := p.LogWriter()
	for _, s := range []string{"hello ", "world\nsec", "ond"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	lines, _ := screen(buf.String())
	if !slices.Equal(lines, []string{"hello world"}) {
		t.Errorf("before Close: lines %q", lines)
	}
	p.Close() // flushes the unfinished line
	p.Close() // idempotent
	if _, err := w.Write([]byte("after close\n")); err != nil {
		t.Fatal(err)
	}
	lines, cur := screen(buf.String())
	if !slices.Equal(lines, []string{"hello world", "second", "after close"}) || cur != "" {
		t.Errorf("lines %q, current %q", lines, cur)
	}
}

func TestProgressSilentAfterClose(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, nil, clock.NewFake(t0), 0, noWidth)
	p.Close()
	n := buf.Len()
	p.SetTotal(5)
	p.WorkDone("pdf", 1)
	p.Refresh()
	if buf.Len() != n {
		t.Errorf("wrote after Close: %q", buf.String()[n:])
	}
}

func TestProgressFitsTheTerminal(t *testing.T) {
	clk := clock.NewFake(t0)
	cool := map[string]time.Time{}
	for i := range 6 {
		cool[fmt.Sprintf("a-very-long-host-name-%d.publisher.example.org", i)] = t0.Add(time.Duration(i+1) * time.Hour)
	}
	var buf bytes.Buffer
	cols := 80
	p := newProgress(&buf, func() map[string]time.Time { return cool }, clk, 0, func() int { return cols })
	defer p.Close()
	p.SetTotal(1000)
	for range 120 {
		clk.Advance(time.Second)
		p.WorkDone("pdf", 3_000_000)
	}
	p.Refresh()
	check := func(width int, from int) {
		t.Helper()
		for _, seg := range strings.Split(buf.String()[from:], "\r") {
			if n := utf8.RuneCountInString(seg); n >= width {
				t.Fatalf("a %d-column draw on a %d-column terminal: %q", n, width, seg)
			}
		}
	}
	check(80, 0)
	if _, cur := screen(buf.String()); !strings.HasSuffix(cur, "(120/1000) saved 120 | 3.0 MB/s | ETA 14m40s") {
		t.Errorf("on 80 columns the zero counts and the cooling hosts should go first: %q", cur)
	}
	cols = 50
	from := buf.Len()
	p.Refresh()
	p.WorkDone("pdf", 1)
	check(50, from) // erasing the old, wider line included
	if _, cur := screen(buf.String()); !strings.Contains(cur, "(121/1000)") {
		t.Errorf("after the resize: %q", cur)
	}
}

// The cooldown source may log (the fetch client logs while holding its locks); the
// display must not hold its own lock while it asks.
func TestProgressCooldownSourceMayLog(t *testing.T) {
	var buf testkit.Buffer
	var p *Progress
	src := func() map[string]time.Time {
		fmt.Fprintln(p.LogWriter(), "level=WARN msg=cooling")
		return nil
	}
	p = newProgress(&buf, nil, clock.NewFake(t0), 0, noWidth)
	p.SetCooldowns(src)
	done := make(chan struct{})
	go func() { p.Refresh(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Refresh deadlocked with a cooldown source that logs")
	}
	p.Close()
	if lines, _ := screen(buf.String()); !slices.Equal(lines, []string{"level=WARN msg=cooling"}) {
		t.Errorf("lines %q", lines)
	}
}

func TestNewProgressPublic(t *testing.T) {
	var buf testkit.Buffer
	p := NewProgress(&buf, nil, nil) // a buffer is no terminal: no width limit
	p.SetTotal(2)
	p.WorkDone("pdf", 10)
	p.Close()
	if !strings.Contains(buf.String(), "(1/2)") {
		t.Errorf("output %q", buf.String())
	}
}

func TestClockTime(t *testing.T) {
	if got := clockTime(t0.Add(90*time.Second), t0); got != "12:01:30" {
		t.Errorf("same day: %q", got)
	}
	if got := clockTime(t0.Add(26*time.Hour), t0); got != "Mar 15 14:00" {
		t.Errorf("next day: %q", got)
	}
}

// On a narrower terminal the line keeps the most useful facts: zero counts go first,
// then the cooling hosts are counted instead of named, then left out, then the
// text is cut.
func TestProgressShortensInOrder(t *testing.T) {
	clk := clock.NewFake(t0)
	cool := map[string]time.Time{
		"api.openalex.org":  t0.Add(3 * time.Minute),
		"export.arxiv.org":  t0.Add(40 * time.Second),
		"api.crossref.org":  t0.Add(time.Hour),
		"www.publisher.com": t0.Add(2 * time.Hour),
	}
	for _, c := range []struct {
		cols int
		tail string
	}{
		{0, "saved 1 missed 0 deferred 0 | 250 kB/s | ETA 2m36s | cooling: export.arxiv.org until 12:00:40 (36s), api.openalex.org until 12:03:00 (2m56s) +2 more"},
		{170, "saved 1 | 250 kB/s | ETA 2m36s | cooling: export.arxiv.org until 12:00:40 (36s), api.openalex.org until 12:03:00 (2m56s) +2 more"},
		{140, "saved 1 | 250 kB/s | ETA 2m36s | cooling: export.arxiv.org until 12:00:40 (36s) +3 more"},
		{110, "saved 1 missed 0 deferred 0 | 250 kB/s | ETA 2m36s | 4 hosts cooling"},
		{80, "saved 1 | 250 kB/s | ETA 2m36s | 4 hosts cooling"},
		{60, "saved 1 | 250 kB/s | ETA 2m36s"},
		{50, "saved 1 | 250 kB/s ..."},
	} {
		var buf bytes.Buffer
		p := newProgress(&buf, func() map[string]time.Time { return cool }, clk, 0, func() int { return c.cols })
		p.SetTotal(40)
		clk.Advance(4 * time.Second)
		p.WorkDone("pdf", 1_000_000)
		p.Refresh()
		_, cur := screen(buf.String())
		if !strings.HasSuffix(cur, ") "+c.tail) {
			t.Errorf("%d columns: %q, want it to end in %q", c.cols, cur, c.tail)
		}
		if c.cols > 0 && utf8.RuneCountInString(cur) >= c.cols {
			t.Errorf("%d columns: %d-column line %q", c.cols, utf8.RuneCountInString(cur), cur)
		}
		p.Close()
		clk = clock.NewFake(t0)
	}
}

type failingWriter struct{ writes int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("stderr closed")
}

// A display that cannot write gives up quietly; log lines still report the error.
func TestProgressStopsDrawingWhenTheWriterFails(t *testing.T) {
	fw := &failingWriter{}
	p := newProgress(fw, nil, clock.NewFake(t0), 0, noWidth)
	defer p.Close()
	n := fw.writes
	if n != 1 {
		t.Fatalf("%d writes for the first draw, want 1", n)
	}
	p.SetTotal(3)
	p.WorkDone("pdf", 1)
	p.Refresh()
	if fw.writes != n {
		t.Errorf("%d more draws after a failed write", fw.writes-n)
	}
	if _, err := p.LogWriter().Write([]byte("level=ERROR msg=x\n")); err == nil {
		t.Error("a failed log write returned no error")
	}
}

// The background refresh is paced by the progress line's clock: on a fake clock it
// polls the cooldowns only when the fake time passes the refresh interval.
func TestProgressRefreshFollowsItsClock(t *testing.T) {
	clk := clock.NewFake(t0)
	var polls atomic.Int64
	cool := func() map[string]time.Time { polls.Add(1); return nil }
	var buf testkit.Buffer
	const every = time.Hour // the wall clock never gets there during the test
	p := newProgress(&buf, cool, clk, every, noWidth)
	defer p.Close()
	before := polls.Load()
	clk.Advance(every - time.Millisecond)
	time.Sleep(50 * time.Millisecond) // a wall-clock or early refresh would poll by now
	if n := polls.Load(); n != before {
		t.Fatalf("refreshed %d times before the clock reached the interval", n-before)
	}
	clk.Advance(time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for polls.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no refresh after the clock passed the interval")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestProgressShowsTheFleet: the fleet's state, polled with the cooldowns, is on the
// line, and a change (Redis away) shows at the next refresh.
func TestProgressShowsTheFleet(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf bytes.Buffer
	p := newProgress(&buf, nil, clk, 0, noWidth)
	defer p.Close()
	state := "fleet 4"
	p.SetFleet(func() string { return state })
	p.SetTotal(10)
	p.WorkDone("pdf", 1000)
	p.Refresh()
	if _, cur := screen(buf.String()); !strings.Contains(cur, "| fleet 4") {
		t.Fatalf("progress line %q lacks the fleet", cur)
	}
	state = "fleet away: local limits ÷4"
	p.Refresh()
	if _, cur := screen(buf.String()); !strings.Contains(cur, "fleet away: local limits ÷4") {
		t.Fatalf("progress line %q does not show the fallback", cur)
	}
}
