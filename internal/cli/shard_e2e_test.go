package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/shard"
	"github.com/docstokg/contentdl/internal/sim"
)

// shardSim starts a simulator of n works, each with one direct PDF over 3 hosts, and
// returns it with a hermetic environment pointing at it. Every PDF answer takes
// latency.
func shardSim(t *testing.T, n int, latency time.Duration) (*sim.Sim, func(string) string) {
	t.Helper()
	var hosts []sim.HostSpec
	for _, name := range []string{"pub1", "pub2", "pub3"} {
		hosts = append(hosts, sim.HostSpec{Name: name, ServiceSpec: sim.ServiceSpec{Latency: latency}})
	}
	s, err := sim.Start(sim.Scenario{Name: "shards", Seed: 5, Topic: "fleet test", Works: sim.WorksSpec{Count: n,
		Mix: sim.Mix{DirectPDF: 1}}, PDFSize: sim.MinPDFSize, Hosts: hosts}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	env := hermeticEnv(t, s.OpenAlexURL(), s.UnpaywallURL(), map[string]string{
		"DOCSTOKG_OPENALEX_PER_PAGE":               "7",
		"DOCSTOKG_RESOLVERS_ORDER":                 "openalex",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_RPS":         "10000",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_BURST":       "100",
		"DOCSTOKG_RATE_LIMITS_DEFAULT_CONCURRENCY": "8",
		"DOCSTOKG_LOG_LEVEL":                       "warn",
	})
	return s, env
}

func mainIn(args []string, getenv func(string) string, stdin string) runResult {
	var out, errb bytes.Buffer
	st := &State{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: getenv, Clock: clock.Real{}}
	code := MainContext(context.Background(), args, st)
	return runResult{code, out.String(), errb.String()}
}

func withEnv(getenv func(string) string, k, v string) func(string) string {
	return func(name string) string {
		if name == k {
			return v
		}
		return getenv(name)
	}
}

func publisherRequests(s *sim.Sim) int64 {
	var n int64
	for _, h := range s.Stats().Hosts {
		if h.Role == "publisher" {
			n += h.Requests
		}
	}
	return n
}

// TestShardsShareOneOut runs three shards of one search at once into one OUT (shard 2
// gets its shard from DOCSTOKG_FLEET_SHARD, the others from --shard): each writes its
// own manifest, summary, checkpoint and metrics file, every work is done exactly
// once across them and in the shard its hash names, and a later run without --shard
// resumes from all three manifests and downloads nothing. export reads them all.
func TestShardsShareOneOut(t *testing.T) {
	const n = 90
	s, env := shardSim(t, n, 60*time.Millisecond)
	out := filepath.Join(t.TempDir(), "out")
	prom := filepath.Join(t.TempDir(), "cdl.prom")
	base := []string{"run", "--topic", "fleet test", "--out", out, "--workers", "4", "--json", "--progress", "never",
		"--metrics-file", prom}

	results := make([]runResult, 3)
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args, getenv := base, env
			if i == 2 {
				getenv = withEnv(env, "DOCSTOKG_FLEET_SHARD", "2/3")
			} else {
				args = append(append([]string(nil), base...), "--shard", strconv.Itoa(i)+"/3")
			}
			results[i-1] = mainIn(args, getenv, "")
		}()
	}
	wg.Wait()

	done := map[string]int{} // work id → shard that recorded it
	saved := 0
	var lastStart, firstEnd time.Time
	for i := 1; i <= 3; i++ {
		sh := shard.Shard{I: i, N: 3}
		res := results[i-1]
		if res.code != ExitOK {
			t.Fatalf("shard %s: exit %d\n%s", sh, res.code, res.stderr)
		}
		var sum download.Summary
		if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
			t.Fatalf("shard %s: summary: %v\n%s", sh, err, res.stdout)
		}
		if sum.Shard != sh.String() {
			t.Errorf("shard %s: summary says shard %q", sh, sum.Shard)
		}
		saved += sum.Saved
		if sum.StartedAt.After(lastStart) {
			lastStart = sum.StartedAt
		}
		if firstEnd.IsZero() || sum.FinishedAt.Before(firstEnd) {
			firstEnd = sum.FinishedAt
		}
		data, err := os.ReadFile(filepath.Join(out, "manifest.shard-"+strconv.Itoa(i)+"-of-3.summary.json"))
		if err != nil || !bytes.Contains(data, []byte(`"shard": "`+sh.String()+`"`)) {
			t.Errorf("shard %s: summary file: %v %.200s", sh, err, data)
		}
		for _, f := range []string{"discovery.checkpoint.shard-" + strconv.Itoa(i) + "-of-3.json",
			"cdl.shard-" + strconv.Itoa(i) + "-of-3.prom"} {
			dir := out
			if strings.HasSuffix(f, ".prom") {
				dir = filepath.Dir(prom)
			}
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("shard %s: %v", sh, err)
			}
		}
		for id, r := range latestByWork(readManifest(t, filepath.Join(out, "manifest.shard-"+strconv.Itoa(i)+"-of-3.jsonl")), "") {
			if prev, dup := done[id]; dup {
				t.Errorf("%s done by shard %d and shard %d", id, prev, i)
			}
			done[id] = i
			if want := shard.Of(id, 3); want != i {
				t.Errorf("%s done by shard %d, its hash names shard %d", id, i, want)
			}
			if !r.Saved() {
				t.Errorf("%s: %s %s", id, r.Classification, r.Reason)
			}
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("the shards did not run at the same time: the last started at %s, the first ended at %s", lastStart, firstEnd)
	}
	for _, w := range s.Works() {
		if _, ok := done[w.ID]; !ok {
			t.Errorf("%s was done by no shard", w.ID)
		}
	}
	if len(done) != n || saved != n {
		t.Errorf("%d works recorded, %d saved; want %d", len(done), saved, n)
	}
	for _, f := range []string{"manifest.jsonl", "manifest.summary.json", download.CheckpointFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("a sharded run wrote the unsharded %s", f)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(out, ".tmp")); len(ents) != 3 {
		t.Errorf(".tmp holds %d entries, want the 3 shard folders", len(ents))
	}
	downloads := publisherRequests(s)
	if downloads != n {
		t.Errorf("publishers served %d requests for %d works", downloads, n)
	}

	// A run without --shard resumes from the three shard manifests: nothing to fetch.
	res := mainIn([]string{"run", "--topic", "fleet test", "--out", out, "--json", "--progress", "never"},
		withEnv(env, "DOCSTOKG_LOG_LEVEL", "info"), "")
	if res.code != ExitOK {
		t.Fatalf("unsharded rerun: exit %d\n%s", res.code, res.stderr)
	}
	if got := publisherRequests(s) - downloads; got != 0 {
		t.Errorf("the unsharded rerun made %d publisher requests, want 0", got)
	}
	if strings.Contains(res.stderr, "removed temp files") {
		t.Errorf("the rerun took the shards' empty temp folders for leftovers of a killed run:\n%s", res.stderr)
	}
	rerun := latestByWork(readManifest(t, filepath.Join(out, manifest.FileName)), "")
	if len(rerun) != n {
		t.Errorf("the rerun recorded %d works, want %d", len(rerun), n)
	}
	for id, r := range rerun {
		if r.Classification != manifest.ClassSkipped || r.Reason != "already_saved" {
			t.Errorf("rerun %s: %s %s, want skipped already_saved", id, r.Classification, r.Reason)
		}
	}

	// export reads every manifest.
	res = mainIn([]string{"export", "--out", out, "--format", "ids", "--status", "pdf"}, env, "")
	if res.code != ExitOK || strings.Count(res.stdout, "\n") != n {
		t.Errorf("export: exit %d, %d lines, want %d\n%s", res.code, strings.Count(res.stdout, "\n"), n, res.stderr)
	}
}

