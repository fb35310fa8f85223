package learning

import (
	"testing"
	"time"
)

func TestFilterRows(t *testing.T) {
	rows := []ProviderBehavior{{Provider: "crossref", Host: "api.crossref.org"}, {Provider: "openalex", Host: "api.openalex.org"},
		{Provider: "unpaywall", Host: "api.unpaywall.org"}, {Provider: "web", Host: "export.arxiv.org"},
		{Provider: "web", Host: "pub.example:8443"}, {Provider: "web", Host: "slow.example"}}
	for _, tc := range []struct {
		substr string
		want   int
	}{{"", 6}, {"OPENALEX", 1}, {"web@", 3}, {"example", 2}, {"api.", 3}, {"nothing", 0}} {
		got := FilterRows(rows, tc.substr)
		if len(got) != tc.want {
			t.Errorf("FilterRows(%q) = %d rows, want %d", tc.substr, len(got), tc.want)
		}
	}
	if got := FilterRows(nil, "x"); got == nil || len(got) != 0 {
		t.Errorf("FilterRows(nil) = %#v, want an empty slice", got)
	}
}

func TestFileRowsAndSnapshotAreCopies(t *testing.T) {
	f := &File{SchemaVersion: 1, Providers: map[string]ProviderBehavior{
		"b@y": {RecoveryTimes: []float64{1}}, "a@x": {Provider: "a", Host: "x"},
	}}
	rows := f.Rows()
	if len(rows) != 2 || rows[0].Key() != "a@x" || rows[1].Provider != "b" || rows[1].Host != "y" {
		t.Fatalf("rows %+v", rows)
	}
	rows[1].RecoveryTimes[0] = 99
	if f.Providers["b@y"].RecoveryTimes[0] != 1 {
		t.Fatal("Rows shares recovery_times with the file")
	}

	fx := newFixture(t, noWindow(), 10, 1)
	fx.observe(429, retryAfter(3))
	snap := fx.tr.Snapshot()
	snap[0].RecoveryTimes[0] = 99
	*snap[0].Last429At = time.Time{}
	if b := fx.behavior(); b.RecoveryTimes[0] != 3 || b.Last429At.IsZero() {
		t.Fatal("Snapshot shares memory with the tracker")
	}
}
