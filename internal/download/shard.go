package download

import (
	"path/filepath"
	"strings"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/shard"
)

// The files of a run in OUT. A sharded run (Options.Shard) has its own of each, with
// ".shard-I-of-N" before the extension, so shards can share OUT (docs/fleet.md):
//
//	manifest.jsonl              manifest.shard-1-of-3.jsonl
//	manifest.summary.json       manifest.shard-1-of-3.summary.json
//	discovery.checkpoint.json   discovery.checkpoint.shard-1-of-3.json
//	.lock                       .lock (shared) + .lock.shard-1-of-3 (lock_unix.go)
//	.tmp/                       .tmp/shard-1-of-3/

// ManifestName is the manifest a run of shard s appends to.
func ManifestName(s shard.Shard) string { return s.FileName("manifest", ".jsonl") }

// SummaryName is the summary a run of shard s writes.
func SummaryName(s shard.Shard) string { return s.FileName("manifest", ".summary.json") }

// CheckpointName is the discovery checkpoint of shard s (CheckpointFile unsharded).
func CheckpointName(s shard.Shard) string { return s.FileName("discovery.checkpoint", ".json") }

// resumeManifests lists the manifests a run reads to resume: every manifest in OUT
// (a run without --shard, or with another N, resumes from all shards' work), except
// the other shards of this run's own N. Those hold none of this shard's works, and
// they may be written at this very moment by their own runs.
func (r *Runner) resumeManifests() ([]string, error) {
	files, err := manifest.Files(r.opts.Out)
	if err != nil {
		return nil, err
	}
	own := ManifestName(r.opts.Shard)
	keep := []string{filepath.Join(r.opts.Out, own)}
	for _, f := range files {
		name := filepath.Base(f)
		if name == own || (r.opts.Shard.Enabled() && sameSplit(name, r.opts.Shard)) {
			continue
		}
		keep = append(keep, f)
	}
	return keep, nil
}

// sameSplit reports whether a shard manifest's name is one of s's siblings:
// manifest.shard-J-of-N.jsonl with s's N.
func sameSplit(name string, s shard.Shard) bool {
	sib, ok := shard.FromName(name, "manifest", ".jsonl")
	return ok && sib.N == s.N
}

// inShard reports whether this run does the work with this id. An --input line that
// is a DOI has no W-id until it is looked up, so it is let through here and checked
// again after the lookup.
func (r *Runner) inShard(id string) bool {
	if !r.opts.Shard.Enabled() || !strings.HasPrefix(id, "W") {
		return true
	}
	return r.opts.Shard.Contains(id)
}

// shardTotal estimates this shard's part of a search's meta.count, for the progress
// display.
func (r *Runner) shardTotal(n int) int {
	if !r.opts.Shard.Enabled() {
		return n
	}
	return (n + r.opts.Shard.N - 1) / r.opts.Shard.N
}
