package download

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

func spoolRunner(t testing.TB, maxBytes int64) *Runner {
	t.Helper()
	r := New(Options{Out: t.TempDir(), MaxBytes: maxBytes}, Deps{})
	if err := r.store.prepare(); err != nil {
		t.Fatal(err)
	}
	return r
}

func tempFiles(t *testing.T, r *Runner) int {
	t.Helper()
	ents, err := os.ReadDir(r.store.tmpDir())
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestSpool checks what spool keeps of a body (file, size, sha256, head, tail)
// against the body itself, whatever sizes the reads come in, up to max_bytes.
func TestSpool(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdefghij"), 30_000) // 600,000 bytes: several buffers
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(body) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body[:5000])) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(body)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(body)) },
	}
	for name, rd := range readers {
		t.Run(name, func(t *testing.T) {
			want := body
			if name == "one byte" {
				want = body[:5000]
			}
			wantSum := sha256.Sum256(want)
			r := spoolRunner(t, int64(len(body)))
			sp, err := r.spool(rd())
			if err != nil {
				t.Fatal(err)
			}
			defer discard(sp.tmp)
			got, err := os.ReadFile(sp.tmp.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || sp.n != int64(len(want)) {
				t.Fatalf("file has %d bytes (n=%d), want the %d of the body", len(got), sp.n, len(want))
			}
			if sp.sum != hex.EncodeToString(wantSum[:]) {
				t.Errorf("sum %s, want %s", sp.sum, hex.EncodeToString(wantSum[:]))
			}
			if !bytes.Equal(sp.head, want[:sniffLen]) || !bytes.Equal(sp.tail, want[len(want)-tailLen:]) {
				t.Errorf("head %d bytes, tail %d bytes: not the body's first %d and last %d", len(sp.head), len(sp.tail), sniffLen, tailLen)
			}
		})
	}
}

// TestSpoolStopsPastMaxBytes: a body of exactly max_bytes is kept; one byte more is
// too_large, read no further than that byte, and leaves no temp file.
func TestSpoolStopsPastMaxBytes(t *testing.T) {
	const maxBytes = 300_000
	r := spoolRunner(t, maxBytes)
	sp, err := r.spool(bytes.NewReader(make([]byte, maxBytes)))
	if err != nil || sp.n != maxBytes {
		t.Fatalf("a body of max_bytes: n=%v err=%v", sp, err)
	}
	discard(sp.tmp)
	src := bytes.NewReader(make([]byte, 10*maxBytes))
	if _, err := r.spool(src); !errors.Is(err, errTooLarge) {
		t.Fatalf("a larger body: err %v, want errTooLarge", err)
	}
	if read := 10*maxBytes - src.Len(); read != maxBytes+1 {
		t.Errorf("read %d bytes of the larger body, want max_bytes+1 = %d", read, maxBytes+1)
	}
	if n := tempFiles(t, r); n != 0 {
		t.Errorf("%d temp files left", n)
	}
}

// TestSpoolReturnsReadErrorsAsTheyCame: the retry loop recognises a body failure by
// its type, so spool must not wrap it; the temp file goes.
func TestSpoolReturnsReadErrorsAsTheyCame(t *testing.T) {
	r := spoolRunner(t, 1<<20)
	boom := errors.New("reset")
	_, err := r.spool(io.MultiReader(bytes.NewReader(make([]byte, 70_000)), iotest.ErrReader(boom)))
	if err != boom { //nolint:errorlint // the very error, unwrapped, is the contract
		t.Fatalf("err %v, want the reader's own error", err)
	}
	if n := tempFiles(t, r); n != 0 {
		t.Errorf("%d temp files left", n)
	}
}

// BenchmarkSpool is one 256 KiB body through spool (temp file, SHA-256, head and
// tail), as in the throughput scenario; allocs/op is the per-file allocation count.
func BenchmarkSpool(b *testing.B) {
	body := bytes.Repeat([]byte{'%', 'P', 'D', 'F'}, 64<<10)
	r := spoolRunner(b, 1<<30)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sp, err := r.spool(bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		discard(sp.tmp)
	}
}
