package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/sim"
)

// Throughput-part settings.
const (
	// ThroughputWorkers is contentdl's --workers, its concurrency cap on the host
	// and curl's --parallel-max.
	ThroughputWorkers = 16
	// unlimitedRPS and unlimitedBurst take contentdl's per-host rate limit out of the
	// way on the unlimited host (the concurrency cap stays).
	unlimitedRPS   = 100_000
	unlimitedBurst = 1_000
	// discoveryRPS lifts the OpenAlex host's default 5 rps so that paging through the
	// 2,000 works (10 pages of 200) does not hold the downloads back.
	discoveryRPS     = 1_000
	discoveryBurst   = 100
	discoveryPerPage = 200
)

// Dest is where a throughput run writes its files.
type Dest struct {
	Name string // "disk" or "tmpfs"
	Dir  string
}

// ThroughputRun is one repetition on one destination: contentdl and curl back to
// back over the same files.
type ThroughputRun struct {
	Dest      string
	Rep       int
	Contentdl Proc
	Curl      Proc
}

// Ratio is contentdl's wall time ÷ curl's.
func (r ThroughputRun) Ratio() float64 { return r.Contentdl.Wall.Seconds() / r.Curl.Wall.Seconds() }

// Throughput is the throughput part.
type Throughput struct {
	Files    int
	FileSize int64
	Workers  int
	Curl     string // curl's version line; "" when curl was not run
	Dests    []Dest
	Runs     []ThroughputRun
}

// ForDest returns the runs on one destination.
func (t Throughput) ForDest(name string) []ThroughputRun {
	var out []ThroughputRun
	for _, r := range t.Runs {
		if r.Dest == name {
			out = append(out, r)
		}
	}
	return out
}

// OverheadPair is one gates-off run and one gates-on run, back to back.
type OverheadPair struct {
	Off, On Proc
	// OnFirst says the gates-on run went first (the order alternates).
	OnFirst bool
}

// Ratio is the gates-on CPU time ÷ the gates-off CPU time.
func (p OverheadPair) Ratio() float64 { return p.On.CPU().Seconds() / p.Off.CPU().Seconds() }

// Overhead is the overhead part.
type Overhead struct {
	Dest  string
	Pairs []OverheadPair
}

// unlimitedWorld is the throughput scenario's simulator and what the clients need.
type unlimitedWorld struct {
	sim      *sim.Sim
	sc       sim.Scenario
	cfgPath  string
	curlURLs []string
	ids      []string
}

func (s *Suite) startUnlimited(dir string) (*unlimitedWorld, error) {
	sc, err := sim.LoadScenario(filepath.Join(s.opts.Scenarios, "throughput.yaml"))
	if err != nil {
		return nil, err
	}
	if len(sc.Hosts) != 1 || !sc.Hosts[0].Capacity.Unlimited() {
		return nil, fmt.Errorf("throughput.yaml: want exactly one unlimited publisher host")
	}
	sm, err := sim.Start(sc, sim.Options{})
	if err != nil {
		return nil, err
	}
	w := &unlimitedWorld{sim: sm, sc: sm.Scenario()}
	info := sm.Info()
	cfg := newClientConfig(sm)
	cfg.OpenAlex.PerPage = discoveryPerPage
	cfg.Resolvers.Order = cfg.Resolvers.Order[:1] // every work is a direct PDF
	cfg.setHost(hostLimit{Host: strings.TrimPrefix(info.OpenAlexURL, "http://"), RPS: discoveryRPS, Burst: discoveryBurst})
	cfg.setHost(hostLimit{Host: info.Hosts[0].Addr, RPS: unlimitedRPS, Burst: unlimitedBurst, Concurrency: ThroughputWorkers})
	w.cfgPath = filepath.Join(dir, "contentdl-unlimited.yaml")
	if err := cfg.write(w.cfgPath); err != nil {
		_ = sm.Close()
		return nil, err
	}
	for _, wk := range sm.Works() {
		if wk.PDFURL == "" {
			_ = sm.Close()
			return nil, fmt.Errorf("throughput.yaml: work %s has no PDF; every work must be a direct PDF", wk.ID)
		}
		w.curlURLs = append(w.curlURLs, wk.PDFURL)
		w.ids = append(w.ids, wk.ID)
	}
	return w, nil
}

// contentdl runs contentdl over the unlimited host into out, with or without both
// gates, and checks that it saved every file.
func (s *Suite) contentdlUnlimited(ctx context.Context, w *unlimitedWorld, out string, gates bool) (Proc, error) {
	w.sim.Reset()
	args := []string{"run", "--topic", w.sc.Topic, "--config", w.cfgPath, "--out", out,
		"--workers", strconv.Itoa(ThroughputWorkers), "--json", "--progress", "never", "--log-level", "warn"}
	if gates {
		args = append(args, "--enable-contextual-retry", "--enable-provider-learning",
			"--provider-learning-path", filepath.Join(out+".state", "provider-learning.json"))
	}
	var stdout bytes.Buffer
	errLog := out + ".stderr.log"
	p, err := s.runProc(ctx, &stdout, errLog, s.opts.Contentdl, args...)
	if err != nil {
		return Proc{}, err
	}
	var sum download.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return Proc{}, fmt.Errorf("contentdl exited %d without a JSON summary: %w; stderr: %s", p.ExitCode, err, tail(errLog, 2000))
	}
	if p.ExitCode != 0 || sum.Saved != len(w.ids) {
		return Proc{}, fmt.Errorf("contentdl exited %d and saved %d of %d works; stderr: %s",
			p.ExitCode, sum.Saved, len(w.ids), tail(errLog, 2000))
	}
	if err := removeAll(out, out+".state", errLog); err != nil {
		return Proc{}, err
	}
	return p, nil
}

