package tlsx

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// MatchName reports whether cert carries name, by the rules of OpenSSL's
// X509_check_host and X509_check_ip (RFC 6125): an IP address (an IPv6
// literal may be in brackets) matches a subjectAltName IP address; a host
// name matches a subjectAltName DNS entry. The first subject CN is
// consulted only when the certificate has no DNS names, and for an IP
// address only when it has no subjectAltName at all: CN-only Galera
// certificates keep working, but a CN cannot add a name to the SANs of a
// certificate that lists them. A pattern "*.example.com", in a SAN or in
// the CN, matches exactly one extra non-empty leftmost label: not
// "example.com" and not "a.b.example.com"; a wildcard needs two labels
// after it ("*.com" matches nothing). Comparison ignores ASCII case.
//
// This is stricter than the socat of the stock script, whose own check
// falls back to the CN whatever the SANs say and lets "*.example.com"
// match "example.com".
func MatchName(cert *x509.Certificate, name string) bool {
	if name == "" {
		return false
	}
	host := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if ip := net.ParseIP(host); ip != nil {
		for _, a := range cert.IPAddresses {
			if a.Equal(ip) {
				return true
			}
		}
		if len(cert.IPAddresses) > 0 || len(cert.DNSNames) > 0 {
			return false
		}
		cn := firstCN(cert)
		if cip := net.ParseIP(cn); cip != nil {
			return cip.Equal(ip)
		}
		return cn != "" && strings.EqualFold(cn, host)
	}
	for _, d := range cert.DNSNames {
		if matchPattern(d, name) {
			return true
		}
	}
	if len(cert.DNSNames) > 0 {
		return false
	}
	cn := firstCN(cert)
	return cn != "" && matchPattern(cn, name)
}

// matchPattern matches a host name against a certificate name, which may
// have a wildcard as its whole leftmost label (OpenSSL's wildcard_match
// without partial wildcards).
func matchPattern(pattern, name string) bool {
	suffix, wild := strings.CutPrefix(pattern, "*.")
	if !wild {
		return strings.EqualFold(pattern, name)
	}
	if !strings.Contains(strings.Trim(suffix, "."), ".") {
		return false // "*.com": a wildcard needs two labels after it
	}
	label, rest, ok := strings.Cut(name, ".")
	return ok && label != "" && strings.EqualFold(suffix, rest)
}

// NewSecret returns 16 random bytes as 32 lower-case hex digits, like
// wsrep_gen_secret (`openssl rand -hex 16`). The joiner puts it in its
// address as "<CN>:<secret>@" and the donor echoes it in the magic file.
func NewSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// SecretEqual compares the donor's secret with the joiner's in constant
// time (recv_joiner: "Donor does not know my secret!"). Only the lengths
// may leak.
func SecretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

var loopback4 = regexp.MustCompile(`^127\.[0-9]+\.[0-9]+\.[0-9]+$`)

// lookupTimeout bounds the host name resolution IsLocalAddress does, like
// `hostname -f` would block on it.
const lookupTimeout = 2 * time.Second

// IsLocalAddress reports whether host names this machine, mirroring
// is_local_ip in wsrep_sst_common: 127.0.0.0/8, ::1 and "localhost"; the
// short name, fully qualified name and (a script quirk) DNS domain of this
// host, as `hostname -s/-f/-d` print them; and any address assigned to a
// network interface. An IPv6 literal may be in brackets. The donor uses it
// to expect "localhost" in the joiner's certificate. Resolving the fully
// qualified name may take up to two seconds when DNS is slow.
func IsLocalAddress(host string) bool {
	switch host {
	case "127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]":
		return true
	case "":
		return false
	}
	if loopback4.MatchString(host) {
		return true
	}
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); ip != nil {
		return isInterfaceAddress(ip)
	}
	for _, n := range hostNames() {
		if n != "" && host == n {
			return true
		}
	}
	return false
}

// hostNames returns what `hostname -s`, `hostname -f` and `hostname -d`
// print.
func hostNames() []string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return nil
	}
	short, _, _ := strings.Cut(h, ".")
	fqdn := h
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if cname, err := net.DefaultResolver.LookupCNAME(ctx, h); err == nil && cname != "" {
		fqdn = strings.TrimSuffix(cname, ".")
	}
	_, domain, _ := strings.Cut(fqdn, ".")
	return []string{short, fqdn, domain}
}

// isInterfaceAddress reports whether ip is assigned to a local interface
// (`ip address show` in the script).
func isInterfaceAddress(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
