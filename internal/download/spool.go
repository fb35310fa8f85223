package download

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// copyBufSize is the chunk a body is read in. Larger than io.Copy's 32 KiB, it lets
// one read take whatever the socket holds, so the reads and writes per file are as
// few as the network allows.
const copyBufSize = 256 << 10

// spoolState is what one body's copy needs besides its temp file: the read buffer
// and the SHA-256 state. Both are reused from body to body through spoolStates, so
// a download allocates neither.
type spoolState struct {
	buf []byte
	sum hash.Hash
}

var spoolStates = sync.Pool{New: func() any {
	return &spoolState{buf: make([]byte, copyBufSize), sum: sha256.New()}
}}

// spooled is a body streamed into a temp file under OUT/.tmp.
type spooled struct {
	tmp  *os.File
	n    int64
	sum  string // hex sha256
	head []byte // the first sniffLen bytes
	tail []byte // the last tailLen bytes

	hb headBuffer // head's storage
}

// errTooLarge says a body went past download.max_bytes; the copy stopped there.
var errTooLarge = errors.New("too_large")

// spool streams rd into a new temp file, hashing it and keeping its head and tail as it
// goes, never holding the body in memory. Each chunk is read once into a pooled
// buffer and from there written to the file, hashed, and offered to the head and tail
// buffers: one copy in from the socket, one out to the file, one pass of SHA-256. It
// stops one byte past max_bytes (a gzip or archive bomb ends there) with errTooLarge.
// On any error the temp file is removed; read errors are returned as they came, so a
// *fetch.BodyError still reaches the retry loop.
func (r *Runner) spool(rd io.Reader) (*spooled, error) {
	tmp, err := r.store.createTemp()
	if err != nil {
		return nil, fmt.Errorf("temp file: %w", err)
	}
	st := spoolStates.Get().(*spoolState)
	defer spoolStates.Put(st)
	st.sum.Reset()
	sp := &spooled{tmp: tmp}
	var tail tailBuffer
	n, err := copyBody(tmp, rd, r.opts.MaxBytes+1, st, &sp.hb, &tail)
	if err == nil && n > r.opts.MaxBytes {
		err = errTooLarge
	}
	if err != nil {
		discard(tmp)
		return nil, err
	}
	sp.n, sp.sum, sp.head, sp.tail = n, hexSum(st.sum), sp.hb.buf, tail.Bytes()
	return sp, nil
}

// copyBody copies at most limit bytes of rd to dst through st's buffer, hashing them
// into st.sum and feeding head and tail. It returns the bytes copied and the first
// error other than io.EOF. It is io.CopyBuffer through io.MultiWriter and
// io.LimitReader, without the three allocations and the interface calls per chunk.
func copyBody(dst io.Writer, rd io.Reader, limit int64, st *spoolState, head *headBuffer, tail *tailBuffer) (int64, error) {
	var n int64
	for n < limit {
		b := st.buf
		if rest := limit - n; rest < int64(len(b)) {
			b = b[:rest]
		}
		nr, rerr := rd.Read(b)
		if nr > 0 {
			chunk := b[:nr]
			nw, werr := dst.Write(chunk)
			if werr == nil && nw != nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, werr
			}
			st.sum.Write(chunk)
			head.add(chunk)
			tail.add(chunk)
			n += int64(nr)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
	return n, nil
}
