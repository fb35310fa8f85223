package netguard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docstokg/contentdl/internal/testkit"
)

func TestParsePrefix(t *testing.T) {
	t.Parallel()
	ok := []struct{ in, want string }{
		{"169.254.0.0/16", "169.254.0.0/16"},
		{" 10.0.0.0/8 ", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"}, // host bits cleared
		{"100.100.100.200", "100.100.100.200/32"},
		{"fd00:ec2::254", "fd00:ec2::254/128"},
		{"FE80::/10", "fe80::/10"},
		{"fc00::/7", "fc00::/7"},
		{"::ffff:169.254.0.0/112", "169.254.0.0/16"}, // IPv4-mapped → IPv4
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::/0", "::/0"},
	}
	for _, tc := range ok {
		p, err := ParsePrefix(tc.in)
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
	}
	for _, bad := range []string{"", "  ", "10.0.0.0/33", "fe80::/129", "10.0.0/8", "example.org", "fe80::1%eth0",
		"fe80::/10%eth0", "169.254.169.254/-1", "http://10.0.0.1/", "10.0.0.0/8,192.168.0.0/16", "2852039166"} {
		if p, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) = %v, want an error", bad, p)
		}
	}
}

func TestDefaultDenyParses(t *testing.T) {
	t.Parallel()
	ps := MustParsePrefixes(DefaultDeny())
	if len(ps) != 4 {
		t.Fatalf("default deny = %v", ps)
	}
	d := DefaultDeny()
	d[0] = "changed"
	if DefaultDeny()[0] != "169.254.0.0/16" {
		t.Error("DefaultDeny shares its backing array")
	}
}

