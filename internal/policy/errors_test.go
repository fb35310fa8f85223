package policy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testClient returns a client that never reuses connections, so every request opens a
// fresh one and the transport does not silently retry on a stale connection.
func testClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

// get performs a GET and, when the request itself succeeds, reads the whole body, so
// that errors of either phase are returned.
func get(ctx context.Context, c *http.Client, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

// rawServer serves each TCP connection on loopback with handle.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String() + "/"
}

// readRequestHead consumes the request line and headers so that closing the connection
// does not race the client's write.
func readRequestHead(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == "\r\n" {
			return
		}
	}
}

// TestClassifyRealErrors produces each error kind against loopback listeners.
func TestClassifyRealErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens on the port any more
		err = get(context.Background(), testClient(5*time.Second), "http://"+addr+"/")
		assertKind(t, err, ErrConnRefused)
	})

	t.Run("closed before response", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		}))
		defer srv.Close()
		assertKind(t, get(context.Background(), testClient(5*time.Second), srv.URL), ErrReset)
	})

	t.Run("reset by peer", func(t *testing.T) {
		u := rawServer(t, func(c net.Conn) {
			readRequestHead(c)
			c.(*net.TCPConn).SetLinger(0) // close with RST
			c.Close()
		})
		assertKind(t, get(context.Background(), testClient(5*time.Second), u), ErrReset)
	})

	t.Run("truncated body", func(t *testing.T) {
		u := rawServer(t, func(c net.Conn) {
			readRequestHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
			c.Close()
		})
		err := get(context.Background(), testClient(5*time.Second), u)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("expected io.ErrUnexpectedEOF, got %v", err)
		}
		assertKind(t, err, ErrReset)
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := quietTLSServer()
		defer srv.Close()
		// A client without the test CA does not trust the server.
		assertKind(t, get(context.Background(), testClient(5*time.Second), srv.URL), ErrTLS)
	})

	t.Run("wrong hostname", func(t *testing.T) {
		srv := quietTLSServer()
		defer srv.Close()
		c := srv.Client() // trusts the test CA, whose certificate names 127.0.0.1 and example.com
		u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		if _, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(u, "https://")); err != nil {
			t.Skipf("localhost does not resolve: %v", err)
		}
		err := get(context.Background(), c, u)
		var hostErr x509.HostnameError
		if !errors.As(err, &hostErr) {
			t.Errorf("expected x509.HostnameError, got %v", err)
		}
		assertKind(t, err, ErrTLS)
	})

	t.Run("https to a plain server", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer srv.Close()
		err := get(context.Background(), testClient(5*time.Second), strings.Replace(srv.URL, "http://", "https://", 1))
		if !errors.Is(err, http.ErrSchemeMismatch) {
			t.Errorf("expected http.ErrSchemeMismatch, got %v", err)
		}
		assertKind(t, err, ErrTLS)
	})

	t.Run("https to a non-TLS service", func(t *testing.T) {
		u := rawServer(t, func(c net.Conn) {
			io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
			c.Close()
		})
		err := get(context.Background(), testClient(5*time.Second), strings.Replace(u, "http://", "https://", 1))
		var rh tls.RecordHeaderError
		if !errors.As(err, &rh) {
			t.Errorf("expected tls.RecordHeaderError, got %v", err)
		}
		assertKind(t, err, ErrTLS)
	})

	t.Run("canceled context", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assertKind(t, get(ctx, testClient(5*time.Second), srv.URL), ErrCanceled)
	})

	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel() // the client gives up while the server is still working
			<-r.Context().Done()
		}))
		defer srv.Close()
		assertKind(t, get(ctx, testClient(5*time.Second), srv.URL), ErrCanceled)
	})

	t.Run("ftp scheme", func(t *testing.T) {
		assertKind(t, get(context.Background(), testClient(5*time.Second), "ftp://127.0.0.1/file.pdf"), ErrBadScheme)
	})

	t.Run("client timeout awaiting headers", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers; returns when the client hangs up
		}))
		defer srv.Close()
		assertKind(t, get(context.Background(), testClient(50*time.Millisecond), srv.URL), ErrTimeout)
	})

	t.Run("client timeout reading body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, "partial")
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}))
		defer srv.Close()
		assertKind(t, get(context.Background(), testClient(50*time.Millisecond), srv.URL), ErrTimeout)
	})

	t.Run("context deadline", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assertKind(t, get(ctx, testClient(0), srv.URL), ErrTimeout)
	})
}

