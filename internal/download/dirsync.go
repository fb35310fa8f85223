package download

import "sync"

// dirSync makes renames into one folder durable by fsyncing the folder, on behalf of
// every rename that asked for it, in groups (a database's group commit): a caller
// that arrives while a sync is running waits for the next one, which starts after its
// rename and so covers it; everyone who arrived during one sync shares the next. With
// 16 workers saving at once, one folder fsync serves several files, where one per file
// would queue them behind each other.
type dirSync struct {
	mu      sync.Mutex
	waiting []chan struct{}
	running bool
}

// sync returns once a fsync of the folder at path (always the same for one dirSync)
// that began after the call has ended. It is best effort, like every folder sync of
// contentdl (fileperm.WriteAtomic): a filesystem that cannot sync a folder is not an
// error.
func (d *dirSync) sync(path string) {
	done := make(chan struct{})
	d.mu.Lock()
	d.waiting = append(d.waiting, done)
	if !d.running {
		d.running = true
		go d.flush(path)
	}
	d.mu.Unlock()
	<-done
}

// flush syncs the folder until no one is waiting, then ends.
func (d *dirSync) flush(path string) {
	d.mu.Lock()
	for len(d.waiting) > 0 {
		group := d.waiting
		d.waiting = nil
		d.mu.Unlock()
		syncFolder(path)
		for _, done := range group {
			close(done)
		}
		d.mu.Lock()
	}
	d.running = false
	d.mu.Unlock()
}

// syncFolder is the folder sync dirSync runs (a variable so tests can watch it).
var syncFolder = syncDir