// TestCheckEveryAddressForm runs the default guard, and one that also denies the
// private and loopback ranges with one allowed hole, over every form an address can
// take.
func TestCheckEveryAddressForm(t *testing.T) {
	t.Parallel()
	def := Default(nil)
	strict := New(MustParsePrefixes(append(DefaultDeny(), "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "127.0.0.0/8", "::1/128")),
		MustParsePrefixes([]string{"10.1.2.0/24", "169.254.170.2/32"}), nil, nil)
	cases := []struct {
		addr           string
		def, strict    bool // denied?
		defRule, sRule string
	}{
		// Cloud metadata and link-local, every spelling.
		{"169.254.169.254", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"169.254.0.1", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"169.254.255.255", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"::ffff:169.254.169.254", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"::ffff:a9fe:a9fe", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"0:0:0:0:0:ffff:a9fe:a9fe", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"64:ff9b::169.254.169.254", true, true, "169.254.0.0/16", "169.254.0.0/16"}, // NAT64
		{"64:ff9b::a9fe:a9fe", true, true, "169.254.0.0/16", "169.254.0.0/16"},
		{"fd00:ec2::254", true, true, "fd00:ec2::254/128", "fd00:ec2::254/128"},
		{"FD00:0EC2:0000:0000:0000:0000:0000:0254", true, true, "fd00:ec2::254/128", "fd00:ec2::254/128"},
		{"100.100.100.200", true, true, "100.100.100.200/32", "100.100.100.200/32"},
		{"::ffff:100.100.100.200", true, true, "100.100.100.200/32", "100.100.100.200/32"},
		{"fe80::1", true, true, "fe80::/10", "fe80::/10"},
		{"fe80::1%eth0", true, true, "fe80::/10", "fe80::/10"},
		{"febf:ffff::1", true, true, "fe80::/10", "fe80::/10"},
		// The allowed hole in the strict deny list.
		{"169.254.170.2", true, false, "169.254.0.0/16", ""},
		{"::ffff:169.254.170.2", true, false, "169.254.0.0/16", ""},
		// Just outside the default ranges.
		{"169.253.255.255", false, false, "", ""},
		{"169.255.0.0", false, false, "", ""},
		{"fec0::1", false, false, "", ""},
		{"fd00:ec2::253", false, true, "", "fc00::/7"},
		{"100.100.100.201", false, false, "", ""},
		// Private ranges and loopback: allowed by default, denied by the strict list.
		{"10.0.0.1", false, true, "", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", false, true, "", "10.0.0.0/8"},
		{"10.1.2.3", false, false, "", ""}, // allowed hole
		{"172.16.5.4", false, true, "", "172.16.0.0/12"},
		{"192.168.1.1", false, true, "", "192.168.0.0/16"},
		{"fd12:3456::1", false, true, "", "fc00::/7"},
		{"127.0.0.1", false, true, "", "127.0.0.0/8"},
		{"127.0.0.2", false, true, "", "127.0.0.0/8"},
		{"::1", false, true, "", "::1/128"},
		{"::ffff:127.0.0.1", false, true, "", "127.0.0.0/8"},
		{"0.0.0.0", false, true, "", "127.0.0.0/8"}, // reaches loopback
		{"::", false, true, "", "::1/128"},
		// Public addresses.
		{"93.184.215.14", false, false, "", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", false, false, "", ""},
		{"64:ff9b::93.184.215.14", false, false, "", ""},
	}
	for _, tc := range cases {
		a := netip.MustParseAddr(tc.addr)
		for _, g := range []struct {
			name   string
			g      *Guard
			denied bool
			rule   string
		}{{"default", def, tc.def, tc.defRule}, {"strict", strict, tc.strict, tc.sRule}} {
			rule, denied := g.g.Check(a)
			if denied != g.denied || (denied && rule.String() != g.rule) {
				t.Errorf("%s guard: Check(%s) = %v, %v; want %v, %s", g.name, tc.addr, rule, denied, g.denied, g.rule)
			}
		}
	}
	// An empty deny list refuses nothing.
	open := New(nil, nil, nil, nil)
	if _, denied := open.Check(netip.MustParseAddr("169.254.169.254")); denied {
		t.Error("an empty deny list refused 169.254.169.254")
	}
}

func TestParseHostAddr(t *testing.T) {
	t.Parallel()
	cases := []struct{ host, want string }{
		{"169.254.169.254", "169.254.169.254"},
		{"2852039166", "169.254.169.254"},          // one decimal number
		{"0xa9fea9fe", "169.254.169.254"},          // one hex number
		{"0XA9FEA9FE", "169.254.169.254"},          // upper case
		{"0251.0376.0251.0376", "169.254.169.254"}, // octal parts
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"}, // hex parts
		{"169.254.43518", "169.254.169.254"},       // three parts, the last 16 bits
		{"169.16689662", "169.254.169.254"},        // two parts, the last 24 bits
		{"0xa9.254.0251.0xfe", "169.254.169.254"},  // mixed
		{"0", "0.0.0.0"},
		{"127.1", "127.0.0.1"},
		{"[fd00:ec2::254]", "fd00:ec2::254"},
		{"::ffff:169.254.169.254", "::ffff:169.254.169.254"},
		{"fe80::1%eth0", "fe80::1%eth0"},
	}
	for _, tc := range cases {
		a, ok := ParseHostAddr(tc.host)
		if !ok || a.String() != tc.want {
			t.Errorf("ParseHostAddr(%q) = %v, %v; want %s", tc.host, a, ok, tc.want)
		}
	}
	for _, name := range []string{"", "example.org", "cafe.be", "0x", "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "1.2.65536",
		"4294967296", "08", "0x1g", "1..2", "-1", "+1.2.3.4", "1_000", "metadata.google.internal"} {
		if a, ok := ParseHostAddr(name); ok {
			t.Errorf("ParseHostAddr(%q) = %v, want a name", name, a)
		}
	}
}

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// serveOn starts an HTTP server on addr ("127.0.0.2:0"), counting accepted connections.
func serveOn(t *testing.T, addr string, h http.Handler) (*httptest.Server, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	cl := &countingListener{Listener: ln}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

func client(g *Guard, proxy func(*http.Request) (*url.URL, error)) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: g.DialContext(d), Proxy: g.Proxy(proxy)}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// A redirect from an allowed server to a denied address is refused at dial time: the
// denied server never sees a connection, and the refusal is logged once per host.
func TestDialRefusesRedirectToDeniedAddress(t *testing.T) {
	t.Parallel()
	denied, deniedLn := serveOn(t, "127.0.0.2:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "secret credentials")
	}))
	allowed, _ := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(rw, "fine")
			return
		}
		http.Redirect(rw, r, denied.URL+"/latest/meta-data/", http.StatusFound)
	}))
	var logs testkit.Buffer
	g := New(MustParsePrefixes(append(DefaultDeny(), "127.0.0.0/8")), MustParsePrefixes([]string{"127.0.0.1/32"}),
		slog.New(slog.NewTextHandler(&logs, nil)), nil)
	c := client(g, nil)

	if code, err := get(c, allowed.URL+"/ok"); err != nil || code != 200 {
		t.Fatalf("allowed server: %d, %v", code, err)
	}
	for range 3 {
		_, err := get(c, allowed.URL+"/redirect")
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Fatalf("redirect to a denied address: err = %v, want a *BlockedError", err)
		}
		if be.Host != "127.0.0.2" || be.Addr.String() != "127.0.0.2" || be.Rule.String() != "127.0.0.0/8" {
			t.Errorf("BlockedError = %+v", be)
		}
		var bb interface{ BlockedAddress() bool }
		if !errors.As(err, &bb) || !bb.BlockedAddress() {
			t.Errorf("the error chain lacks the BlockedAddress behaviour: %v", err)
		}
	}
	if _, err := get(c, denied.URL+"/direct"); err == nil {
		t.Error("a direct request to the denied address succeeded")
	}
	if n := deniedLn.n.Load(); n != 0 {
		t.Errorf("the denied server accepted %d connections, want 0", n)
	}
	if n := strings.Count(logs.String(), "refusing to connect"); n != 1 {
		t.Errorf("%d refusal log lines for one host, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "host=127.0.0.2") || !strings.Contains(logs.String(), "rule=127.0.0.0/8") {
		t.Errorf("log = %s", logs.String())
	}
}

