// Package shard splits a run's works into N disjoint shards by a stable hash of the
// OpenAlex work id, so that N processes (`contentdl run --shard I/N`) can share one
// search without doing a work twice, and without talking to each other.
//
// The hash, for other tools to reproduce: take the work's canonical id, "W" followed
// by its digits as OpenAlex writes them ("W2741809807"; "w2741809807" and
// "https://openalex.org/W2741809807" are the same id), hash its bytes with 64-bit
// FNV-1a, and the work belongs to shard (hash mod N) + 1. An id that is not of that
// form is hashed as it is. In Python:
//
//	h = 0xcbf29ce484222325
//	for b in b"W2741809807":
//	    h = ((h ^ b) * 0x100000001b3) % 2**64
//	shard = h % N + 1
package shard

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is shard I of N (1 ≤ I ≤ N). The zero value is "not sharded": every work
// belongs to it.
type Shard struct {
	I, N int
}

// MaxN bounds N: far more processes than any fleet runs, and small enough that a
// typo ("1/30000000") is caught.
const MaxN = 10000

// Parse reads "I/N" (1-based, like Jest's and Playwright's --shard=1/3). Spaces
// around the numbers are allowed. "" is the zero Shard (not sharded).
func Parse(s string) (Shard, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, errors.New("must be I/N, e.g. 1/3 (shard I of N, counted from 1)")
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, errors.New("must be I/N with whole numbers, e.g. 1/3 (shard I of N, counted from 1)")
	case n < 1:
		return Shard{}, errors.New("the number of shards (N) must be at least 1")
	case n > MaxN:
		return Shard{}, fmt.Errorf("the number of shards (N) must be at most %d", MaxN)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf("the shard (I) must be between 1 and N (%d); shards are counted from 1", n)
	}
	return Shard{I: i, N: n}, nil
}

// Enabled reports whether s is a real shard (the zero Shard is not).
func (s Shard) Enabled() bool { return s.N > 0 }

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if !s.Enabled() {
		return ""
	}
	return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N)
}

// Tag is "shard-I-of-N", the part shard files carry in their names, or "".
func (s Shard) Tag() string {
	if !s.Enabled() {
		return ""
	}
	return "shard-" + strconv.Itoa(s.I) + "-of-" + strconv.Itoa(s.N)
}

// FileName inserts the tag before ext: FileName("manifest", ".jsonl") is
// "manifest.shard-1-of-3.jsonl" for shard 1/3 and "manifest.jsonl" unsharded.
func (s Shard) FileName(base, ext string) string {
	if !s.Enabled() {
		return base + ext
	}
	return base + "." + s.Tag() + ext
}

// Contains reports whether the work with this OpenAlex id belongs to s. Every work
// belongs to the zero Shard.
func (s Shard) Contains(workID string) bool {
	return !s.Enabled() || Of(workID, s.N) == s.I
}

// Of is the shard (1..n) of a work id. n must be at least 1.
func Of(workID string, n int) int {
	return int(Hash(workID)%uint64(n)) + 1
}

// Hash is 64-bit FNV-1a of the canonical id.
func Hash(workID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(Canonical(workID)))
	return h.Sum64()
}

// Canonical is the form of a work id that is hashed: "W" and the digits for
// "W123", "w123" and openalex.org work URLs; any other id trimmed of blanks.
func Canonical(workID string) string {
	s := strings.TrimSpace(workID)
	if i := strings.LastIndexByte(s, '/'); i >= 0 && strings.Contains(strings.ToLower(s[:i]), "openalex.org") {
		s = s[i+1:]
	}
	if len(s) >= 2 && (s[0] == 'W' || s[0] == 'w') && allDigits(s[1:]) {
		return "W" + s[1:]
	}
	return strings.TrimSpace(workID)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FromName is the inverse of FileName: the shard of "manifest.shard-2-of-3.jsonl"
// with base "manifest" and ext ".jsonl". ok is false for any other name, the
// unsharded one included.
func FromName(name, base, ext string) (s Shard, ok bool) {
	rest, ok := strings.CutPrefix(name, base+".shard-")
	if !ok {
		return Shard{}, false
	}
	if rest, ok = strings.CutSuffix(rest, ext); !ok {
		return Shard{}, false
	}
	i, n, ok := strings.Cut(rest, "-of-")
	if !ok || strings.ContainsAny(rest, " /") {
		return Shard{}, false
	}
	s, err := Parse(i + "/" + n)
	return s, err == nil
}
