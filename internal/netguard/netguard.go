// Package netguard refuses connections to addresses a run must never reach. By default
// those are the link-local ranges and the cloud instance-metadata services: a hostile or
// broken landing page that redirects to 169.254.169.254 must not make contentdl fetch
// (and perhaps keep) a cloud VM's credentials.
//
// The guard checks at dial time, on the address the connection is about to use after
// name resolution, for every connection the transport opens: the first request, every
// redirect hop, every retry. A name that resolves to a public address for one lookup
// and to a denied one for the next (DNS rebinding) is therefore refused on the second.
//
// When a request goes through a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), the proxy
// resolves the target's name and the dialer only ever sees the proxy's address. Proxy
// then checks the target URL's host before the request is handed over: an IP literal,
// in any form the proxy may read as an address (including the inet_aton forms
// 2852039166, 0xa9fea9fe and 0251.0376.0251.0376), or a name that resolves locally to a
// denied address. The proxy's own address is the operator's choice and is not checked.
//
// An address matches a list when any of its forms does: the address itself, the IPv4
// address inside an IPv4-mapped IPv6 address (::ffff:169.254.169.254) or inside the
// NAT64 well-known prefix (64:ff9b::a9fe:a9fe), and, for the unspecified addresses
// 0.0.0.0 and ::, the loopback address that connecting to them reaches. The allow list
// overrides the deny list.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// defaultDeny is the deny list when the configuration sets none: IPv4 link-local (it
// holds 169.254.169.254, the metadata service of AWS, Google Cloud, Azure, Oracle Cloud,
// OpenStack and DigitalOcean), IPv6 link-local, the IPv6 metadata address of AWS EC2,
// and Alibaba Cloud's metadata address.
var defaultDeny = []string{"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"}

// DefaultDeny returns the default deny list as CIDR text, in a new slice.
func DefaultDeny() []string { return append([]string(nil), defaultDeny...) }

// nat64 is the NAT64 well-known prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d
// through a NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// ParsePrefix reads one deny or allow entry: a CIDR ("10.0.0.0/8", "fc00::/7") or a
// single address ("100.100.100.200", "fd00:ec2::254"), which stands for itself alone.
// Bits beyond the prefix length are cleared (10.1.2.3/8 is 10.0.0.0/8), and an
// IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) becomes its IPv4 form. Zones are
// refused: a zone names an interface, not a range.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errors.New("a zone (%…) names an interface, not a range")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("not a valid CIDR")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// MustParsePrefixes parses entries that are known to be valid (the defaults, or a
// validated configuration), panicking otherwise.
func MustParsePrefixes(entries []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			panic(fmt.Sprintf("netguard: %q: %v", e, err))
		}
		out = append(out, p)
	}
	return out
}

// BlockedError is a connection the guard refused. Its BlockedAddress method is the
// behaviour internal/policy classifies as "blocked_address", a permanent failure.
type BlockedError struct {
	Host string       // the host name or address literal the request named
	Addr netip.Addr   // the address that was refused
	Rule netip.Prefix // the network.deny entry it matched
}

func (e *BlockedError) Error() string {
	what := e.Addr.String()
	if e.Host != "" && e.Host != what {
		what = e.Host + " (" + what + ")"
	}
	return "connection to " + what + " refused: the address is in network.deny " + e.Rule.String()
}

// BlockedAddress reports that the address, not the network, stopped the request.
func (*BlockedError) BlockedAddress() bool { return true }

// Lookup resolves a host name to its addresses.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// Guard decides which addresses may be reached. It is safe for concurrent use.
type Guard struct {
	deny, allow []netip.Prefix
	log         *slog.Logger
	lookup      Lookup

	logged  sync.Map // host → struct{}: a refusal is logged once per host
	proxies sync.Map // proxy "host:port" → struct{}: the operator's proxies, never checked
}

// New returns a guard that refuses deny unless allow also matches. An empty deny list
// refuses nothing. logger (nil = discard) gets one warning per refused host. lookup
// resolves target names for the proxy pre-check; nil means the system resolver.
func New(deny, allow []netip.Prefix, logger *slog.Logger, lookup Lookup) *Guard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return &Guard{deny: deny, allow: allow, log: logger, lookup: lookup}
}

// Default returns a guard with the default deny list and nothing allowed beyond it.
func Default(logger *slog.Logger) *Guard {
	return New(MustParsePrefixes(defaultDeny), nil, logger, nil)
}

