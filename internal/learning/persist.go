package learning

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/fileperm"
)

// SchemaVersion is the version of the learning file this package reads and writes.
const SchemaVersion = 1

// File is the learning file: {"schema_version":1,"updated_at":…,"providers":{"provider@host":{…}}}.
type File struct {
	SchemaVersion int                         `json:"schema_version"`
	UpdatedAt     time.Time                   `json:"updated_at"`
	Providers     map[string]ProviderBehavior `json:"providers"`
}

// ErrCorrupt is wrapped by Load's error when the file is not a learning file it can
// use: invalid JSON, or a schema_version other than SchemaVersion.
var ErrCorrupt = errors.New("provider learning file is corrupt")

// ErrNoPath is returned by Save when Open was never called.
var ErrNoPath = errors.New("provider learning: no file path (Open was not called)")

// maxFileSize bounds what Load reads; a larger file is treated as corrupt.
const maxFileSize = 64 << 20

// lockTimeout bounds the wait for another process's lock.
const lockTimeout = 10 * time.Second

// newFile returns an empty learning file.
func newFile() *File {
	return &File{SchemaVersion: SchemaVersion, Providers: map[string]ProviderBehavior{}}
}

// Load reads a learning file. A missing file is an empty File and no error. Invalid
// JSON or another schema_version gives an error wrapping ErrCorrupt; other read errors
// (permissions, a directory in the way) are returned wrapped as they are.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newFile(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("provider learning: read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("provider learning: read %s: %w", path, err)
	}
	return decodeFile(path, data)
}

func decodeFile(path string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrCorrupt, path, maxFileSize)
	}
	var file File
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if file.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: %s: schema_version %d, want %d", ErrCorrupt, path, file.SchemaVersion, SchemaVersion)
	}
	if file.Providers == nil {
		file.Providers = map[string]ProviderBehavior{}
	}
	return &file, nil
}

