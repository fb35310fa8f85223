package suite

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/learning"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The markers around the many-hosts section of RESULTS.md, so that
// `benchsuite --only manyhosts` can replace that section alone.
const (
	ManyHostsBegin = "<!-- manyhosts:begin -->"
	ManyHostsEnd   = "<!-- manyhosts:end -->"
)

// WriteManyHosts renders the many-hosts section of RESULTS.md (between its
// markers); chart is the chart's path relative to RESULTS.md ("" for none). With
// alone set, the section was run on its own and names its own run and machine.
func WriteManyHosts(w io.Writer, m *ManyHosts, chart string, alone *Machine) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n## 5. Many hosts\n\n", ManyHostsBegin)
	if alone != nil {
		p("*This section was refreshed on its own by `make bench-manyhosts` (%s): %s UTC, commit `%s`, %d CPUs, %s; "+
			"the other sections come from the run named at the top of the page.*\n\n",
			m.Elapsed.Round(time.Second), m.Started.UTC().Format("2006-01-02 15:04"), orDash(alone.Commit), alone.CPUs, alone.GoVersion)
	}
	ideal := m.IdealWall()
	slowest := ""
	for _, h := range m.Hosts {
		if h.Ideal() == ideal {
			slowest = h.Name
			break
		}
	}
	p("testdata/scenarios/manyhosts.yaml: %d direct PDFs on %d publisher hosts with different hidden capacities and every "+
		"`Retry-After` style (limited: %s; unlimited: %s), contentdl at %d workers. Two runs against one simulator, reset "+
		"before each: the feature gates off, and both on (`--enable-contextual-retry --enable-provider-learning`, from an "+
		"empty learning file). A run still going after %s is stopped (SIGTERM) and reported unfinished. With the gates off "+
		"the wall time is reported, not a target: the legacy path does not learn rates, so a host configured above its "+
		"capacity is served at the pace its `Retry-After` windows allow.\n\n",
		m.Works, len(m.Hosts), joinNames(m.Hosts, ManyHost.Limited), joinNames(m.Hosts, func(h ManyHost) bool { return !h.Limited() }),
		m.Workers, ManyHostsTimeout)
	p("**Ideal.** A host's ideal time to finish is *works ÷ rate + latency + pause*. The rate is the least of the host's "+
		"hidden capacity, the rate contentdl is configured with for it (the scenario's `configured`, else "+
		"`rate_limits.default`: 5 rps) and its concurrency cap ÷ its latency. The pause is one `Retry-After` where the "+
		"host is configured above its capacity, because a client must meet one 429 to learn the capacity: the seconds the "+
		"host announces (the time until its bucket holds a token, at least 1 s, unless the scenario fixes it), or "+
		"contentdl's `rate_limits.default.cooldown` (2 s) for a host that sends none; 0 otherwise. The ideal wall is the "+
		"longest host ideal: **%.1f s** (%s).\n\n", ideal.Seconds(), slowest)

	p("| Mode | Wall | Wall ÷ ideal | Saved | 429s (share) | In a window: strict / beyond grace | Reopenings | Max in flight at a reopening | Stampedes |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range m.Runs {
		s := m.Summarize(r)
		wall := fmt.Sprintf("%.1f s", r.Proc.Wall.Seconds())
		saved := fmt.Sprintf("%d of %d", r.Summary.Saved, m.Works)
		if r.TimedOut {
			wall = "stopped at " + ManyHostsTimeout.String()
			saved = "–"
		}
		p("| %s | %s | %.2f | %s | %d of %d (%s) | %d / %d | %d | %d | %d |\n", r.Mode, wall, r.Proc.Wall.Seconds()/ideal.Seconds(),
			saved, s.Throttled, s.Requests, pct(s.Share429()), s.InWindowStrict, s.InWindowBeyondGrace, s.Reopens, s.MaxInFlight, s.Stampedes)
	}
	p("\n| Target | Measured | Met |\n|---|---|---|\n")
	for _, c := range m.Checks() {
		p("| %s | %s | %s |\n", c.Target, c.Measured, yesNo(c.Met))
	}

	p("\n| Host | Capacity | Retry-After | Configured | Latency | Works | Ideal | Mode | Finish | Finish ÷ ideal | Served after %s ÷ capacity | 429s (share) | In a window: strict / beyond grace | Reopenings (max in flight) |\n", ManyHostsSettle)
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, h := range m.Hosts {
		for _, r := range m.Runs {
			f := m.Figures(r, i)
			finish, ratio := fmt.Sprintf("%.1f s", f.Finish.Seconds()), fmt.Sprintf("%.2f", f.Finish.Seconds()/h.Ideal().Seconds())
			if !f.Done {
				finish, ratio = fmt.Sprintf("not done (%d of %d)", f.Accepted, h.Works), "–"
			}
			served := "–"
			switch {
			case !h.Limited():
			case f.ServedOK:
				served = fmt.Sprintf("%.2f", f.Served)
			case f.Done:
				served = "done before"
			}
			reopens := "–"
			if f.Reopens > 0 {
				reopens = fmt.Sprintf("%d (%d)", f.Reopens, f.MaxInFlight)
			}
			latency := "–"
			if h.Latency > 0 {
				latency = h.Latency.String()
			}
			ra := styleLabel(h)
			if !h.Limited() {
				ra = "–"
			}
			p("| %s | %s | %s | %g rps, burst %d | %s | %d | %.1f s | %s | %s | %s | %s | %d of %d (%s) | %d / %d | %s |\n",
				h.Name, capacityLabel(h), ra, h.Configured, h.ConfiguredBurst, latency, h.Works, h.Ideal().Seconds(), r.Mode,
				finish, ratio, served, f.Throttled, f.Requests, pct(f.Share429()), f.InWindowStrict, f.InWindowBeyondGrace, reopens)
		}
	}
	p("\n- *Finish*: when the host answered its last accepted request, from the start of the run (the simulator is " +
		"reset just before contentdl starts).\n")
	p("- *Served after %s*: the host's accepted requests that arrived from %s after its first request on, over the time "+
		"from then to the last of them plus one token period (1 ÷ rate), ÷ its rate (its capacity here): a client that "+
		"keeps the host busy at its capacity scores 1. *Done before*: the host had no work left by then.\n",
		ManyHostsSettle, ManyHostsSettle)
	p("- *In a window*: requests that reached the host while a `Retry-After` it had announced was still running. "+
		"*Strict* counts all of them; *beyond grace* those more than %s after the announcement (within it they were "+
		"already on the wire when the 429 left). The APIs' windows count in the per-mode totals.\n", m.Grace)
	p("- *Reopening*: a `Retry-After` window ended (overlapping windows count as one) and a request followed. *Max in " +
		"flight*: the most requests in flight to the host (arrived, not yet answered) at any moment from the window's " +
		"end until the first request after it was answered; 1 is half-open reopening, more is a *stampede*. A host " +
		"that sends no `Retry-After` announces no window, so it has no reopenings.\n")
	writeManyHostsMisses(p, m)
	if chart != "" {
		p("\n![Many hosts: requests accepted and 429s per second on each host, gates off and both gates on](%s)\n\n", chart)
		p("Per host, the requests it accepted (solid) and the 429s it sent (dashed) per second, from the simulator's " +
			"timeline, against its hidden capacity (dotted black) and its ideal time to finish (dotted grey).\n")
	}
	p("%s\n", ManyHostsEnd)
	_, err := io.WriteString(w, b.String())
	return err
}

