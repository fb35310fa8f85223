package download

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// copyBufSize is the chunk a body is copied in. Larger than io.Copy's 32 KiB, it
// halves the read and write system calls per file, which dominate a fast download.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// spooled is a body streamed into a temp file under OUT/.tmp.
type spooled struct {
	tmp  *os.File
	n    int64
	sum  string // hex sha256
	head []byte // the first sniffLen bytes
	tail []byte // the last tailLen bytes
}

// errTooLarge says a body went past download.max_bytes; the copy stopped there.
var errTooLarge = errors.New("too_large")

// spool streams rd into a new temp file, hashing it and keeping its head and tail as it
// goes, never holding the body in memory. It stops one byte past max_bytes (a gzip or
// archive bomb ends there) with errTooLarge. On any error the temp file is removed;
// read errors are returned as they came, so a *fetch.BodyError still reaches the retry
// loop.
func (r *Runner) spool(rd io.Reader) (*spooled, error) {
	tmp, err := r.store.createTemp()
	if err != nil {
		return nil, fmt.Errorf("temp file: %w", err)
	}
	h := sha256.New()
	var head headBuffer
	var tail tailBuffer
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h, &head, &tail), io.LimitReader(rd, r.opts.MaxBytes+1), *bp)
	copyBufs.Put(bp)
	if err == nil && n > r.opts.MaxBytes {
		err = errTooLarge
	}
	if err != nil {
		discard(tmp)
		return nil, err
	}
	return &spooled{tmp: tmp, n: n, sum: hexSum(h), head: head.buf, tail: tail.Bytes()}, nil
}