// forms lists the addresses a connection to a may reach.
func forms(a netip.Addr) []netip.Addr {
	a = a.WithZone("").Unmap()
	out := []netip.Addr{a}
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		out = append(out, netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if a.IsUnspecified() {
		if a.Is4() {
			out = append(out, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
		} else {
			out = append(out, netip.IPv6Loopback())
		}
	}
	return out
}

func match(list []netip.Prefix, fs []netip.Addr) (netip.Prefix, bool) {
	for _, p := range list {
		for _, a := range fs {
			if p.Contains(a) {
				return p, true
			}
		}
	}
	return netip.Prefix{}, false
}

// Check reports whether a is refused, and the deny entry it matched.
func (g *Guard) Check(a netip.Addr) (rule netip.Prefix, denied bool) {
	fs := forms(a)
	rule, denied = match(g.deny, fs)
	if !denied {
		return netip.Prefix{}, false
	}
	if _, allowed := match(g.allow, fs); allowed {
		return netip.Prefix{}, false
	}
	return rule, true
}

// report logs a refusal once per host.
func (g *Guard) report(e *BlockedError) {
	key := e.Host
	if key == "" {
		key = e.Addr.String()
	}
	if _, seen := g.logged.LoadOrStore(key, struct{}{}); seen {
		return
	}
	g.log.Warn("refusing to connect to a denied address; requests to this host fail with blocked_address (see network.deny and network.allow)",
		"host", key, "addr", e.Addr.String(), "rule", e.Rule.String())
}

// control is a net.Dialer ControlContext: it runs for every address the dialer tries,
// after name resolution and before connect.
func (g *Guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	if !strings.HasPrefix(network, "tcp") && !strings.HasPrefix(network, "udp") {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		// Not reachable for a TCP dial (the dialer always passes an address); refuse
		// rather than guess.
		return fmt.Errorf("netguard: cannot check address %q: %w", address, err)
	}
	if rule, denied := g.Check(a); denied {
		return &BlockedError{Addr: a.WithZone(""), Rule: rule}
	}
	return nil
}

// DialContext returns a dial function for http.Transport.DialContext: d's dial with the
// address check added (after d's own Control or ControlContext, if any, which still
// run). A refused dial returns an error wrapping *BlockedError and is logged once per
// host. Dials to the proxies seen by Proxy are not checked.
func (g *Guard) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	plain := *d
	guarded := *d
	prevCtx, prev := d.ControlContext, d.Control
	guarded.Control = nil
	guarded.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := g.control(ctx, network, address, c); err != nil {
			return err
		}
		switch {
		case prevCtx != nil:
			return prevCtx(ctx, network, address, c)
		case prev != nil:
			return prev(network, address, c)
		}
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := g.proxies.Load(addr); ok {
			return plain.DialContext(ctx, network, addr)
		}
		conn, err := guarded.DialContext(ctx, network, addr)
		var be *BlockedError
		if err != nil && errors.As(err, &be) {
			host, _, serr := net.SplitHostPort(addr)
			if serr != nil {
				host = addr
			}
			be.Host = strings.Trim(host, "[]")
			g.report(be)
		}
		return conn, err
	}
}

// Proxy wraps a Transport.Proxy function (such as http.ProxyFromEnvironment). For a
// request that next sends through a proxy, it first checks the target host with
// CheckHost and fails the request with a *BlockedError when the host is refused. It
// returns nil when next is nil.
func (g *Guard) Proxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if next == nil {
		return nil
	}
	return func(req *http.Request) (*url.URL, error) {
		pu, err := next(req)
		if err != nil || pu == nil {
			return pu, err
		}
		g.proxies.Store(proxyAddr(pu), struct{}{})
		if err := g.CheckHost(req.Context(), req.URL.Hostname()); err != nil {
			return nil, err
		}
		return pu, nil
	}
}

// proxyAddr is the "host:port" the transport dials for proxy URL u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// CheckHost checks a URL's host before it is handed to a proxy: an address literal in
// any form (see ParseHostAddr), or a name whose local resolution yields a refused
// address. A name that does not resolve locally passes: behind a proxy, often only the
// proxy can resolve names, and the guard cannot see what it will reach.
func (g *Guard) CheckHost(ctx context.Context, host string) error {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if a, ok := ParseHostAddr(name); ok {
		if rule, denied := g.Check(a); denied {
			e := &BlockedError{Host: host, Addr: a.WithZone(""), Rule: rule}
			g.report(e)
			return e
		}
		return nil
	}
	addrs, err := g.lookup(ctx, name)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if rule, denied := g.Check(a); denied {
			e := &BlockedError{Host: host, Addr: a.WithZone(""), Rule: rule}
			g.report(e)
			return e
		}
	}
	return nil
}

// ParseHostAddr reads a URL host as an IP address the way a proxy or a C resolver
// might: standard IPv4 and IPv6 text (with or without brackets or a zone), and the
// inet_aton forms of IPv4 in which each of one to four parts is decimal, octal (leading
// 0) or hexadecimal (0x), the last part filling the remaining bytes: 2852039166,
// 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518. It reports false for a host name.
func ParseHostAddr(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	return parseInetAton(host)
}

func parseInetAton(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || strings.ContainsAny(p, "+-_") {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
