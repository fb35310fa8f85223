package download

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docstokg/contentdl/internal/manifest"
	"github.com/docstokg/contentdl/internal/openalex"
)

// CheckpointFile is the discovery checkpoint under OUT of a run without a shard
// (CheckpointName gives each shard's).
const CheckpointFile = "discovery.checkpoint.json"

// ReasonBudgetExhausted is the summary's stop reason (and a work's miss reason) when
// openalex.max_cost_usd stopped discovery or a paid download.
const ReasonBudgetExhausted = "budget_exhausted"

// checkpointData is what CheckpointFile holds.
type checkpointData struct {
	Version  int       `json:"version"`
	Query    string    `json:"query"`  // openalex.Client.QueryKey of the search
	Cursor   string    `json:"cursor"` // the cursor of the earliest page with unfinished works
	Page     int       `json:"page"`   // that page's number in the run that wrote it
	Complete bool      `json:"complete"`
	Updated  time.Time `json:"updated_at"`
}

// checkpoint tracks which discovery pages still have works in flight, and keeps
// CheckpointFile pointing at the earliest of them, so that a run that stops
// (interrupt, crash, spent budget, OpenAlex quota) is resumed by the next one from
// that page instead of from cursor "*", without paying again for the pages before it.
// Works of that page that were finished are skipped by resume as usual.
type checkpoint struct {
	path  string
	query string
	now   func() time.Time

	mu      sync.Mutex
	cursors map[int]string // page → the cursor that fetched it
	pending map[int]int    // page → works delivered and not yet finished
	pageOf  map[string]int // work id → page
	current int            // the latest page fetched
	saved   string         // the cursor last written
	err     error          // the first write error (logged once by the runner)
}

// openCheckpoint reads the checkpoint at path for query. It returns the cursor to resume
// from ("" to start at the beginning): only a checkpoint of the same query that did
// not complete is resumed.
func openCheckpoint(path, query string, now func() time.Time) (*checkpoint, string) {
	cp := &checkpoint{path: path, query: query, now: now,
		cursors: map[int]string{}, pending: map[int]int{}, pageOf: map[string]int{}}
	data, err := os.ReadFile(cp.path)
	if err != nil {
		return cp, ""
	}
	var d checkpointData
	if json.Unmarshal(data, &d) != nil || d.Version != 1 || d.Query != query || d.Complete || d.Cursor == "" {
		return cp, ""
	}
	return cp, d.Cursor
}

// onPage records a page fetched with cursor.
func (cp *checkpoint) onPage(cursor string, page int, _ string) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.cursors[page] = cursor
	cp.current = page
	cp.saveLocked(false)
}

// delivered records that work id came from the latest page.
func (cp *checkpoint) delivered(id string) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.pageOf[id] = cp.current
	cp.pending[cp.current]++
}

// finished records that work id has its manifest record.
func (cp *checkpoint) finished(id string) {
	if cp == nil {
		return
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	page, ok := cp.pageOf[id]
	if !ok {
		return
	}
	delete(cp.pageOf, id)
	if cp.pending[page]--; cp.pending[page] <= 0 {
		delete(cp.pending, page)
		cp.saveLocked(false)
	}
}

// complete marks the search as paged to its end with every work finished: the next
// run with this query starts from the beginning again.
func (cp *checkpoint) complete() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.saveLocked(true)
}

// resumeCursorLocked is the cursor of the earliest page with unfinished works, or,
// when every delivered work is finished, the latest page's.
func (cp *checkpoint) resumeCursorLocked() (string, int) {
	low := 0
	for p := range cp.pending {
		if low == 0 || p < low {
			low = p
		}
	}
	if low != 0 {
		return cp.cursors[low], low
	}
	// Every delivered work is finished; the latest page may still have works to
	// deliver (or the run stopped between its works), so it is fetched again.
	return cp.cursors[cp.current], cp.current
}

