package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/docstokg/contentdl/internal/shard"
)

// TestFleetShard loads fleet.shard from each layer and checks that a bad value is one
// error naming the value and the layer it came from.
func TestFleetShard(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "c.yaml", "fleet:\n  shard: 1/3\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Fleet.ShardSpec(); got != (shard.Shard{I: 1, N: 3}) || cfg.Source("fleet.shard") != "file "+file {
		t.Errorf("file: shard %v from %q", got, cfg.Source("fleet.shard"))
	}
	cfg, err = Load(LoadOptions{File: file, Getenv: envMap(map[string]string{"DOCSTOKG_FLEET_SHARD": " 2/3 "})})
	if err != nil || cfg.Fleet.ShardSpec() != (shard.Shard{I: 2, N: 3}) || cfg.Source("fleet.shard") != "env DOCSTOKG_FLEET_SHARD" {
		t.Errorf("env: %v %v from %q", cfg, err, cfg.Source("fleet.shard"))
	}
	cfg, err = Load(LoadOptions{File: file, Getenv: envMap(map[string]string{"DOCSTOKG_FLEET_SHARD": "2/3"}),
		Flags: testFlags(t, "--shard", "3/3")})
	if err != nil || cfg.Fleet.ShardSpec() != (shard.Shard{I: 3, N: 3}) || cfg.Source("fleet.shard") != "flag --shard" {
		t.Errorf("flag: %v %v", cfg, err)
	}
	if cfg, err := Load(LoadOptions{}); err != nil || cfg.Fleet.ShardSpec().Enabled() {
		t.Errorf("default: %v %v", cfg, err)
	}

	for _, c := range []struct {
		name string
		opts LoadOptions
		want string
	}{
		{"flag 0/3", LoadOptions{Flags: testFlags(t, "--shard", "0/3")},
			"config: fleet.shard = 0/3 (from flag --shard): the shard (I) must be between 1 and N (3); shards are counted from 1"},
		{"env 4/3", LoadOptions{Getenv: envMap(map[string]string{"DOCSTOKG_FLEET_SHARD": "4/3"})},
			"config: fleet.shard = 4/3 (from env DOCSTOKG_FLEET_SHARD): the shard (I) must be between 1 and N (3); shards are counted from 1"},
		{"env x", LoadOptions{Getenv: envMap(map[string]string{"DOCSTOKG_FLEET_SHARD": "x"})},
			"config: fleet.shard = x (from env DOCSTOKG_FLEET_SHARD): must be I/N, e.g. 1/3 (shard I of N, counted from 1)"},
		{"file 1/0", LoadOptions{File: writeFile(t, "z.yaml", "fleet:\n  shard: 1/0\n")},
			"fleet.shard = 1/0 (from file "},
		{"flag 3", LoadOptions{Flags: testFlags(t, "--shard=3")},
			"config: fleet.shard = 3 (from flag --shard): must be I/N, e.g. 1/3 (shard I of N, counted from 1)"},
	} {
		_, err := Load(c.opts)
		var ce *Error
		if !errors.As(err, &ce) || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