// A name is checked on the addresses it resolves to, not on its spelling: localhost
// resolves (through /etc/hosts) to loopback addresses, which this guard denies.
func TestDialChecksResolvedAddressOfAName(t *testing.T) {
	t.Parallel()
	srv, ln := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var logs testkit.Buffer
	g := New(MustParsePrefixes([]string{"127.0.0.0/8", "::1/128"}), nil, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	_, err := get(client(g, nil), "http://localhost:"+port+"/")
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BlockedError", err)
	}
	if be.Host != "localhost" || !be.Addr.IsLoopback() {
		t.Errorf("BlockedError = %+v", be)
	}
	if ln.n.Load() != 0 {
		t.Error("the server accepted a connection")
	}
	if !strings.Contains(logs.String(), "host=localhost") {
		t.Errorf("log = %s", logs.String())
	}
}

// The dialer's own Control still runs after the guard's check, and not at all for a
// refused address.
func TestDialKeepsTheDialersControl(t *testing.T) {
	t.Parallel()
	srv, _ := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {}))
	var calls atomic.Int64
	d := &net.Dialer{Control: func(string, string, syscall.RawConn) error { calls.Add(1); return nil }}
	g := New(MustParsePrefixes([]string{"127.0.0.2/32"}), nil, nil, nil)
	dial := g.DialContext(d)
	conn, err := dial(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := dial(context.Background(), "tcp", "127.0.0.2:1"); err == nil {
		t.Error("dial to a denied address succeeded")
	}
	if calls.Load() != 1 {
		t.Errorf("the dialer's Control ran %d times, want 1", calls.Load())
	}
}

// Behind a proxy the target host is checked before the request reaches the proxy:
// literals in every form, and names that resolve locally to a denied address. Names
// that do not resolve locally, and allowed targets, go to the proxy, whose own
// (loopback) address is dialed even though this guard denies loopback.
func TestProxyPreCheck(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	proxy, proxyLn := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Host)
		mu.Unlock()
		io.WriteString(rw, "via proxy")
	}))
	pu, _ := url.Parse(proxy.URL)
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "metadata.google.internal":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		case "rebind.example":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("fd00:ec2::254")}, nil
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var logs testkit.Buffer
	g := New(MustParsePrefixes(append(DefaultDeny(), "127.0.0.0/8")), nil, slog.New(slog.NewTextHandler(&logs, nil)), lookup)
	c := client(g, http.ProxyURL(pu))

	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://2852039166/latest/meta-data/",
		"http://0xa9fea9fe/",
		"http://0251.0376.0251.0376/",
		"http://169.254.169.254./",
		"http://[::ffff:169.254.169.254]/",
		"http://[fd00:ec2::254]/",
		"http://100.100.100.200/",
		"https://169.254.169.254/", // CONNECT tunnels are checked too
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://METADATA.GOOGLE.INTERNAL./",
		"http://rebind.example/",
		"http://127.0.0.1:8080/", // loopback target denied by this guard
	} {
		_, err := get(c, target)
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Errorf("%s through the proxy: err = %v, want a *BlockedError", target, err)
		}
	}
	mu.Lock()
	if len(seen) != 0 || proxyLn.n.Load() != 0 {
		t.Errorf("the proxy saw %v (%d connections), want nothing", seen, proxyLn.n.Load())
	}
	mu.Unlock()

	for _, target := range []string{"http://public.example/a.pdf", "http://only-the-proxy-resolves.example/b.pdf"} {
		if code, err := get(c, target); err != nil || code != 200 {
			t.Errorf("%s through the proxy: %d, %v", target, code, err)
		}
	}
	mu.Lock()
	if want := []string{"public.example", "only-the-proxy-resolves.example"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("the proxy saw %v, want %v", seen, want)
	}
	mu.Unlock()
	// One line per refused host (169.254.169.254 is named three ways above, each its
	// own host as written).
	if n := strings.Count(logs.String(), "host=metadata.google.internal "); n != 1 {
		t.Errorf("metadata.google.internal logged %d times:\n%s", n, logs.String())
	}
}

func TestProxyNilAndDirect(t *testing.T) {
	t.Parallel()
	g := Default(nil)
	if g.Proxy(nil) != nil {
		t.Error("Proxy(nil) is not nil")
	}
	// No proxy for this request: nothing is checked here (the dial check applies).
	p := g.Proxy(func(*http.Request) (*url.URL, error) { return nil, nil })
	req, _ := http.NewRequest(http.MethodGet, "http://169.254.169.254/", nil)
	if u, err := p(req); u != nil || err != nil {
		t.Errorf("direct request: %v, %v", u, err)
	}
}

func TestProxyAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://proxy.example":        "proxy.example:80",
		"https://proxy.example":       "proxy.example:443",
		"socks5://proxy.example":      "proxy.example:1080",
		"http://10.0.0.1:3128":        "10.0.0.1:3128",
		"http://user:pw@[fd00::1]:81": "[fd00::1]:81",
	} {
		u, _ := url.Parse(in)
		if got := proxyAddr(u); got != want {
			t.Errorf("proxyAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