// TestClassifyWrapped checks sentinel and typed errors, bare and wrapped.
func TestClassifyWrapped(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "https://example.org/x.pdf", Err: err} }
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	cases := []struct {
		name string
		err  error
		want ErrKind
	}{
		{"nil", nil, ErrNone},
		{"canceled", context.Canceled, ErrCanceled},
		{"too slow", fmt.Errorf("read body: %w", ErrBodyTooSlow), ErrTooSlow},
		{"wrapped canceled", fmt.Errorf("fetch: %w", urlErr(context.Canceled)), ErrCanceled},
		{"deadline", context.DeadlineExceeded, ErrTimeout},
		{"os deadline", urlErr(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), ErrTimeout},
		{"ETIMEDOUT", urlErr(opErr(syscall.ETIMEDOUT)), ErrTimeout},
		{"timeout deep in a wrap", urlErr(fmt.Errorf("read body: %w", timeoutErr{})), ErrTimeout},
		{"timeout in a join", errors.Join(errors.New("x"), timeoutErr{}), ErrTimeout},
		{"refused", urlErr(opErr(syscall.ECONNREFUSED)), ErrConnRefused},
		{"reset", urlErr(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), ErrReset},
		{"aborted", urlErr(opErr(syscall.ECONNABORTED)), ErrReset},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), ErrReset},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), ErrReset},
		{"EOF", urlErr(io.EOF), ErrReset},
		{"sentinel bad scheme", fmt.Errorf("candidate mailto:x: %w", ErrUnsupportedScheme), ErrBadScheme},
		{"net/http bad scheme", urlErr(errors.New(`unsupported protocol scheme "gopher"`)), ErrBadScheme},
		{"record header", urlErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), ErrTLS},
		{"scheme mismatch", urlErr(http.ErrSchemeMismatch), ErrTLS},
		{"verification", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), ErrTLS},
		{"unknown authority", x509.UnknownAuthorityError{}, ErrTLS},
		{"hostname", fmt.Errorf("x: %w", x509.HostnameError{Host: "example.org"}), ErrTLS},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, ErrTLS},
		{"alert", tls.AlertError(40), ErrTLS},
		{"remote alert", urlErr(&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}), ErrTLS},
		{"other", errors.New("something odd"), ErrOther},
		{"blocked address", urlErr(&net.OpError{Op: "dial", Err: blockedErr{true}}), ErrBlocked},
		{"blocked address in a join", errors.Join(errors.New("x"), fmt.Errorf("dial: %w", blockedErr{true})), ErrBlocked},
		{"blocker that does not block", urlErr(opErr(blockedErr{false})), ErrOther},
		{"DNS failure", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}}), ErrOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertKind(t, tc.err, tc.want) })
	}
}

// quietTLSServer starts an httptest TLS server that does not log the handshake failures
// the tests provoke.
func quietTLSServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

// blockedErr has the AddressBlocker behaviour, as internal/netguard's error does.
type blockedErr struct{ blocked bool }

func (blockedErr) Error() string          { return "address blocked" }
func (e blockedErr) BlockedAddress() bool { return e.blocked }

// timeoutErr is a bare error that only says it is a timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func assertKind(t *testing.T, err error, want ErrKind) {
	t.Helper()
	if got := ClassifyError(err); got != want {
		t.Errorf("ClassifyError(%v) = %s, want %s", err, got, want)
	}
}
