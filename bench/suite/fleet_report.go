package suite

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The markers around the fleet section of RESULTS.md, so that
// `benchsuite --only fleet` can replace that section alone.
const (
	FleetBegin = "<!-- fleet:begin -->"
	FleetEnd   = "<!-- fleet:end -->"
)

// WriteFleet renders the fleet section of RESULTS.md (between its markers); chart
// is the chart's path relative to RESULTS.md ("" for none). With alone set, the
// section was run on its own and names its own run and machine.
func WriteFleet(w io.Writer, f *Fleet, chart string, alone *Machine) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n## 6. Fleet\n\n", FleetBegin)
	if f.Skipped != "" {
		p("**Not run:** %s. The other parts ran; once `redis-server` is on PATH, `make bench-fleet` runs this part "+
			"alone and fills in this section.\n%s\n", f.Skipped, FleetEnd)
		_, err := io.WriteString(w, b.String())
		return err
	}
	if alone != nil {
		p("*This section was refreshed on its own by `make bench-fleet` (%s): %s UTC, commit `%s`, %d CPUs, %s; "+
			"the other sections come from the run named at the top of the page.*\n\n",
			f.Elapsed.Round(time.Second), f.Started.UTC().Format("2006-01-02 15:04"), orDash(alone.Commit), alone.CPUs, alone.GoVersion)
	}
	bound := FleetBound()
	p("%d contentdl processes (`--shard I/%d`, `--workers %d`, both feature gates on, each with its own learning file "+
		"and its own `--mailto`, so that the simulator tells their User-Agents apart) share one OUT and one simulated "+
		"publisher host with a hidden capacity C = %g rps (burst %d) that answers over-capacity requests with 429 and "+
		"`Retry-After` in seconds. Each process is configured at %g × C for it (%g rps, burst %d, concurrency %d), so "+
		"the fleet could send %g × C. %d direct PDFs. Three runs, each against a fresh simulator:\n\n",
		FleetMembers, FleetMembers, FleetWorkers, FleetCapacity, FleetBurst, FleetConfigured/FleetCapacity, FleetConfigured,
		FleetBurst, FleetConcurrency, FleetMembers*FleetConfigured/FleetCapacity, FleetWorks)
	p("- **%s**: every process has `--redis` to a `redis-server` the suite starts on a free loopback port, without "+
		"persistence;\n", FleetShared)
	p("- **%s**, the negative control: the same processes without `--redis`, each keeping its own budget, which "+
		"shows that the bound can be broken;\n", FleetNoRedis)
	p("- **%s**: as *%s*, but Redis is killed (SIGKILL) %s after the processes start and started again, empty, %s "+
		"later.\n\n", FleetFault, FleetShared, FleetRedisDownAt, FleetRedisDownFor)
	p("The scenario is the one of the end-to-end tests (internal/fleet/fleete2e), with %d works instead of 320. A run "+
		"still going after %s is stopped (SIGTERM) and reported unfinished. The bound is %g × C × %s = **%.1f "+
		"requests per window**.\n\n", FleetWorks, FleetTimeout, FleetBoundFactor, FleetWindow, bound)

	p("| Run | Wall | Exit codes | Max per %s window after the warm-up | Busiest %s window, whole run | Accepted after the warm-up ÷ C | 429s after the warm-up (share) | In a window: strict / beyond grace | Works saved once / missing / more than once |\n",
		FleetWindow, FleetWindow)
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range f.Runs {
		g := r.Figures()
		wall := fmt.Sprintf("%.1f s", r.Wall.Seconds())
		if r.TimedOut {
			wall = "stopped at " + FleetTimeout.String()
		}
		p("| %s | %s | %s | %d (%d windows) | %d (at %.0f s) | %.2f | %d of %d (%s) | %d / %d | %d / %d / %d |\n", r.Mode, wall,
			fmtCodes(g.ExitCodes), g.MaxWindow, len(g.Windows), g.Busiest, g.BusiestAt.Seconds(), g.Served, g.Throttled, g.Requests,
			pct(g.Share429()), g.InWindowStrict, g.InWindow, g.Once, len(g.Missing), len(g.Twice))
	}
	p("\n| Target | Measured | Met |\n|---|---|---|\n")
	for _, c := range f.Checks() {
		p("| %s | %s | %s |\n", c.Target, c.Measured, yesNo(c.Met))
	}

	p("\n| Run | Process | Requests to the host | Accepted | 429s | Saved (its summary) | Exit | Wall | CPU | Peak RSS |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range f.Runs {
		g := r.Figures()
		for i, m := range r.Members {
			mf := g.PerMember[i]
			saved := "–"
			if m.Saved >= 0 {
				saved = fmt.Sprint(m.Saved)
			}
			exit, cost := fmt.Sprint(m.Proc.ExitCode), fmt.Sprintf("%.1f s | %.2f s | %.1f MB", m.Proc.Wall.Seconds(),
				m.Proc.CPU().Seconds(), float64(m.Proc.MaxRSS)/mb)
			if m.Proc.ExitCode < 0 {
				exit, cost = "stopped", "– | – | –" // a stopped process leaves no rusage
			}
			p("| %s | shard %s | %d | %d | %d | %s | %s | %s |\n", r.Mode, m.Shard, mf.Requests, mf.Accepted, mf.Throttled,
				saved, exit, cost)
		}
		if g.Strangers > 0 {
			p("| %s | no member's User-Agent | %d | | | | | | | |\n", r.Mode, g.Strangers)
		}
	}

	p("\nRequests per %s window after the warm-up, in order:\n\n", FleetWindow)
	for _, r := range f.Runs {
		g := r.Figures()
		p("- %s: %s\n", r.Mode, joinInts(g.Windows))
	}
	for _, r := range f.Runs {
		if r.Mode != FleetFault || r.RedisDown == 0 {
			continue
		}
		g := r.Figures()
		p("\nIn *%s*, Redis was down from %.1f s to %.1f s of the host's log. %d of %d processes logged the fallback "+
			"to local limits (`fleet: redis unreachable`) and %d logged Redis's return (`fleet: redis is back`).\n",
			r.Mode, r.RedisDown.Seconds(), r.RedisUp.Seconds(), g.FellBack, len(r.Members), g.CameBack)
	}
	p("\n- *Warm-up*: the first %s of the host's traffic, from its first request. The windows after it are "+
		"consecutive and %s wide; a last window counts when at least half of it lies before the last request.\n",
		FleetWarmUp, FleetWindow)
	p("- *Accepted after the warm-up ÷ C*: the requests the host accepted (not 429) after the warm-up, over the " +
		"time from its end to the last request, ÷ C: how much of the capacity the fleet used.\n")
	p("- *Busiest window, whole run*: the most requests in any %s window starting a whole number of seconds after "+
		"the first request, the warm-up included: where a fleet without a shared budget overshoots most, before "+
		"learning has cut anything. The negative control is judged on it, as in the end-to-end test.\n", FleetWindow)
	p("- *In a window*: requests that reached the host while a `Retry-After` it had announced was still running. "+
		"*Strict* counts all of them; *beyond grace* those more than %s after the announcement (within it they were "+
		"already on the wire when the 429 left).\n", FleetGrace)
	p("- *Works saved*: every shard's manifest (`manifest.shard-I-of-%d.jsonl` in the shared OUT) read after the run; "+
		"a record classified `pdf` is a save. Each of the simulator's works should be saved by exactly one shard.\n", FleetMembers)
	p("- *Requests, accepted, 429s per process*: from the simulator's request log, which records each request's " +
		"User-Agent. *Wall, CPU, peak RSS*: the kernel's rusage of each process (bench/cmd/rusage).\n")
	if chart != "" {
		p("\n![Fleet: requests accepted and 429s per second by each of the four processes, and the fleet's accepted total against the capacity, per run](%s)\n\n", chart)
		p("One panel per run: each process's accepted requests (solid) and 429s (dashed) per second, the four "+
			"processes' accepted total (thick grey) and the capacity C (dotted black), from the simulator's request "+
			"log. The shaded band on the *%s* panel is the time Redis was down.\n", FleetFault)
	}
	p("%s\n", FleetEnd)
	_, err := io.WriteString(w, b.String())
	return err
}

