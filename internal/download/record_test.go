package download

import (
	"testing"

	"github.com/docstokg/contentdl/internal/manifest"
)

// fill is the one result → record mapping and savedResult its inverse: what a run
// writes about a saved work is what the next run reads back.
func TestFillAndSavedResultRoundTrip(t *testing.T) {
	res := result{class: manifest.ClassPDF, reason: "", resolver: "unpaywall", url: "https://pub.example/a.pdf?api_key=s3cret",
		status: 200, path: "PDF/2020_a_W1.pdf", sha: "abc", size: 4096, etag: `"e1"`, lastMod: "Mon, 02 Jan 2006 15:04:05 GMT",
		previous: &manifest.Record{Path: "XML/2020_a_W1.xml", Classification: manifest.ClassXML, SHA256: "old"}}
	rec := &manifest.Record{URL: "kept when res has none"}
	res.fill(rec)
	if rec.Classification != "pdf" || rec.Resolver != "unpaywall" || rec.HTTPStatus != 200 || rec.Path != res.path ||
		rec.SHA256 != "abc" || rec.ContentLength != 4096 || rec.ETag != `"e1"` || rec.LastModified != res.lastMod {
		t.Errorf("fill wrote %+v", rec)
	}
	if rec.URL == res.url || rec.URL == "" {
		t.Errorf("URL not redacted: %q", rec.URL)
	}
	if rec.PreviousPath != "XML/2020_a_W1.xml" || rec.PreviousClassification != "xml" || rec.PreviousSHA256 != "old" {
		t.Errorf("upgrade not annotated: %+v", rec)
	}
	back := savedResult(rec)
	if back.class != res.class || back.path != res.path || back.sha != res.sha || back.size != res.size ||
		back.etag != res.etag || back.lastMod != res.lastMod || back.resolver != res.resolver || back.status != res.status {
		t.Errorf("savedResult(fill(res)) = %+v, want the file facts of %+v", back, res)
	}

	empty := &manifest.Record{URL: "https://attempt.example/x"}
	result{class: manifest.ClassMiss}.fill(empty)
	if empty.URL != "https://attempt.example/x" {
		t.Errorf("a result without a URL overwrote the attempt's: %q", empty.URL)
	}
}