// Open loads the learning file at path into the tracker and remembers path for Save.
// Each entry is sanitised and relaxed by the time since it was updated (see Relaxed),
// and its quota mark, reduction, last good rate and ceiling are applied to a host
// registered earlier. A corrupt file is moved aside to path+".corrupt-<UTC timestamp>",
// and a regular file that cannot be read (permission denied) to
// path+".unreadable-<UTC timestamp>", with a warning, and learning starts fresh (no
// error). An error is returned only for
// what the caller should warn about, such as an unreadable file; learning then starts
// empty and stays in memory if Save fails too.
func (t *Tracker) Open(path string) error {
	now := t.clk.Now()
	t.mu.Lock()
	t.path = path
	t.mu.Unlock()

	file, err := Load(path)
	if err != nil {
		// A corrupt file, or a regular file this process may not read, is moved aside
		// so learning starts fresh and saves go to path again. Look again under the
		// file lock before moving anything: another process may have replaced it with
		// a good file since we read it, and that file must not be moved aside.
		first := err
		kind := asideKind(err)
		aside := ""
		if lockErr := withFileLock(t.clk, path, func() error {
			file, err = Load(path)
			if err == nil || !errors.Is(err, ErrCorrupt) && !movable(path) {
				return nil // read now, or something other than a file is in the way
			}
			var mvErr error
			aside, mvErr = t.moveAside(path, now, kind)
			return mvErr
		}); lockErr != nil {
			return fmt.Errorf("%w (and moving it aside failed: %w)", first, lockErr)
		}
		if aside != "" {
			msg := "provider learning file is corrupt; moved it aside and starting fresh"
			if kind == asideUnreadable {
				msg = "provider learning file could not be read; moved it aside and starting fresh (check the permissions of the moved file)"
			}
			t.log.Warn(msg, "path", path, "moved_to", aside, "err", first)
			return nil
		}
		if err != nil {
			return err
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for key, b := range file.Providers {
		provider, host, ok := SplitKey(key)
		if !ok {
			t.log.Warn("provider learning: skipping an entry with a malformed key", "key", key)
			continue
		}
		b.Provider, b.Host = provider, host
		b = Relaxed(sanitize(b, &t.cfg), t.cfg, now)
		hs := t.byKey[key]
		if hs == nil {
			hs = newHostState(provider, host)
			t.byKey[key] = hs
		}
		hs.mu.Lock()
		hs.load(&t.cfg, b, now)
		if cur := t.byHost[host]; cur == nil || (cur != hs && !cur.active && cur.updatedAt < hs.updatedAt) {
			t.byHost[host] = hs
		}
		if hs.quotaUntil != 0 {
			t.log.Info("provider quota still exhausted from an earlier run; its works are deferred until the reset",
				"provider", provider, "host", host, "until", time.Unix(0, hs.quotaUntil).UTC().Format(time.RFC3339))
		}
		if hs.lim != nil {
			hs.apply(&t.cfg, now, true)
		}
		hs.mu.Unlock()
	}
	return nil
}

// load applies a (sanitised, relaxed) persisted entry to hs, with hs.mu held. Counts
// are added to what this process has seen already; the learned rate is taken over.
func (hs *hostState) load(cfg *Config, b ProviderBehavior, now time.Time) {
	hs.loaded = true
	if b.TotalRequests > 0 {
		hs.proven = true // an earlier run has seen what it accepts
	}
	hs.totalRequests += b.TotalRequests
	hs.total429s += b.Total429s
	hs.savedRequests += b.TotalRequests
	hs.saved429s += b.Total429s
	for _, v := range b.RecoveryTimes {
		if hs.retryAfters == nil {
			hs.retryAfters = &retryAfterRing{}
		}
		hs.retryAfters.add(v)
	}
	if b.Last429At != nil && b.Last429At.UnixNano() > hs.last429At {
		hs.last429At = b.Last429At.UnixNano()
	}
	if u := b.UpdatedAt.UnixNano(); !b.UpdatedAt.IsZero() && u > hs.updatedAt {
		hs.updatedAt = u
	}
	if b.QuotaResetAt != nil && b.QuotaResetAt.UnixNano() > hs.quotaUntil {
		hs.quotaUntil = b.QuotaResetAt.UnixNano()
	}
	if b.CeilingRPS > 0 && hs.ceilingRPS == 0 {
		hs.ceilingRPS = b.CeilingRPS
	}
	if hs.totalRequests == b.TotalRequests { // nothing learned in this process yet: take the file's rate
		if hs.configuredRPS <= 0 {
			hs.configuredRPS = b.ConfiguredRPS
		} else if b.ConfiguredRPS > 0 && b.AppliedReductionPct > 0 && b.ConfiguredRPS != hs.configuredRPS {
			// Keep the learned absolute rate under a new configured rate.
			abs := b.ConfiguredRPS * (100 - b.AppliedReductionPct) / 100
			b.AppliedReductionPct = roundPct(clampPct(100*(1-abs/hs.configuredRPS), cfg.MaxReductionPct))
		}
		hs.reductionPct = b.AppliedReductionPct
		hs.lastGoodRPS = b.LastGoodRPS
		// A run that ended while probing above the last good rate start the next one
		// at that rate: the probe was a question, not an answer.
		if g := hs.lastGoodRPS; g > 0 && hs.configuredRPS > 0 && hs.reductionPct > 0 && g < hs.learned() {
			hs.reductionPct = roundPct(clampPct(100*(1-g/hs.configuredRPS), cfg.MaxReductionPct))
		}
		if hs.reductionPct > 0 {
			hs.direction = dirRecovering
			if b.Status == StatusReducing {
				hs.direction = dirReducing
			}
		}
		// A new process starts a new clean stretch (and a new episode) at the learned rate.
		hs.cleanSince, hs.cleanSinceRPS = now.UnixNano(), hs.learned()
	}
}

// sanitize bounds every number of a persisted entry so that a hand-edited or damaged
// file cannot produce a negative count, a reduction above the cap or NaN.
func sanitize(b ProviderBehavior, cfg *Config) ProviderBehavior {
	fin := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0
		}
		return v
	}
	b.TotalRequests = max(b.TotalRequests, 0)
	b.Total429s = max(b.Total429s, 0)
	b.Consecutive429s = max(b.Consecutive429s, 0)
	b.AppliedReductionPct = clampPct(b.AppliedReductionPct, cfg.MaxReductionPct)
	b.ConfiguredRPS = fin(b.ConfiguredRPS)
	b.EffectiveRPS = fin(b.EffectiveRPS)
	b.CeilingRPS = fin(b.CeilingRPS)
	b.LastGoodRPS = fin(b.LastGoodRPS)
	rts := make([]float64, 0, len(b.RecoveryTimes))
	for _, v := range b.RecoveryTimes {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 {
			rts = append(rts, v)
		}
	}
	if len(rts) > maxRecoveryTimes {
		rts = rts[len(rts)-maxRecoveryTimes:]
	}
	b.RecoveryTimes = rts
	switch b.Status {
	case StatusNormal, StatusReducing, StatusRecovering, StatusQuotaExhausted:
	default:
		b.Status = StatusNormal
	}
	return b
}

// Suffixes of a moved-aside learning file: path+".<kind>-<UTC timestamp>".
const (
	asideCorrupt    = "corrupt"
	asideUnreadable = "unreadable"
)

