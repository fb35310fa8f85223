package netguard

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseHostAddr: any host text parses without panicking; standard address text
// gives exactly netip's answer; a plain decimal number below 2^32 is that IPv4
// address; and whatever parses is checked by the guard without panicking.
func FuzzParseHostAddr(f *testing.F) {
	for _, s := range []string{"169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518",
		"[fd00:ec2::254]", "::ffff:169.254.169.254", "fe80::1%eth0", "example.org", "0x", "1..2", "4294967296", "08"} {
		f.Add(s)
	}
	g := Default(nil)
	f.Fuzz(func(t *testing.T, host string) {
		a, ok := ParseHostAddr(host)
		bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if want, err := netip.ParseAddr(bare); err == nil && (!ok || a != want) {
			t.Fatalf("ParseHostAddr(%q) = %v, %v; netip says %v", host, a, ok, want)
		}
		if n, err := strconv.ParseUint(host, 10, 32); err == nil && (host[0] != '0' || host == "0") {
			want := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
			if !ok || a != want {
				t.Fatalf("ParseHostAddr(%q) = %v, %v; want %v", host, a, ok, want)
			}
		}
		if ok {
			g.Check(a)
		}
	})
}

// FuzzParsePrefix: an accepted entry prints as a canonical prefix that parses back to
// itself, and the prefix contains the address it was parsed from's masked form.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"169.254.0.0/16", "10.1.2.3/8", "fd00:ec2::254", "::ffff:169.254.0.0/112", "::/0", "fe80::/10%x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() {
			t.Fatalf("ParsePrefix(%q) = %v, not a valid masked prefix", s, p)
		}
		q, err := ParsePrefix(p.String())
		if err != nil || q != p {
			t.Fatalf("ParsePrefix(%q) = %v, which parses back as %v, %v", s, p, q, err)
		}
	})
}