func (cp *checkpoint) saveLocked(done bool) {
	cursor, page := cp.resumeCursorLocked()
	if !done && (cursor == cp.saved || cursor == "") {
		return
	}
	d := checkpointData{Version: 1, Query: cp.query, Cursor: cursor, Page: page, Complete: done, Updated: cp.now().UTC()}
	data, err := json.MarshalIndent(d, "", "  ")
	if err == nil {
		err = writeFile(cp.path, append(data, '\n'))
	}
	if err != nil {
		if cp.err == nil {
			cp.err = err
		}
		return
	}
	cp.saved = cursor
}

// writeError returns the first failed write, if any.
func (cp *checkpoint) writeError() error {
	if cp == nil {
		return nil
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.err
}

// search runs the OpenAlex search from the checkpoint (discover calls it for a
// search run), and marks the checkpoint complete when paging ended normally.
func (r *Runner) search(ctx context.Context, emit func(openalex.Work) error) error {
	if r.opts.DryRun {
		// A dry run saves nothing: a checkpoint of it would make the next real run
		// skip the pages it looked at.
		return r.deps.OpenAlex.SearchFrom(ctx, r.opts.Query, openalex.Paging{Keep: r.opts.Shard.Contains}, r.setTotal, emit)
	}
	key, err := r.deps.OpenAlex.QueryKey(r.opts.Query)
	if err != nil {
		return err
	}
	name := CheckpointName(r.opts.Shard)
	cp, from := openCheckpoint(filepath.Join(r.opts.Out, name), key, r.deps.Clock.Now)
	if r.opts.NoResume {
		from = ""
	}
	if from != "" {
		r.log.Info("resuming discovery from the saved cursor", "checkpoint", name)
	}
	r.mu.Lock()
	r.cp = cp
	r.mu.Unlock()
	err = r.deps.OpenAlex.SearchFrom(ctx, r.opts.Query, openalex.Paging{From: from, OnPage: cp.onPage, Keep: r.opts.Shard.Contains}, r.setTotal,
		func(w openalex.Work) error {
			r.mu.Lock()
			dup := r.seenWorks[w.ID]
			r.mu.Unlock()
			if w.ID != "" && !dup {
				cp.delivered(w.ID) // emit drops ids without records: they would never finish
			}
			return emit(w)
		})
	if werr := cp.writeError(); werr != nil {
		r.log.Warn("discovery checkpoint not written; a resumed run will page from the start", "err", werr)
	}
	return err
}

// finishCheckpoint marks the checkpoint complete once the run found every work of
// the search and gave each its record.
func (r *Runner) finishCheckpoint(discErr error, interrupted bool) {
	r.mu.Lock()
	cp := r.cp
	r.mu.Unlock()
	if cp == nil || discErr != nil || interrupted {
		return
	}
	cp.mu.Lock()
	pending := len(cp.pending)
	cp.mu.Unlock()
	if pending == 0 {
		cp.complete()
	}
}

// noteBudget turns a discovery stopped by the budget into the summary's stop reason
// (exit 3; a later run resumes from the checkpoint) instead of a discovery error. It
// returns the error left to report.
func (r *Runner) noteBudget(sum *Summary, discErr error) error {
	r.mu.Lock()
	spent := r.budgetSpent
	r.mu.Unlock()
	if errors.Is(discErr, openalex.ErrBudgetExhausted) {
		spent = true
		r.log.Warn("OpenAlex budget reached: discovery stopped; a later run resumes from the checkpoint",
			"max_cost_usd", r.deps.Ledger.Usage().MaxCostUSD, "err", discErr.Error())
		discErr = nil
	}
	if spent {
		sum.StopReason = ReasonBudgetExhausted
	}
	if r.deps.Ledger != nil {
		u := r.deps.Ledger.Usage()
		sum.OpenAlex = &u
	}
	return discErr
}

// checkpointFinished tells the checkpoint that work id has its record. A work that
// ended deferred, or missed for a reason that may pass, keeps its page open: the next
// run resumes discovery at that page, so it sees the work again and retries it.
func (r *Runner) checkpointFinished(id string, res result) {
	if res.class == manifest.ClassDeferred || (res.class == manifest.ClassMiss && res.transient) {
		return
	}
	r.mu.Lock()
	cp := r.cp
	r.mu.Unlock()
	cp.finished(id)
}
