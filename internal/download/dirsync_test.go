package download

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDirSyncWaitsForASyncThatStartedAfterIt: a caller that arrives while a folder
// sync is running must not return with it (that sync may have begun before the
// caller's rename), but with the next; callers that arrive together share one sync.
func TestDirSyncWaitsForASyncThatStartedAfterIt(t *testing.T) {
	var syncs atomic.Int32
	first := make(chan struct{})   // closed when the first sync has begun
	release := make(chan struct{}) // lets the first sync end
	orig := syncFolder
	syncFolder = func(string) {
		if syncs.Add(1) == 1 {
			close(first)
			<-release
		}
	}
	t.Cleanup(func() { syncFolder = orig })

	var d dirSync
	firstDone := make(chan struct{})
	go func() { d.sync("PDF"); close(firstDone) }()
	<-first

	var wg sync.WaitGroup
	const late = 5
	returned := make(chan int32, late)
	for range late {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.sync("PDF")
			returned <- syncs.Load()
		}()
	}
	waitQueued(t, &d, late)
	select {
	case n := <-returned:
		t.Fatalf("a caller returned during the sync that began before it (syncs so far: %d)", n)
	default:
	}
	close(release)
	<-firstDone
	wg.Wait()
	close(returned)
	for n := range returned {
		if n < 2 {
			t.Errorf("a late caller returned after %d syncs, want a second one", n)
		}
	}
	if n := syncs.Load(); n > 1+late {
		t.Errorf("%d syncs for %d callers", n, 1+late)
	}
}

// TestDirSyncSharesOneSync: callers queued behind one sync are served by one more.
func TestDirSyncSharesOneSync(t *testing.T) {
	var syncs atomic.Int32
	gate := make(chan struct{})
	orig := syncFolder
	syncFolder = func(string) {
		if syncs.Add(1) == 1 {
			<-gate
		}
	}
	t.Cleanup(func() { syncFolder = orig })
	var d dirSync
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.sync("x") }()
	for syncs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); d.sync("x") }()
	}
	waitQueued(t, &d, 8)
	close(gate)
	wg.Wait()
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d syncs for 1 + 8 callers queued behind it, want 2", n)
	}
}

// waitQueued polls until n callers wait for the next sync.
func waitQueued(t *testing.T, d *dirSync, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		got := len(d.waiting)
		d.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCommitSyncsTheFolderBeforeItReturns: the manifest record is written after
// commit returns, so by then the rename must have been made durable.
func TestCommitSyncsTheFolderBeforeItReturns(t *testing.T) {
	var mu sync.Mutex
	var synced []string
	orig := syncFolder
	syncFolder = func(p string) {
		mu.Lock()
		synced = append(synced, p)
		mu.Unlock()
	}
	t.Cleanup(func() { syncFolder = orig })
	s := &store{out: t.TempDir()}
	if err := s.prepare(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindPDF, KindXML, KindHTML} {
		tmp, err := s.createTemp()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.commit(tmp, k, "w."+k.String()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		last := synced[len(synced)-1]
		mu.Unlock()
		if want := filepath.Join(s.out, kindDir(k)); last != want {
			t.Errorf("after commit of a %s file, last folder synced %q, want %q", k, last, want)
		}
	}
}
