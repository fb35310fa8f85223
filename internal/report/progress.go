package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/manifest"
)

// Tuning of the progress line.
const (
	refreshEvery  = 500 * time.Millisecond // how often cooldowns, rate and ETA are refreshed
	rateWindow    = 10 * time.Second       // the download rate is measured over this window
	etaWindow     = 60 * time.Second       // the works rate behind the ETA, over this window
	barWide       = 20                     // cells of the bar itself
	barNarrow     = 10                     // cells of the bar on a terminal narrower than wideTerminal
	wideTerminal  = 110                    // columns
	maxCoolShown  = 2                      // cooling hosts named; the rest are counted
	maxPendingLog = 64 << 10               // a partial log line longer than this is written anyway
)

// Progress is what the runner reports to.
var _ download.Progress = (*Progress)(nil)

// sample is a point of the run's history, for windowed rates.
type sample struct {
	at    time.Time
	bytes int64
	done  int
}

// cooling is a host that is closed until a time.
type cooling struct {
	host  string
	until time.Time
}

// Progress is the live progress line on stderr. It implements download.Progress and
// shows works done out of the total (a spinner while the total is unknown), the
// saved, missed and deferred counts, the download rate, the ETA, and the hosts that
// are cooling down right now with the time they reopen.
//
// Log lines written through LogWriter never tear it: the line is cleared, the log
// line written whole, and the line redrawn, all under one mutex. All methods are safe
// for concurrent use; after Close they do nothing (LogWriter passes writes through).
type Progress struct {
	out       io.Writer
	now       func() time.Time
	cols      func() int
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	cooldowns func() map[string]time.Time
	fleet     func() string // the fleet's state for the line; nil or "" = nothing
	fleetText string
	bar       *progressbar.ProgressBar
	shown     int  // columns of the progress line on screen, 0 when erased
	broken    bool // a write to out failed: draw no more
	closed    bool
	start     time.Time
	total     int // 0: unknown
	done      int
	saved     int
	missed    int
	deferred  int
	dryRun    int
	bytes     int64
	history   []sample
	cooling   []cooling
	width     int // terminal columns, 0 when unknown
	pending   []byte
}

// NewProgress starts a progress line on w (stderr). cooldowns, polled every 500 ms,
// lists the hosts closed right now and until when (fetch.Client.Cooldowns); it may be
// nil, and may be set later with SetCooldowns. clk tells the time for the rate and
// the ETA and paces the refresh (every 500 ms of its time); nil means the real clock.
// Call Close when the run ends.
func NewProgress(w io.Writer, cooldowns func() map[string]time.Time, clk clock.Clock) *Progress {
	return newProgress(w, cooldowns, clk, refreshEvery, func() int { return termColumns(w) })
}

