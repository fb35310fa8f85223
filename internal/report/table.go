package report

import (
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/docstokg/contentdl/internal/download"
	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/policy"
)

// Limits that keep the table compact on a run that touched many hosts.
const (
	topReasons = 5
	topHosts   = 15
)

// classOrder is the order classifications are listed in: saved kinds first.
var classOrder = []string{
	manifest.ClassPDF, manifest.ClassXML, manifest.ClassHTML, manifest.ClassSkipped,
	manifest.ClassMiss, manifest.ClassDeferred, manifest.ClassDryRun,
}

// notMissReasons are reasons the runner records on works that were kept or
// re-checked, not lost; they do not belong among the miss reasons.
var notMissReasons = map[string]bool{
	"already_saved":       true, // resume skipped a saved work
	"not_modified":        true, // --revalidate: 304
	"unchanged":           true, // --revalidate: same bytes
	"revalidated_changed": true, // --revalidate: new bytes saved
	"upgraded":            true, // an XML/HTML work got its PDF
}

// dryRunReason matches the "N_candidates" reason of a --dry-run work.
var dryRunReason = regexp.MustCompile(`^[0-9]+_candidates$`)

// WriteSummaryTable writes the end-of-run summary for people: a headline, the works
// by classification, the top miss reasons, per-host request statistics and the retry
// decisions per operation. The output is deterministic for a given Summary.
func WriteSummaryTable(w io.Writer, s *download.Summary) error {
	if s == nil {
		return fmt.Errorf("summary table: no summary")
	}
	var b strings.Builder
	writeHeadline(&b, s)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	tp := &printer{w: tw}
	writeClasses(tp, s)
	writeReasons(tp, s)
	writeHosts(tp, s.Hosts)
	writeOperations(tp, s.Operations)
	if tp.err != nil {
		return tp.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printer prints to w and keeps the first error, so that a table is written with
// one error check at the end.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func writeHeadline(b *strings.Builder, s *download.Summary) {
	learning := "off"
	if s.ProviderLearning {
		learning = "on"
	}
	fmt.Fprintf(b, "run %s finished in %s (retry policy %s, provider learning %s)\n",
		s.RunID, formatDuration(secondsToDuration(s.DurationSeconds)), s.RetryPolicy, learning)
	fmt.Fprintf(b, "%d works: %d saved, %d failed, %d deferred\n", s.Works, s.Saved, s.Failed, s.Deferred)
	if s.Interrupted {
		b.WriteString("interrupted: the manifest holds what was done; run again to resume\n")
	}
	if s.DiscoveryError != "" {
		fmt.Fprintf(b, "discovery error: %s\n", s.DiscoveryError)
	}
	b.WriteString(stopLine(s))
	b.WriteString(openalexLine(s))
}

func writeClasses(tw *printer, s *download.Summary) {
	var total int64
	for _, n := range s.ByClassification {
		total += int64(n)
	}
	if total == 0 {
		return
	}
	tw.printf("\n")
	tw.printf("CLASSIFICATION\tWORKS\tSHARE\n")
	for _, c := range orderedKeys(s.ByClassification, classOrder) {
		n := s.ByClassification[c]
		if n == 0 {
			continue
		}
		tw.printf("%s\t%d\t%.1f%%\n", c, n, percent(int64(n), total))
	}
}

// missReasons returns the reasons works were missed or deferred, most frequent
// first, ties by name, at most limit of them.
func missReasons(byReason map[string]int, limit int) []string {
	var out []string
	for r, n := range byReason {
		if n > 0 && r != "" && !notMissReasons[r] && !dryRunReason.MatchString(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(byReason[b], byReason[a]), cmp.Compare(a, b))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func writeReasons(tw *printer, s *download.Summary) {
	reasons := missReasons(s.ByReason, topReasons)
	if len(reasons) == 0 {
		return
	}
	tw.printf("\n")
	tw.printf("TOP MISS REASONS\tWORKS\n")
	for _, r := range reasons {
		tw.printf("%s\t%d\n", r, s.ByReason[r])
	}
}

func writeHosts(tw *printer, hosts []fetch.HostStats) {
	if len(hosts) == 0 {
		return
	}
	hs := slices.Clone(hosts)
	slices.SortFunc(hs, func(a, b fetch.HostStats) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Host, b.Host))
	})
	shown := hs
	if len(shown) > topHosts {
		shown = hs[:topHosts]
	}
	tw.printf("\n")
	tw.printf("HOST\tPROVIDER\tREQUESTS\tOK\t429s\tRETRIES\tP50\tP95\tEFF RPS\tCFG RPS\n")
	for _, h := range shown {
		ok := "-"
		if h.Requests > 0 {
			ok = fmt.Sprintf("%.1f%%", percent(h.Successes, h.Requests))
		}
		tw.printf("%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n",
			h.Host, h.Provider, h.Requests, ok, h.Count429, h.Retries,
			formatMS(h.P50MS), formatMS(h.P95MS), formatRPS(h.EffectiveRPS), formatRPS(h.ConfiguredRPS))
	}
	if rest := hs[len(shown):]; len(rest) > 0 {
		var req int64
		for _, h := range rest {
			req += h.Requests
		}
		tw.printf("(%d more hosts)\t\t%d\n", len(rest), req)
	}
}

func writeOperations(tw *printer, ops map[string]fetch.OpStats) {
	if len(ops) == 0 {
		return
	}
	var known []string
	for _, op := range policy.Operations() {
		known = append(known, op.String())
	}
	tw.printf("\n")
	tw.printf("OPERATION\tRETRIES\tDEFERS\tFAILOVERS\tFAILS\n")
	for _, name := range orderedKeys(ops, known) {
		o := ops[name]
		if o == (fetch.OpStats{}) {
			continue
		}
		tw.printf("%s\t%d\t%d\t%d\t%d\n", name, o.Retries, o.Defers, o.Failovers, o.Fails)
	}
}

// orderedKeys lists the keys of m: first those in order that m holds, then the rest
// sorted by name.
func orderedKeys[V any](m map[string]V, order []string) []string {
	out := make([]string, 0, len(m))
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