// curl fetches every PDF with curl --parallel into out and checks every file.
func (s *Suite) curlUnlimited(ctx context.Context, w *unlimitedWorld, out string) (Proc, error) {
	w.sim.Reset()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Proc{}, err
	}
	list := out + ".curl"
	if err := writeCurlConfig(list, w.curlURLs, w.ids, out); err != nil {
		return Proc{}, err
	}
	errLog := out + ".stderr.log"
	p, err := s.runProc(ctx, nil, errLog, s.opts.Curl, "--parallel", "--parallel-max", strconv.Itoa(ThroughputWorkers),
		"--silent", "--show-error", "--fail", "--config", list)
	if err != nil {
		return Proc{}, err
	}
	if p.ExitCode != 0 {
		return Proc{}, fmt.Errorf("curl exited %d; stderr: %s", p.ExitCode, tail(errLog, 2000))
	}
	want := int64(w.sc.PDFSize)
	for _, id := range w.ids {
		st, err := os.Stat(filepath.Join(out, id+".pdf"))
		if err != nil {
			return Proc{}, fmt.Errorf("curl: %w", err)
		}
		if st.Size() != want {
			return Proc{}, fmt.Errorf("curl: %s.pdf has %d bytes, want %d", id, st.Size(), want)
		}
	}
	if err := removeAll(out, list, errLog); err != nil {
		return Proc{}, err
	}
	return p, nil
}

// writeCurlConfig writes a curl -K file with one url/output pair per file.
func writeCurlConfig(path string, urls, ids []string, out string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for i, u := range urls {
		fmt.Fprintf(bw, "url = %s\noutput = %s\n", strconv.Quote(u), strconv.Quote(filepath.Join(out, ids[i]+".pdf")))
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func removeAll(paths ...string) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// runThroughput compares contentdl with curl on every destination, interleaved.
func (s *Suite) runThroughput(ctx context.Context, w *unlimitedWorld) (Throughput, error) {
	t := Throughput{Files: len(w.ids), FileSize: int64(w.sc.PDFSize), Workers: ThroughputWorkers, Dests: s.dests}
	if s.opts.Curl == "" {
		return t, nil
	}
	if out, err := exec.CommandContext(ctx, s.opts.Curl, "--version").Output(); err == nil {
		t.Curl, _, _ = strings.Cut(string(out), "\n")
		t.Curl = strings.TrimSpace(t.Curl)
	}
	for rep := 1; rep <= s.opts.Reps; rep++ {
		for _, d := range s.dests {
			s.log.Info("throughput run", "dest", d.Name, "rep", rep, "files", t.Files)
			r := ThroughputRun{Dest: d.Name, Rep: rep}
			var err error
			// Alternate who goes first, so that neither always meets a warm or a
			// cold page cache.
			first, second := "contentdl", "curl"
			if rep%2 == 0 {
				first, second = second, first
			}
			for _, who := range []string{first, second} {
				out := filepath.Join(d.Dir, fmt.Sprintf("tp-%s-%d-%s", d.Name, rep, who))
				if who == "contentdl" {
					r.Contentdl, err = s.contentdlUnlimited(ctx, w, out, false)
				} else {
					r.Curl, err = s.curlUnlimited(ctx, w, out)
				}
				if err != nil {
					return t, fmt.Errorf("throughput %s rep %d: %s: %w", d.Name, rep, who, err)
				}
			}
			s.log.Info("throughput run done", "dest", d.Name, "rep", rep,
				"contentdl", r.Contentdl.Wall.Round(time.Millisecond), "curl", r.Curl.Wall.Round(time.Millisecond),
				"contentdl_rss_mib", r.Contentdl.MaxRSS>>20, "curl_rss_mib", r.Curl.MaxRSS>>20)
			t.Runs = append(t.Runs, r)
		}
	}
	return t, nil
}

// runOverhead runs contentdl with both gates off and on, alternating which goes
// first, and records the CPU time of each.
func (s *Suite) runOverhead(ctx context.Context, w *unlimitedWorld) (Overhead, error) {
	d := s.dests[len(s.dests)-1] // tmpfs when there is one: no fsync noise in the CPU time
	o := Overhead{Dest: d.Name}
	for i := 0; i < s.opts.OverheadPairs; i++ {
		pair := OverheadPair{OnFirst: i%2 == 1}
		order := []bool{false, true}
		if pair.OnFirst {
			order = []bool{true, false}
		}
		for _, gates := range order {
			out := filepath.Join(d.Dir, fmt.Sprintf("ovh-%d-%t", i, gates))
			p, err := s.contentdlUnlimited(ctx, w, out, gates)
			if err != nil {
				return o, fmt.Errorf("overhead pair %d (gates %t): %w", i+1, gates, err)
			}
			if gates {
				pair.On = p
			} else {
				pair.Off = p
			}
		}
		s.log.Info("overhead pair done", "pair", i+1, "cpu_off", pair.Off.CPU().Round(time.Millisecond),
			"cpu_on", pair.On.CPU().Round(time.Millisecond), "ratio", fmt.Sprintf("%.3f", pair.Ratio()))
		o.Pairs = append(o.Pairs, pair)
	}
	return o, nil
}