// newProgress is NewProgress with the refresh interval (0: no background refresh)
// and the terminal width made explicit, for tests.
func newProgress(w io.Writer, cooldowns func() map[string]time.Time, clk clock.Clock,
	every time.Duration, cols func() int) *Progress {
	if clk == nil {
		clk = clock.Real{}
	}
	if cols == nil {
		cols = func() int { return 0 }
	}
	p := &Progress{
		out: w, now: clk.Now, cols: cols, cooldowns: cooldowns,
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	p.start = clk.Now()
	p.history = []sample{{at: p.start}}
	p.width = cols()
	p.mu.Lock()
	p.bar = p.newBar()
	p.redraw()
	p.mu.Unlock()
	if every > 0 {
		go p.loop(clock.NewTicker(clk, every))
	} else {
		close(p.stopped)
	}
	return p
}

// newBar builds the bar for the current total. The bar only formats the line: it
// writes to io.Discard and p.draw puts its String() on the terminal, so that erasing
// and redrawing (around log lines, after a resize) stay in our hands. With these
// options progressbar keeps no goroutine of its own (the spinner advances on each
// render), so every call into it happens under p.mu. Called with p.mu held.
func (p *Progress) newBar() *progressbar.ProgressBar {
	limit := -1 // unknown: a spinner and "done/-"
	if p.total > 0 {
		limit = p.total
	}
	bar := progressbar.NewOptions(limit,
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionSetWidth(p.barCells()),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionSpinnerCustom([]string{"|", "/", "-", `\`}),
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	if p.done > 0 {
		// Restore the count; the caller draws. Add fails only past max, and max
		// (the total) is never below done.
		_ = bar.Add(p.done)
	}
	return bar
}

// SetFleet adds the fleet's state to the line, polled with the cooldowns (for
// example "fleet 4" or "fleet away: local limits ÷4").
func (p *Progress) SetFleet(f func() string) {
	p.mu.Lock()
	p.fleet = f
	p.mu.Unlock()
}

// SetCooldowns sets (or replaces) the source of cooling hosts, for a caller that
// builds the fetch client after the progress line.
func (p *Progress) SetCooldowns(f func() map[string]time.Time) {
	p.mu.Lock()
	p.cooldowns = f
	p.mu.Unlock()
}

// SetTotal sets the number of works expected (OpenAlex meta.count capped by
// --max-works). A total of 0 or less means unknown.
func (p *Progress) SetTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || n == p.total || (n <= 0 && p.total == 0) {
		return
	}
	p.total = max(n, p.done, 0) // never below what is already done
	p.bar = p.newBar()
	p.redraw()
}

// WorkDone counts one finished work. bytes is its file's size; the bytes of works
// resume skipped (already on disk) or that a dry run only resolved do not count
// towards the download rate.
func (p *Progress) WorkDone(classification string, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.done++
	switch classification {
	case manifest.ClassPDF, manifest.ClassXML, manifest.ClassHTML:
		p.saved++
		p.bytes += max(bytes, 0)
	case manifest.ClassSkipped:
		p.saved++
	case manifest.ClassMiss:
		p.missed++
	case manifest.ClassDeferred:
		p.deferred++
	case manifest.ClassDryRun:
		p.dryRun++
	}
	if p.total > 0 && p.done > p.total {
		// More works than announced (the search grew while paging): keep counting.
		p.total = p.done
		p.bar = p.newBar()
		p.redraw()
		return
	}
	// Set the text without drawing (an Option only sets a field; safe under p.mu, as
	// no goroutine of progressbar's runs), then let Add draw the line once.
	progressbar.OptionSetDescription(p.description(p.now()))(p.bar)
	_ = p.bar.Add(1) // within max: the total was raised above when needed
	p.draw()
}

// Refresh polls the cooldowns and the terminal width and redraws the line with a
// fresh rate and ETA. The background loop calls it every 500 ms.
func (p *Progress) Refresh() {
	p.mu.Lock()
	src, fleetSrc := p.cooldowns, p.fleet
	p.mu.Unlock()
	// Ask for the cooldowns outside p.mu: the fetch client may log (through
	// LogWriter, which takes p.mu) while holding its own locks.
	var cool map[string]time.Time
	if src != nil {
		cool = src()
	}
	fleetText := ""
	if fleetSrc != nil {
		fleetText = fleetSrc()
	}
	now := p.now()
	cols := p.cols()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.fleetText = fleetText
	p.cooling = p.cooling[:0]
	for h, until := range cool {
		if until.After(now) {
			p.cooling = append(p.cooling, cooling{h, until})
		}
	}
	slices.SortFunc(p.cooling, func(a, b cooling) int {
		return cmp.Or(a.until.Compare(b.until), cmp.Compare(a.host, b.host))
	})
	p.history = append(p.history, sample{at: now, bytes: p.bytes, done: p.done})
	for len(p.history) > 2 && now.Sub(p.history[1].at) >= etaWindow {
		p.history = p.history[1:]
	}
	if cols != p.width {
		old := p.barCells()
		p.width = cols
		if p.barCells() != old {
			p.bar = p.newBar()
		}
	}
	p.redraw()
}

func (p *Progress) loop(t *clock.Ticker) {
	defer close(p.stopped)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.Refresh()
		}
	}
}

// Close stops the refreshing, writes out any partial log line and erases the
// progress line, so that what follows (the summary table) starts on a clean line.
func (p *Progress) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.stopped
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clearLine()
		p.closed = true
		if len(p.pending) > 0 {
			p.write(string(p.pending) + "\n")
			p.pending = nil
		}
	})
}

// LogWriter returns the writer to give the slog handler instead of stderr: each
// complete line is written whole, between erasing and redrawing the progress line.
// A partial line waits for its end (or for Close).
func (p *Progress) LogWriter() io.Writer { return logWriter{p} }

type logWriter struct{ p *Progress }

func (l logWriter) Write(b []byte) (int, error) {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.out.Write(b)
	}
	p.pending = append(p.pending, b...)
	cut := bytes.LastIndexByte(p.pending, '\n') + 1
	if cut == 0 && len(p.pending) >= maxPendingLog {
		p.pending = append(p.pending, '\n')
		cut = len(p.pending)
	}
	if cut == 0 {
		return len(b), nil
	}
	p.clearLine()
	_, err := p.out.Write(p.pending[:cut])
	p.pending = append(p.pending[:0], p.pending[cut:]...)
	p.redraw()
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// clearLine erases the progress line and leaves the cursor at its start. Called
// with p.mu held.
func (p *Progress) clearLine() {
	if p.shown == 0 {
		return
	}
	n := p.shown
	if p.width > 0 {
		n = min(n, p.width-1) // after a shrink the terminal has rewrapped the old line
	}
	p.write("\r" + strings.Repeat(" ", n) + "\r")
	p.shown = 0
}

// write writes s to the terminal. The display is a courtesy: once a write fails
// (stderr closed, say) it stops drawing rather than fail the run. Called with p.mu
// held.
func (p *Progress) write(s string) {
	if p.broken {
		return
	}
	if _, err := io.WriteString(p.out, s); err != nil {
		p.broken = true
	}
}

// redraw refreshes the description and draws the line. Called with p.mu held.
func (p *Progress) redraw() {
	p.bar.Describe(p.description(p.now()))
	p.draw()
}

// draw puts the bar's current rendering on the terminal, over what was there.
// Called with p.mu held.
func (p *Progress) draw() {
	line := strings.TrimRight(strings.TrimLeft(p.bar.String(), "\r"), " ")
	if line == "" {
		return
	}
	w := utf8.RuneCountInString(line)
	if w < p.shown {
		p.clearLine() // the new line is shorter: erase the tail of the old one
	}
	p.write("\r" + line)
	p.shown = w
}

// description is the text after the bar: counts, rate, ETA and cooling hosts. On a
// narrow terminal the zero counts are left out, the cooling hosts told more briefly
// or not at all, and what is still too long is cut. Called with p.mu held.
func (p *Progress) description(now time.Time) string {
	rate := formatBytes(p.rate(now, rateWindow)) + "/s"
	eta := ""
	if d, ok := p.eta(now); ok {
		eta = "ETA " + formatDuration(d)
	}
	room := p.room()
	var s string
	for _, cool := range p.coolingTexts(now) {
		for _, counts := range p.countTexts() {
			s = joinNonEmpty(" | ", counts, rate, eta, p.fleetText, cool)
			if room == 0 || utf8.RuneCountInString(s) <= room {
				return s
			}
		}
	}
	return fit(s, room)
}

// countTexts tells the saved, missed and deferred counts: all of them, then only
// those above zero. Called with p.mu held.
func (p *Progress) countTexts() []string {
	var full, brief []string
	for _, c := range []struct {
		name string
		n    int
	}{{"saved", p.saved}, {"missed", p.missed}, {"deferred", p.deferred}, {"dry-run", p.dryRun}} {
		t := fmt.Sprintf("%s %d", c.name, c.n)
		if c.n > 0 || c.name != "dry-run" {
			full = append(full, t)
		}
		if c.n > 0 {
			brief = append(brief, t)
		}
	}
	if len(brief) == 0 {
		brief = full[:1]
	}
	return []string{strings.Join(full, " "), strings.Join(brief, " ")}
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}

// rate is the download rate in bytes per second over the last window.
func (p *Progress) rate(now time.Time, window time.Duration) float64 {
	from := p.since(now, window)
	if secs := now.Sub(from.at).Seconds(); secs >= 1 {
		return float64(p.bytes-from.bytes) / secs
	}
	return 0
}

// eta is the time left at the recent works rate, when the total is known.
func (p *Progress) eta(now time.Time) (time.Duration, bool) {
	left := p.total - p.done
	if p.total <= 0 || left <= 0 {
		return 0, false
	}
	from := p.since(now, etaWindow)
	n, secs := p.done-from.done, now.Sub(from.at).Seconds()
	if n <= 0 || secs <= 0 {
		return 0, false
	}
	return secondsToDuration(float64(left) * secs / float64(n)), true
}

// since returns the sample a rate over window starts from: the newest one at least
// window old, or the oldest one kept when the run is younger than window.
func (p *Progress) since(now time.Time, window time.Duration) sample {
	from := p.history[0]
	for _, s := range p.history[1:] {
		if now.Sub(s.at) < window {
			break
		}
		from = s
	}
	return from
}

// coolingTexts tells which hosts are cooling down, from the most detailed to the
// briefest, ending with "" (not told). With none cooling it is just "".
func (p *Progress) coolingTexts(now time.Time) []string {
	var live []cooling
	for _, c := range p.cooling {
		if c.until.After(now) {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return []string{""}
	}
	named := func(n int) string {
		var names []string
		for _, c := range live[:n] {
			names = append(names, fmt.Sprintf("%s until %s (%s)", c.host, clockTime(c.until, now), formatDuration(c.until.Sub(now))))
		}
		s := "cooling: " + strings.Join(names, ", ")
		if rest := len(live) - n; rest > 0 {
			s += fmt.Sprintf(" +%d more", rest)
		}
		return s
	}
	var out []string
	for n := min(len(live), maxCoolShown); n > 0; n-- {
		out = append(out, named(n))
	}
	count := fmt.Sprintf("%d hosts cooling", len(live))
	if len(live) == 1 {
		count = "1 host cooling"
	}
	return append(out, count, "")
}

// clockTime prints when a host reopens: the time of day, with the date when that is
// not today (a spent daily quota can close a host for hours).
func clockTime(t, now time.Time) string {
	ty, tm, td := t.Date()
	ny, nm, nd := now.In(t.Location()).Date()
	if ty == ny && tm == nm && td == nd {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04")
}

// barCells is the width of the bar itself: narrower on a narrow terminal.
func (p *Progress) barCells() int {
	if p.width > 0 && p.width < wideTerminal {
		return barNarrow
	}
	return barWide
}

// room is how many columns the description may take, or 0 for no limit.
func (p *Progress) room() int {
	if p.width <= 0 {
		return 0
	}
	// "\r 100% [bar] (done/total) " before the text, one space after it, and one
	// column spare so the terminal never wraps.
	count := fmt.Sprintf("(%d/%d)", p.done, p.total)
	used := len(" 100% ") + p.barCells() + 2 + 1 + len(count) + 1 + 1 + 1
	if left := p.width - used; left > 0 {
		return left
	}
	return -1
}

// fit shortens s to n columns (n == 0: no limit; n < 0: nothing fits).
func fit(s string, n int) string {
	r := []rune(s)
	switch {
	case n == 0 || len(r) <= n:
		return s
	case n < 4:
		return ""
	}
	return string(r[:n-3]) + "..."
}