// asideKind names why a file that Load rejected is moved aside.
func asideKind(err error) string {
	if errors.Is(err, ErrCorrupt) {
		return asideCorrupt
	}
	return asideUnreadable
}

// movable reports whether path is a regular file or a symbolic link (renaming a link
// moves the link, not its target). Only those are moved aside: a directory or a
// device in the way is the user's, not a learning file.
func movable(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && (fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0)
}

// moveAside renames a corrupt or unreadable file to path+".<kind>-<UTC timestamp>".
func (t *Tracker) moveAside(path string, now time.Time, kind string) (string, error) {
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	return moveAsideLocked(path, now, kind, &t.asideSeq)
}

func moveAsideLocked(path string, now time.Time, kind string, seq *int) (string, error) {
	base := path + "." + kind + "-" + now.UTC().Format("20060102T150405Z")
	aside := base
	for i := 0; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		*seq++
		aside = base + "." + strconv.Itoa(*seq)
		if i > 1000 {
			return "", fmt.Errorf("no free name beside %s", base)
		}
	}
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// pending is one entry's unsaved state, copied under its lock.
type pending struct {
	hs               *hostState
	b                ProviderBehavior
	newRequests      int64     // requests since the last save or load
	new429s          int64     // 429s since then
	newRetryAfters   []float64 // Retry-After values since then
	totalRequestsNow int64     // hs.totalRequests when copied
	total429sNow     int64     // hs.total429s when copied
}

// Save merges this process's learning into the file and writes it atomically. It
// takes an exclusive flock on path+".lock", re-reads the file, adds this process's
// per-host count deltas since its last save to the file's counts (so two processes lose
// nothing), takes reductions and status from whichever side was updated last, then
// writes a temporary file in the same directory, fsyncs it, renames it over the file
// and fsyncs the directory. A read-only directory gives a clear error; the learning
// stays in memory and a later Save can still succeed.
func (t *Tracker) Save() error {
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	t.mu.RLock()
	path := t.path
	states := make([]*hostState, 0, len(t.byKey))
	for _, hs := range t.byKey {
		states = append(states, hs)
	}
	t.mu.RUnlock()
	if path == "" {
		return ErrNoPath
	}
	now := t.clk.Now()
	gen := t.gen.Load()

	var work []pending
	for _, hs := range states {
		hs.mu.Lock()
		if hs.observed {
			hs.refresh(&t.cfg, now, t.log)
			p := pending{
				hs:               hs,
				b:                hs.behavior(&t.cfg, now),
				newRequests:      hs.totalRequests - hs.savedRequests,
				new429s:          hs.total429s - hs.saved429s,
				totalRequestsNow: hs.totalRequests,
				total429sNow:     hs.total429s,
			}
			if hs.retryAfters != nil && hs.retryAftersUnsaved > 0 {
				p.newRetryAfters = hs.retryAfters.last(int(hs.retryAftersUnsaved))
			}
			work = append(work, p)
		}
		hs.mu.Unlock()
	}

	merged := map[string]ProviderBehavior{}
	err := withFileLock(t.clk, path, func() error {
		file, err := Load(path)
		if err != nil && (errors.Is(err, ErrCorrupt) || movable(path)) {
			// Corrupt, or a file we may not read (left by Open when its folder was
			// read-only then): move it aside and write what we learned in its place.
			kind := asideKind(err)
			aside, mvErr := moveAsideLocked(path, now, kind, &t.asideSeq)
			if mvErr != nil {
				return fmt.Errorf("%w (and moving it aside failed: %w)", err, mvErr)
			}
			t.log.Warn("provider learning file became "+kind+"; moved it aside and writing fresh",
				"path", path, "moved_to", aside, "err", err)
			file = newFile()
		} else if err != nil {
			return err
		}
		for _, p := range work {
			key := p.b.Key()
			m := mergeEntry(file.Providers[key], p)
			file.Providers[key] = m
			merged[key] = m
		}
		file.SchemaVersion = SchemaVersion
		file.UpdatedAt = now.UTC()
		return writeFileAtomic(path, file)
	})
	if err != nil {
		return err
	}

	// Adopt the merged counts, so the next save's deltas start from the file's totals.
	for _, p := range work {
		m := merged[p.b.Key()]
		hs := p.hs
		hs.mu.Lock()
		hs.totalRequests = m.TotalRequests + (hs.totalRequests - p.totalRequestsNow)
		hs.total429s = m.Total429s + (hs.total429s - p.total429sNow)
		hs.savedRequests, hs.saved429s = m.TotalRequests, m.Total429s
		hs.retryAftersUnsaved -= uint8(min(len(p.newRetryAfters), int(hs.retryAftersUnsaved)))
		hs.mu.Unlock()
	}
	t.savedGen = gen
	t.lastSave = now
	t.hasSaved = true
	return nil
}

