package policy

import (
	"bytes"
	"fmt"
	"testing"
	"text/tabwriter"

	"github.com/docstokg/contentdl/internal/golden"
)

// TestDecisionTableGolden renders the full decision matrix (policy × operation ×
// outcome × attempt, default Config, jitter 0.5) and compares it with
// testdata/decisions.golden. The file is the reviewable specification of the rules: a
// change to the policy shows up as a diff there. Run `go test -run Golden -update` to
// accept a deliberate change.
func TestDecisionTableGolden(t *testing.T) {
	outcomes := []struct {
		name string
		o    Outcome
	}{
		{"200", resp(200)},
		{"304", resp(304)},
		{"404", resp(404)},
		{"408", resp(408)},
		{"429", resp(429)},
		{"429 RA=10", withRA(429, "10")},
		{"429 RA=3600", withRA(429, "3600")},
		{"500", resp(500)},
		{"501", resp(501)},
		{"503", resp(503)},
		{"503 RA=30", withRA(503, "30")},
		{"504", resp(504)},
		{"timeout", transport(ErrTimeout)},
		{"connect_refused", transport(ErrConnRefused)},
		{"reset", transport(ErrReset)},
		{"other", transport(ErrOther)},
		{"tls", transport(ErrTLS)},
		{"canceled", transport(ErrCanceled)},
		{"blocked_address", transport(ErrBlocked)},
	}
	attempts := []int{1, 2, 3, 5, 6}

	var buf bytes.Buffer
	fmt.Fprintln(&buf, "# Decisions under DefaultConfig with Jitter 0.5 and Elapsed 0.")
	fmt.Fprintln(&buf, "# Regenerate with: go test ./internal/policy -run Golden -update")
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, p := range []Policy{NewLegacy(DefaultConfig()), NewContextual(DefaultConfig())} {
		for _, op := range Operations() {
			fmt.Fprintf(tw, "\n%s %s\toutcome\tattempt\taction\twait\treason\n", p.Name(), op)
			for _, o := range outcomes {
				for _, a := range attempts {
					d := p.Decide(Input{Op: op, Outcome: o.o, Attempt: a, Now: t0, Jitter: testJitter})
					fmt.Fprintf(tw, "\t%s\t%d\t%s\t%v\t%s\n", o.name, a, d.Action, d.Wait, d.Reason)
				}
			}
			tw.Flush()
		}
	}

	golden.Check(t, "decisions.golden", buf.Bytes())
}