// TestShardFiltersInputAndMaxWorks: with --input, another shard's W-ids are never
// looked up; --max-works counts only the shard's own works.
func TestShardFiltersInputAndMaxWorks(t *testing.T) {
	const n = 60
	s, env := shardSim(t, n, 0)
	var ids strings.Builder
	mine := 0
	for _, w := range s.Works() {
		ids.WriteString(w.ID + "\n")
		if shard.Of(w.ID, 3) == 2 {
			mine++
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	res := mainIn([]string{"run", "--input", "-", "--out", out, "--shard", "2/3", "--progress", "never", "--json"}, env, ids.String())
	if res.code != ExitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	recs := latestByWork(readManifest(t, filepath.Join(out, "manifest.shard-2-of-3.jsonl")), "")
	if len(recs) != mine {
		t.Errorf("shard 2/3 did %d works of the input, want its %d", len(recs), mine)
	}
	for id := range recs {
		if shard.Of(id, 3) != 2 {
			t.Errorf("shard 2/3 did %s of shard %d", id, shard.Of(id, 3))
		}
	}
	oa, _ := s.Stats().Host("openalex")
	if oa.Requests != int64(mine) {
		t.Errorf("OpenAlex got %d lookups, want %d (only shard 2's ids)", oa.Requests, mine)
	}

	out2 := filepath.Join(t.TempDir(), "out")
	res = mainIn([]string{"run", "--topic", "fleet test", "--out", out2, "--shard", "3/3", "--max-works", "5",
		"--progress", "never", "--json"}, env, "")
	if res.code != ExitOK {
		t.Fatalf("max-works: exit %d\n%s", res.code, res.stderr)
	}
	recs = latestByWork(readManifest(t, filepath.Join(out2, "manifest.shard-3-of-3.jsonl")), "")
	if len(recs) != 5 {
		t.Errorf("--max-works 5 --shard 3/3 did %d works, want 5", len(recs))
	}
	for id := range recs {
		if shard.Of(id, 3) != 3 {
			t.Errorf("shard 3/3 did %s of shard %d", id, shard.Of(id, 3))
		}
	}
}

// TestBadShardExits2 checks each bad --shard value, from each layer, is exit 2 with
// one line naming the value and where it came from, before any request.
func TestBadShardExits2(t *testing.T) {
	s, env := shardSim(t, 3, 0)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfgFile, []byte("fleet:\n  shard: 1/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	run := []string{"run", "--topic", "fleet test", "--out", out, "--progress", "never"}
	for _, c := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   string
	}{
		{"0/3", append(run[:len(run):len(run)], "--shard", "0/3"), env, "fleet.shard = 0/3 (from flag --shard): the shard (I) must be between 1 and N (3)"},
		{"4/3", append(run[:len(run):len(run)], "--shard=4/3"), env, "fleet.shard = 4/3 (from flag --shard)"},
		{"x", run, withEnv(env, "DOCSTOKG_FLEET_SHARD", "x"), "fleet.shard = x (from env DOCSTOKG_FLEET_SHARD): must be I/N"},
		{"3", append(run[:len(run):len(run)], "--shard", "3"), env, "fleet.shard = 3 (from flag --shard): must be I/N"},
		{"1/0", append(run[:len(run):len(run)], "--config", cfgFile), env, "fleet.shard = 1/0 (from file " + cfgFile + "): the number of shards (N) must be at least 1"},
	} {
		res := mainIn(c.args, c.getenv, "")
		if res.code != ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, res.code, ExitUsage, res.stderr)
		}
		if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%s: stderr %q, want one line containing %q", c.name, res.stderr, c.want)
		}
	}
	if oa, _ := s.Stats().Host("openalex"); oa.Requests != 0 {
		t.Errorf("bad shard values still sent %d requests", oa.Requests)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a bad shard value created OUT")
	}
}