// mergeEntry merges one process's pending entry into the file's entry f (zero if
// absent): counts add the deltas, recovery times append the new ones, and the learned
// state comes from whichever side was updated last.
func mergeEntry(f ProviderBehavior, p pending) ProviderBehavior {
	mine := p.b
	out := mine
	if f.UpdatedAt.After(mine.UpdatedAt) {
		out = f.clone()
		out.ConfiguredRPS = firstPositive(f.ConfiguredRPS, mine.ConfiguredRPS)
	}
	out.Provider, out.Host = mine.Provider, mine.Host
	out.TotalRequests = max(f.TotalRequests, 0) + p.newRequests
	out.Total429s = max(f.Total429s, 0) + p.new429s
	rts := append(append([]float64{}, f.RecoveryTimes...), p.newRetryAfters...)
	if len(rts) > maxRecoveryTimes {
		rts = rts[len(rts)-maxRecoveryTimes:]
	}
	out.RecoveryTimes = rts
	out.Last429At = laterTime(f.Last429At, mine.Last429At)
	if f.UpdatedAt.After(mine.UpdatedAt) {
		out.UpdatedAt = f.UpdatedAt
	}
	return out
}

func firstPositive(a, b float64) float64 {
	if a > 0 {
		return a
	}
	return b
}

func laterTime(a, b *time.Time) *time.Time {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		t := *b
		return &t
	case b == nil || a.After(*b):
		t := *a
		return &t
	default:
		t := *b
		return &t
	}
}

// SaveIfDue saves when something changed since the last save and at least SaveEvery has
// passed since it. Call it freely (for example after each work).
func (t *Tracker) SaveIfDue() error {
	t.saveMu.Lock()
	due := t.gen.Load() != t.savedGen && (!t.hasSaved || t.clk.Now().Sub(t.lastSave) >= t.cfg.SaveEvery)
	t.saveMu.Unlock()
	if !due {
		return nil
	}
	return t.Save()
}

// Reset removes one entry (key "provider@host") or, with key "", every entry from the
// learning file, under the same lock as Save; clk stamps the file and paces the wait
// for the lock (nil means clock.Real). It returns how many entries it removed; a
// missing file removes nothing. A corrupt file is left as it is and reported.
func Reset(path string, key string, clk clock.Clock) (removed int, err error) {
	if clk == nil {
		clk = clock.Real{}
	}
	err = withFileLock(clk, path, func() error {
		file, err := Load(path)
		if err != nil {
			return err
		}
		if key == "" {
			removed = len(file.Providers)
			clear(file.Providers)
		} else if _, ok := file.Providers[key]; ok {
			delete(file.Providers, key)
			removed = 1
		}
		if removed == 0 {
			return nil
		}
		file.UpdatedAt = clk.Now().UTC()
		return writeFileAtomic(path, file)
	})
	return removed, err
}

// withFileLock runs fn holding an exclusive advisory lock on path+".lock", creating the
// directory when needed. It waits up to lockTimeout, measured on clk, for another
// process's lock.
func withFileLock(clk clock.Clock, path string, fn func() error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("provider learning: cannot create directory %s: %w", dir, err)
	}
	lf, err := fileperm.OpenLock(path+".lock", fileperm.Keep(path, fileperm.Private))
	if err != nil {
		return fmt.Errorf("provider learning: cannot write in %s (read-only or no permission?): %w", dir, err)
	}
	defer lf.Close()
	if err := fileperm.LockWait(context.Background(), clk, lf, fileperm.LockExclusive, lockTimeout); err != nil {
		return fmt.Errorf("provider learning: lock %s: %w", lf.Name(), err)
	}
	defer fileperm.Unlock(lf)
	return fn()
}

// writeFileAtomic writes file as indented JSON through a synced temporary file in the
// same directory, renamed over path, then syncs the directory. A new file is 0600
// (fileperm.Private: the file is per-user state, see docs/provider-learning.md); an
// existing file keeps its mode, so a mode the user chose survives every save.
func writeFileAtomic(path string, file *File) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(file); err != nil {
		return fmt.Errorf("provider learning: encode: %w", err)
	}
	perm := fileperm.Keep(path, fileperm.Private)
	err := fileperm.WriteAtomic(path, perm, func(f *os.File) error {
		if _, err := f.Write(buf.Bytes()); err != nil {
			return err
		}
		return f.Chmod(perm) // exactly the kept mode, whatever the umask
	})
	if err != nil {
		return fmt.Errorf("provider learning: %w (read-only or no permission?)", err)
	}
	return nil
}