// SpliceManyHosts returns results with its many-hosts section replaced by
// section, or with section appended when results has none.
func SpliceManyHosts(results, section []byte) []byte {
	return splice(results, section, ManyHostsBegin, ManyHostsEnd)
}

// splice returns results with the part between the markers begin and end (both
// included, with the newline after end) replaced by section, or with section
// appended when results has no such part.
func splice(results, section []byte, beginMark, endMark string) []byte {
	begin := bytes.Index(results, []byte(beginMark))
	end := bytes.Index(results, []byte(endMark))
	if begin < 0 || end < begin {
		out := bytes.TrimRight(results, "\n")
		if len(out) > 0 {
			out = append(out, "\n\n"...)
		}
		return append(out, section...)
	}
	end += len(endMark)
	if end < len(results) && results[end] == '\n' {
		end++
	}
	out := append([]byte{}, results[:begin]...)
	out = append(out, section...)
	return append(out, results[end:]...)
}

// manyModeStyle is how a many-hosts mode is drawn (Okabe–Ito colours).
var manyModeStyle = map[string]color.Color{
	ManyGatesOff: color.RGBA{R: 213, G: 94, A: 255},
	ManyGatesOn:  color.RGBA{G: 114, B: 178, A: 255},
}

// WriteManyHostsChart draws one tile per host: accepted requests and 429s per
// second in each mode, against the hidden capacity and the host's ideal finish.
func WriteManyHostsChart(w io.Writer, m *ManyHosts) error {
	if len(m.Runs) == 0 || len(m.Hosts) == 0 {
		return fmt.Errorf("chart: no many-hosts runs")
	}
	const cols = 2
	rows := (len(m.Hosts) + cols - 1) / cols
	end := 0.0
	for _, r := range m.Runs {
		end = math.Max(end, r.Proc.Wall.Seconds())
	}
	end = math.Ceil(end)
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, h := range m.Hosts {
		pl := plot.New()
		pl.Title.Text = fmt.Sprintf("%s: %s, %d works", h.Name, capacityLabel(h), h.Works)
		if h.Limited() {
			pl.Title.Text = fmt.Sprintf("%s: %s, Retry-After %s, configured %g rps, %d works", h.Name, capacityLabel(h),
				styleLabel(h), h.Configured, h.Works)
		}
		if h.Latency > 0 {
			pl.Title.Text += fmt.Sprintf(", latency %s", h.Latency)
		}
		pl.Title.TextStyle.Font.Size = vg.Points(10)
		pl.X.Label.Text = "seconds since start"
		pl.Y.Label.Text = "requests/s"
		pl.X.Min, pl.X.Max, pl.Y.Min = 0, end, 0
		pl.Add(plotter.NewGrid())
		top := 1.0
		if h.Limited() {
			c, err := hline(h.Capacity, end)
			if err != nil {
				return err
			}
			c.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			pl.Add(c)
			pl.Legend.Add(fmt.Sprintf("capacity %g rps", h.Capacity), c)
			top = h.Capacity
		}
		ideal, err := plotter.NewLine(plotter.XYs{{X: h.Ideal().Seconds(), Y: 0}, {X: h.Ideal().Seconds(), Y: 1e9}})
		if err != nil {
			return err
		}
		ideal.Color, ideal.Width, ideal.Dashes = color.Gray{Y: 120}, vg.Points(1), []vg.Length{vg.Points(1), vg.Points(2)}
		pl.Add(ideal)
		pl.Legend.Add(fmt.Sprintf("ideal finish %.1f s", h.Ideal().Seconds()), ideal)
		for _, r := range m.Runs {
			tl := r.Hosts[i].Timeline
			for _, series := range []struct {
				v      []int
				label  string
				dashed bool
			}{{tl.Accepted, "accepted", false}, {tl.Throttled, "429s", true}} {
				xys := rateSeries(series.v, tl.Bucket)
				if len(xys) == 0 {
					continue
				}
				for _, xy := range xys {
					top = math.Max(top, xy.Y)
				}
				l, err := plotter.NewLine(xys)
				if err != nil {
					return fmt.Errorf("chart: %s %s: %w", h.Name, r.Mode, err)
				}
				l.Color, l.Width = manyModeStyle[r.Mode], vg.Points(1.4)
				if series.dashed {
					l.Dashes, l.Width = []vg.Length{vg.Points(4), vg.Points(2)}, vg.Points(1)
				}
				pl.Add(l)
				pl.Legend.Add(r.Mode+": "+series.label, l)
			}
		}
		pl.Y.Max = top * 1.6 // room for the legend above the lines
		pl.Legend.Top = true
		pl.Legend.TextStyle.Font.Size = vg.Points(8)
		plots[i/cols][i%cols] = pl
	}
	for i := len(m.Hosts); i < rows*cols; i++ {
		plots[i/cols][i%cols] = plot.New()
	}
	img := vgimg.NewWith(vgimg.UseWH(px(chartWidthPx), px(rows*300)), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14),
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(12)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// writeManyHostsMisses explains, from the run's own figures, why a limited host
// missed the targets with both gates on: the windows its 429s opened, and the floor
// that provider learning cannot go below for it.
func writeManyHostsMisses(p func(string, ...any), m *ManyHosts) {
	floorPct := learning.DefaultConfig().MaxReductionPct
	for _, r := range m.Runs {
		if r.Mode != ManyGatesOn {
			continue
		}
		var lines []string
		for i, h := range m.Hosts {
			if !h.Limited() {
				continue
			}
			f := m.Figures(r, i)
			slow := f.ServedOK && f.Served < TargetManyServed
			late := f.Done && h.Ideal() > 0 && f.Finish.Seconds() > TargetManyWall*h.Ideal().Seconds()
			if !slow && !late {
				continue
			}
			floor := h.Configured * (1 - floorPct/100)
			note := ""
			if floor >= h.Capacity {
				note = fmt.Sprintf(": that is not below its capacity, so learning cannot settle under it, and with a "+
					"%d-token bucket a request a little early is refused", h.Burst)
			}
			lines = append(lines, fmt.Sprintf("- **%s**: capacity %g rps (burst %d), configured %g rps; each 429 opens a "+
				"window of %s. It sent %d 429s, so about %.0f s of windows, of its %.1f s to finish (ideal %.1f s). "+
				"Provider learning cuts the rate on each of them; its floor for this host is %.3g rps "+
				"(`learning.max_reduction_pct` %g %%)%s.",
				h.Name, h.Capacity, h.Burst, h.Configured, h.Pause, f.Throttled, float64(f.Throttled)*h.Pause.Seconds(),
				f.Finish.Seconds(), h.Ideal().Seconds(), floor, floorPct, note))
		}
		if len(lines) == 0 {
			return
		}
		p("\n**Why the targets with both gates on are missed.** A hidden capacity can only be learned from 429s, and on " +
			"these hosts every 429 opens a `Retry-After` window that no request may enter (the counts of requests inside " +
			"windows above are the proof that none did). The ideal counts one window per host; a client starting from " +
			"its configured rate needs one window per cut, and the timeline chart shows where each one fell:\n\n")
		p("%s\n", strings.Join(lines, "\n"))
	}
}
