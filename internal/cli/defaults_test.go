package cli

import (
	"reflect"
	"testing"

	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/policy"
)

// The config package's defaults and the domain packages' own defaults must agree, so
// that documentation, `config print` and a config-less library user see one truth.
func TestConfigDefaultsMatchDomainDefaults(t *testing.T) {
	cfg := config.Defaults()
	if got, want := learningConfig(&cfg), learning.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("learning defaults differ:\nconfig:   %+v\nlearning: %+v", got, want)
	}
	if got, want := policyConfig(&cfg), policy.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("policy defaults differ:\nconfig: %+v\npolicy: %+v", got, want)
	}
}
