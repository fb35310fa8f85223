package suite

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size in pixels.
const (
	chartWidthPx  = 1500
	chartHeightPx = 1150
	chartDPI      = 96
)

// modeStyle is how a mode is drawn: colour-blind-safe colours (Okabe–Ito) and a
// label.
var modeStyle = map[string]struct {
	label string
	color color.Color
	dash  []vg.Length
}{
	ModeOff:       {"learning off", color.RGBA{R: 213, G: 94, A: 255}, nil},
	ModeEmpty:     {"learning on, empty state", color.RGBA{G: 114, B: 178, A: 255}, nil},
	ModePersisted: {"learning on, persisted state", color.RGBA{G: 158, B: 115, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}},
}

// WriteChart draws the learning part: for each variant (a column) the host's
// effective limit in contentdl, the rate the host accepted and the 429s it sent,
// per second over the run (rows), one line per mode, against the hidden capacity.
func WriteChart(w io.Writer, runs []LearningRun) error {
	var cols []string
	byVariant := map[string][]LearningRun{}
	for _, r := range runs {
		if _, ok := byVariant[r.Variant]; !ok {
			cols = append(cols, r.Variant)
		}
		byVariant[r.Variant] = append(byVariant[r.Variant], r)
	}
	if len(cols) == 0 {
		return fmt.Errorf("chart: no learning runs")
	}
	const rows = 3
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, len(cols))
	}
	for j, v := range cols {
		vr := byVariant[v]
		title := variantTitle(v)
		capRPS, conf, end := vr[0].Capacity, vr[0].Configured, 0.0
		for _, r := range vr {
			end = math.Max(end, r.Proc.Wall.Seconds())
		}
		end = math.Ceil(end)
		for i, p := range []struct {
			title, y string
			series   func(LearningRun) (plotter.XYs, plotter.StepKind)
		}{
			{"effective limit in contentdl", "requests/s", func(r LearningRun) (plotter.XYs, plotter.StepKind) {
				return limitSeries(r), plotter.PostStep
			}},
			{"accepted by the host (non-429)", "requests/s", func(r LearningRun) (plotter.XYs, plotter.StepKind) {
				return rateSeries(r.Host.Timeline.Accepted, r.Host.Timeline.Bucket), plotter.NoStep
			}},
			{"429s sent by the host", "429s/s", func(r LearningRun) (plotter.XYs, plotter.StepKind) {
				return rateSeries(r.Host.Timeline.Throttled, r.Host.Timeline.Bucket), plotter.NoStep
			}},
		} {
			pl := plot.New()
			pl.Title.Text = title + ": " + p.title
			pl.Title.TextStyle.Font.Size = vg.Points(11)
			pl.X.Label.Text = "seconds since start"
			pl.Y.Label.Text = p.y
			pl.X.Min, pl.X.Max = 0, end
			pl.Y.Min = 0
			pl.Add(plotter.NewGrid())
			c, err := hline(capRPS, end)
			if err != nil {
				return err
			}
			if i < 2 {
				pl.Add(c)
				pl.Legend.Add(fmt.Sprintf("hidden capacity C = %g rps", capRPS), c)
			}
			top := capRPS
			if i == 0 {
				top = conf
			}
			for _, r := range vr {
				xys, step := p.series(r)
				for _, xy := range xys {
					top = math.Max(top, xy.Y)
				}
				if len(xys) == 0 {
					continue
				}
				l, err := plotter.NewLine(xys)
				if err != nil {
					return fmt.Errorf("chart: %s %s: %w", r.Variant, r.Mode, err)
				}
				st := modeStyle[r.Mode]
				l.Color, l.Width, l.Dashes, l.StepStyle = st.color, vg.Points(1.6), st.dash, step
				pl.Add(l)
				pl.Legend.Add(st.label, l)
			}
			pl.Y.Max = math.Max(top, 1) * 1.45 // room for the legend above the lines
			pl.Legend.Top = true
			pl.Legend.TextStyle.Font.Size = vg.Points(9)
			plots[i][j] = pl
		}
	}
	img := vgimg.NewWith(vgimg.UseWH(px(chartWidthPx), px(chartHeightPx)), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: len(cols), PadX: vg.Points(18), PadY: vg.Points(14),
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

func px(n int) vg.Length { return vg.Length(n) * vg.Inch / chartDPI }

func variantTitle(name string) string {
	for _, v := range Variants {
		if v.Name == name {
			return v.Title
		}
	}
	return name
}

// hline is a dashed black line at y from 0 to end.
func hline(y, end float64) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: y}, {X: end, Y: y}})
	if err != nil {
		return nil, err
	}
	l.Color = color.Black
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	return l, nil
}

// limitSeries is LearningRun.limitSteps as plot points.
func limitSeries(r LearningRun) plotter.XYs {
	steps := r.limitSteps()
	xys := make(plotter.XYs, len(steps))
	for i, p := range steps {
		xys[i] = plotter.XY{X: p.x, Y: p.y}
	}
	return xys
}

// rateSeries turns a timeline series into one point per second (at the middle of
// each second).
func rateSeries(v []int, bucket time.Duration) plotter.XYs {
	ps := perSecond(v, bucket)
	xys := make(plotter.XYs, len(ps))
	for i, c := range ps {
		xys[i] = plotter.XY{X: float64(i) + 0.5, Y: c}
	}
	return xys
}