// SpliceFleet returns results with its fleet section replaced by section, or with
// section appended when results has none.
func SpliceFleet(results, section []byte) []byte {
	return splice(results, section, FleetBegin, FleetEnd)
}

func fmtCodes(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprint(c)
		if c < 0 {
			s[i] = "stopped"
		}
	}
	return strings.Join(s, ", ")
}

func joinInts(v []int) string {
	if len(v) == 0 {
		return "none (the run was shorter than the warm-up)"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// fleetMemberColors tell the processes apart (Okabe–Ito).
var fleetMemberColors = []color.Color{
	color.RGBA{R: 230, G: 159, A: 255},
	color.RGBA{R: 86, G: 180, B: 233, A: 255},
	color.RGBA{G: 158, B: 115, A: 255},
	color.RGBA{R: 204, G: 121, B: 167, A: 255},
}

// fleetChartRowPx is the height of one run's panel.
const fleetChartRowPx = 400

// WriteFleetChart draws one panel per run: per second, each process's accepted
// requests and 429s, and the processes' accepted total against the capacity C; the
// time Redis was down is shaded.
func WriteFleetChart(w io.Writer, f *Fleet) error {
	if f == nil || len(f.Runs) == 0 {
		return fmt.Errorf("chart: no fleet runs")
	}
	end := 0.0
	for _, r := range f.Runs {
		if n := len(r.Host.Log); n > 0 {
			end = math.Max(end, r.Host.Log[n-1].Arrived.Seconds())
		}
	}
	end = math.Ceil(end) + 1
	plots := make([][]*plot.Plot, len(f.Runs))
	for i, r := range f.Runs {
		mailtos := make([]string, len(r.Members))
		for j, m := range r.Members {
			mailtos[j] = m.Mailto
		}
		acc, thr := perSecondByMember(r.Host.Log, mailtos)
		g := r.Figures()
		pl := plot.New()
		pl.Title.Text = fmt.Sprintf("%s: %d processes at %g rps each, C = %g rps; max %d requests per %s window after the warm-up (bound %.1f)",
			r.Mode, len(r.Members), FleetConfigured, FleetCapacity, g.MaxWindow, FleetWindow, FleetBound())
		pl.Title.TextStyle.Font.Size = vg.Points(11)
		pl.X.Label.Text = "seconds since the processes started"
		pl.Y.Label.Text = "requests/s"
		pl.X.Min, pl.X.Max, pl.Y.Min = 0, end, 0
		pl.X.Tick.Marker = secondTicks{}
		top := FleetCapacity
		total := make([]int, 0)
		for _, a := range acc {
			for s, n := range a {
				for len(total) <= s {
					total = append(total, 0)
				}
				total[s] += n
			}
		}
		for _, series := range [][][]int{acc, thr, {total}} {
			for _, v := range series {
				for _, n := range v {
					top = math.Max(top, float64(n))
				}
			}
		}
		top *= 1.5 // room for the legend above the lines
		pl.Y.Max = top
		if r.RedisUp > r.RedisDown {
			band, err := plotter.NewPolygon(plotter.XYs{{X: r.RedisDown.Seconds(), Y: 0}, {X: r.RedisUp.Seconds(), Y: 0},
				{X: r.RedisUp.Seconds(), Y: top}, {X: r.RedisDown.Seconds(), Y: top}})
			if err != nil {
				return err
			}
			band.Color, band.Width = color.RGBA{R: 235, G: 225, B: 225, A: 255}, 0
			pl.Add(band)
			pl.Legend.Add(fmt.Sprintf("Redis down (%.1f–%.1f s)", r.RedisDown.Seconds(), r.RedisUp.Seconds()), band)
		}
		pl.Add(plotter.NewGrid())
		c, err := hline(FleetCapacity, end)
		if err != nil {
			return err
		}
		c.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		pl.Add(c)
		pl.Legend.Add(fmt.Sprintf("capacity C = %g rps", FleetCapacity), c)
		if xys := countSeries(total); len(xys) > 0 {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("chart: %s total: %w", r.Mode, err)
			}
			l.Color, l.Width = color.Gray{Y: 110}, vg.Points(3)
			pl.Add(l)
			pl.Legend.Add("accepted, all processes", l)
		}
		for j, m := range r.Members {
			for _, series := range []struct {
				v      []int
				label  string
				dashed bool
			}{{acc[j], "accepted", false}, {thr[j], "429s", true}} {
				xys := countSeries(series.v)
				if len(xys) == 0 {
					continue
				}
				l, err := plotter.NewLine(xys)
				if err != nil {
					return fmt.Errorf("chart: %s %s: %w", r.Mode, m.Shard, err)
				}
				l.Color, l.Width = fleetMemberColors[j%len(fleetMemberColors)], vg.Points(1.3)
				if series.dashed {
					l.Dashes, l.Width = []vg.Length{vg.Points(4), vg.Points(2)}, vg.Points(1)
				}
				pl.Add(l)
				pl.Legend.Add(fmt.Sprintf("shard %s: %s", m.Shard, series.label), l)
			}
		}
		pl.Legend.Top = true
		pl.Legend.TextStyle.Font.Size = vg.Points(8)
		plots[i] = []*plot.Plot{pl}
	}
	img := vgimg.NewWith(vgimg.UseWH(px(chartWidthPx), px(len(f.Runs)*fleetChartRowPx)), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(f.Runs), Cols: 1, PadX: vg.Points(18), PadY: vg.Points(14),
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(12)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// countSeries turns per-second counts into one point per second (at the middle of
// each second).
func countSeries(v []int) plotter.XYs {
	xys := make(plotter.XYs, len(v))
	for i, c := range v {
		xys[i] = plotter.XY{X: float64(i) + 0.5, Y: float64(c)}
	}
	return xys
}

// secondTicks labels the time axis every 10 s, with a minor tick every 5 s.
type secondTicks struct{}

func (secondTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for s := math.Ceil(lo/5) * 5; s <= hi; s += 5 {
		t := plot.Tick{Value: s}
		if math.Mod(s, 10) == 0 {
			t.Label = fmt.Sprintf("%.0f", s)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
