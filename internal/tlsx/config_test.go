package tlsx

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/tlsx/tlsxtest"
)

// handshake runs a TLS handshake between our server and client configs
// over loopback TCP, then a ping/pong so that a rejection reported after
// the client's Finished (TLS 1.3 client authentication) surfaces too.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(30 * time.Second)
	done := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		sc.SetDeadline(deadline)
		s := tls.Server(sc, server)
		defer s.Close()
		err = s.Handshake()
		if err == nil {
			buf := make([]byte, 4)
			if _, err = io.ReadFull(s, buf); err == nil {
				_, err = s.Write([]byte("pong"))
			}
		}
		done <- err
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc.SetDeadline(deadline)
	c := tls.Client(cc, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		if _, clientErr = c.Write([]byte("ping")); clientErr == nil {
			buf := make([]byte, 4)
			_, clientErr = io.ReadFull(c, buf)
		}
	}
	c.Close()
	serverErr = <-done
	return serverErr, clientErr
}

func mustServer(t *testing.T, p Params) *tls.Config {
	t.Helper()
	c, err := ServerConfig(p)
	if err != nil {
		t.Fatalf("ServerConfig: %v", err)
	}
	return c
}

func mustClient(t *testing.T, p Params) *tls.Config {
	t.Helper()
	c, err := ClientConfig(p)
	if err != nil {
		t.Fatalf("ClientConfig: %v", err)
	}
	return c
}

func TestHandshake(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	joiner3 := Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA}
	donor3 := Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA}
	with := func(p Params, f func(*Params)) Params { f(&p); return p }

	tests := []struct {
		name           string
		server, client Params
		wantOK         bool
		wantNameErr    bool // the client rejects the name
	}{
		{"encrypt=2 pem+ca", Params{Encrypt: 2, Cert: k.Combined, CA: k.CA}, Params{Encrypt: 2, Cert: k.CombinedDonor, CA: k.CA}, true, false},
		{"encrypt=2 capath", Params{Encrypt: 2, Cert: k.Combined, CAPath: k.CADir}, Params{Encrypt: 2, Cert: k.CombinedDonor, CA: k.CADir + "/"}, true, false},
		{"encrypt=2 explicit peer name", Params{Encrypt: 2, Cert: k.Combined, CA: k.CA}, Params{Encrypt: 2, Cert: k.CombinedDonor, CA: k.CA, PeerName: "nomatch"}, false, true},
		{"encrypt=3 no CA", Params{Encrypt: 3, Cert: k.OtherCert, Key: k.OtherKey}, Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey}, true, false},
		{"encrypt=3 no CA expired peer", Params{Encrypt: 3, Cert: k.ExpiredCert, Key: k.ExpKey}, Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey}, true, false},
		{"encrypt=3 CA", joiner3, donor3, true, false},
		{"encrypt=3 CA dir", with(joiner3, func(p *Params) { p.CA = k.CADir }), with(donor3, func(p *Params) { p.CA = k.CADir }), true, false},
		{"encrypt=4", with(joiner3, func(p *Params) { p.Encrypt = 4 }), with(donor3, func(p *Params) { p.Encrypt = 4 }), true, false},
		{"RSA server", Params{Encrypt: 3, Cert: k.RSACert, Key: k.RSAKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "rsa.example" }), true, false},
		{"wrong CA", Params{Encrypt: 3, Cert: k.OtherCert, Key: k.OtherKey, CA: k.OtherCA}, donor3, false, false},
		{"expired peer", Params{Encrypt: 3, Cert: k.ExpiredCert, Key: k.ExpKey}, donor3, false, false},
		{"not yet valid peer", Params{Encrypt: 3, Cert: k.FutureCert, Key: k.FutKey}, donor3, false, false},
		{"unverified server vs verifying client", Params{Encrypt: 3, Cert: k.OtherCert, Key: k.OtherKey}, donor3, false, false},
		{"intermediate bundle server", Params{Encrypt: 3, Cert: k.ChainCert, Key: k.ChainKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "chained.example"; p.Mode = ModeVerifyIdentity }), true, false},
		{"intermediate bundle client", joiner3, Params{Encrypt: 3, Cert: k.ChainCert, Key: k.ChainKey, CA: k.CA}, true, false},
		{"VERIFY_IDENTITY right name", joiner3, with(donor3, func(p *Params) { p.Mode = ModeVerifyIdentity; p.PeerName = "joiner.example" }), true, false},
		{"VERIFY_IDENTITY name case", joiner3, with(donor3, func(p *Params) { p.Mode = ModeVerifyIdentity; p.PeerName = "JOINER.example" }), true, false},
		{"VERIFY_IDENTITY localhost SAN", joiner3, with(donor3, func(p *Params) { p.Mode = ModeVerifyIdentity; p.PeerName = "localhost" }), true, false},
		{"VERIFY_IDENTITY wrong name", joiner3, with(donor3, func(p *Params) { p.Mode = ModeVerifyIdentity; p.PeerName = "evil.example" }), false, true},
		{"VERIFY_CA ignores name", joiner3, with(donor3, func(p *Params) { p.Mode = ModeVerifyCA; p.PeerName = "evil.example" }), true, false},
		{"REQUIRED checks name", joiner3, with(donor3, func(p *Params) { p.Mode = ModeRequired; p.PeerName = "evil.example" }), false, true},
		{"CN-only cert right name", Params{Encrypt: 3, Cert: k.CNOnlyCert, Key: k.CNOnlyKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "node1" }), true, false},
		{"CN-only cert wrong name", Params{Encrypt: 3, Cert: k.CNOnlyCert, Key: k.CNOnlyKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "node2" }), false, true},
		{"IP SAN", Params{Encrypt: 3, Cert: k.IPCert, Key: k.IPKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "127.0.0.1" }), true, false},
		{"IP SAN wrong IP", Params{Encrypt: 3, Cert: k.IPCert, Key: k.IPKey, CA: k.CA}, with(donor3, func(p *Params) { p.PeerName = "127.0.0.2" }), false, true},
		{"server checks client name", with(joiner3, func(p *Params) { p.PeerName = "donor.example" }), donor3, true, false},
		{"server rejects client name", with(joiner3, func(p *Params) { p.PeerName = "joiner.example" }), donor3, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serr, cerr := handshake(t, mustServer(t, tt.server), mustClient(t, tt.client))
			if tt.wantOK {
				if serr != nil || cerr != nil {
					t.Fatalf("got server error %v, client error %v; want success", serr, cerr)
				}
				return
			}
			if serr == nil && cerr == nil {
				t.Fatal("handshake succeeded; want failure")
			}
			var ne *NameError
			if tt.wantNameErr && !errors.As(cerr, &ne) {
				t.Errorf("client error %v; want a *NameError", cerr)
			}
		})
	}
}

func TestServerRequiresClientCert(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	server := mustServer(t, Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA})
	serr, cerr := handshake(t, server, &tls.Config{InsecureSkipVerify: true})
	if serr == nil || cerr == nil {
		t.Fatalf("got server error %v, client error %v; want both to fail", serr, cerr)
	}
	// Without a CA the server does not ask (socat verify=0).
	server = mustServer(t, Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey})
	if server.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth = %v; want NoClientCert", server.ClientAuth)
	}
}

func TestMinVersionAndNoSNI(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	server := mustServer(t, Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA})
	client := mustClient(t, Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "joiner.example"})
	if server.MinVersion != tls.VersionTLS12 || client.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion server %x client %x; want TLS 1.2", server.MinVersion, client.MinVersion)
	}
	if len(server.NextProtos) != 0 || len(client.NextProtos) != 0 {
		t.Error("ALPN configured")
	}
	sni := make(chan string, 1)
	s := server.Clone()
	s.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) { sni <- h.ServerName; return nil, nil }
	if serr, cerr := handshake(t, s, client); serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if got := <-sni; got != "" {
		t.Errorf("client sent SNI %q; want none (socat no-sni=1)", got)
	}

	old := client.Clone()
	old.MaxVersion = tls.VersionTLS11
	old.MinVersion = tls.VersionTLS10
	if serr, cerr := handshake(t, server, old); serr == nil && cerr == nil {
		t.Error("TLS 1.1 client accepted")
	}
}

func TestCheck(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	unreadable := filepath.Join(k.Dir, "missing.pem")
	tests := []struct {
		name     string
		p        Params
		want     error // nil: success
		wantPath string
		wantText string
	}{
		{"encrypt=2 ok", Params{Encrypt: 2, Cert: k.Combined, CA: k.CA}, nil, "", ""},
		{"encrypt=2 no CA", Params{Encrypt: 2, Cert: k.Combined}, ErrMissing, "", "CRT file"},
		{"encrypt=2 no key in pem", Params{Encrypt: 2, Cert: k.JoinerCert, CA: k.CA}, ErrBadFile, k.JoinerCert, "private key"},
		{"encrypt=3 no key", Params{Encrypt: 3, Cert: k.JoinerCert}, ErrMissing, "", "key file"},
		{"encrypt=3 no CA ok", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey}, nil, "", ""},
		{"encrypt=3 expired without CA ok", Params{Encrypt: 3, Cert: k.ExpiredCert, Key: k.ExpKey}, nil, "", ""},
		{"encrypt=4 no CA", Params{Encrypt: 4, Cert: k.JoinerCert, Key: k.JoinerKey}, ErrMissing, "", "encrypt=4"},
		{"encrypt=5", Params{Encrypt: 5}, ErrMode, "", ""},
		{"unreadable cert", Params{Encrypt: 3, Cert: unreadable, Key: k.JoinerKey}, os.ErrNotExist, unreadable, ""},
		{"unreadable CA", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: unreadable}, os.ErrNotExist, unreadable, ""},
		{"key mismatch", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.DonorKey}, ErrKeyMismatch, k.JoinerCert, "do not match"},
		{"wrong CA", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.OtherCA}, ErrUntrusted, k.JoinerCert, k.OtherCA},
		{"expired", Params{Encrypt: 3, Cert: k.ExpiredCert, Key: k.ExpKey, CA: k.CA}, ErrExpired, k.ExpiredCert, "expired on"},
		{"not yet valid", Params{Encrypt: 4, Cert: k.FutureCert, Key: k.FutKey, CA: k.CA}, ErrExpired, k.FutureCert, "not valid before"},
		{"intermediate bundle", Params{Encrypt: 3, Cert: k.ChainCert, Key: k.ChainKey, CA: k.CA}, nil, "", ""},
		{"leaf without intermediate", Params{Encrypt: 3, Cert: k.LeafOnly, Key: k.ChainKey, CA: k.CA}, ErrUntrusted, k.LeafOnly, ""},
		{"CA is a certificate-less file", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.JoinerKey}, ErrBadFile, k.JoinerKey, ""},
		{"CA dir", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CADir}, nil, "", ""},
		{"CA path without certificates", Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CAPath: t.TempDir()}, ErrBadFile, "", "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.p)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v; want nil", err)
				}
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check: %v (%T); want *CheckError", err, err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Check: %v; want errors.Is %v", err, tt.want)
			}
			if tt.wantPath != "" && ce.Path != tt.wantPath {
				t.Errorf("CheckError.Path = %q; want %q", ce.Path, tt.wantPath)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Check: %q; want it to contain %q", err, tt.wantText)
			}
			// Config constructors fail the same way.
			if _, err := ServerConfig(tt.p); !errors.Is(err, tt.want) {
				t.Errorf("ServerConfig: %v; want %v", err, tt.want)
			}
			if _, err := ClientConfig(tt.p); !errors.Is(err, tt.want) {
				t.Errorf("ClientConfig: %v; want %v", err, tt.want)
			}
		})
	}
}

func TestVerified(t *testing.T) {
	tests := []struct {
		p    Params
		want bool
	}{
		{Params{Encrypt: 2, CA: "ca"}, true},
		{Params{Encrypt: 3}, false},
		{Params{Encrypt: 3, CA: "ca"}, true},
		{Params{Encrypt: 3, CAPath: "dir"}, true},
		{Params{Encrypt: 4, CA: "ca"}, true},
	}
	for _, tt := range tests {
		if got := tt.p.Verified(); got != tt.want {
			t.Errorf("%+v.Verified() = %v; want %v", tt.p, got, tt.want)
		}
	}
}

func TestPeerNameFor(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	tests := []struct {
		name       string
		p          Params
		remoteUser string
		host       string
		want       string
	}{
		{"encrypt=2", Params{Encrypt: 2, CA: "ca"}, "joiner", "10.0.0.2", ""},
		{"encrypt=3 no CA", Params{Encrypt: 3}, "joiner", "10.0.0.2", ""},
		{"VERIFY_CA", Params{Encrypt: 3, CA: "ca", Mode: ModeVerifyCA}, "joiner", "10.0.0.2", ""},
		{"remote user", Params{Encrypt: 3, CA: "ca", Mode: ModeVerifyIdentity}, "joiner", "10.0.0.2", "joiner"},
		{"remote user encrypt=4", Params{Encrypt: 4, CA: "ca"}, "joiner", "10.0.0.2", "joiner"},
		{"encrypt=4", Params{Encrypt: 4, CA: "ca"}, "", "10.0.0.2", ""},
		{"local IP", Params{Encrypt: 3, CA: "ca", Mode: ModeRequired}, "", "127.0.0.1", "localhost"},
		{"local IPv6", Params{Encrypt: 3, CA: "ca"}, "", "[::1]", "localhost"},
		{"own host name", Params{Encrypt: 3, CA: "ca"}, "", host, "localhost"},
		{"remote host", Params{Encrypt: 3, CA: "ca"}, "", "192.0.2.7", "192.0.2.7"},
		{"remote IPv6", Params{Encrypt: 3, CA: "ca"}, "", "[2001:db8::7]", "2001:db8::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.PeerNameFor(tt.remoteUser, tt.host); got != tt.want {
				t.Errorf("PeerNameFor(%q, %q) = %q; want %q", tt.remoteUser, tt.host, got, tt.want)
			}
		})
	}
}

func TestMatchName(t *testing.T) {
	ip1, ip6 := net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")
	sans := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node1.example", DNS: []string{"*.db.example", "other.example"}, IPs: []net.IP{ip1, ip6}}, nil).Cert
	cnOnly := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node2.example"}, nil).Cert
	cnWild := tlsxtest.NewCert(t, tlsxtest.Options{CN: "*.db.example"}, nil).Cert
	cnIP := tlsxtest.NewCert(t, tlsxtest.Options{CN: "10.0.0.9"}, nil).Cert
	ipOnly := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node3.example", IPs: []net.IP{ip1}}, nil).Cert
	dnsOnly := tlsxtest.NewCert(t, tlsxtest.Options{CN: "10.0.0.9", DNS: []string{"node4.example"}}, nil).Cert
	tld := tlsxtest.NewCert(t, tlsxtest.Options{CN: "x", DNS: []string{"*.example", "*."}}, nil).Cert
	tests := []struct {
		cert string
		c    *x509.Certificate
		name string
		want bool
	}{
		{"sans", sans, "node1.example", false}, // no CN when DNS SANs exist
		{"sans", sans, "other.example", true},
		{"sans", sans, "OTHER.Example", true},
		{"sans", sans, "a.db.example", true},
		{"sans", sans, "db.example", false}, // *.x does not match x
		{"sans", sans, ".db.example", false},
		{"sans", sans, "a.b.db.example", false},
		{"sans", sans, "10.0.0.1", true},
		{"sans", sans, "2001:db8::1", true},
		{"sans", sans, "[2001:db8::1]", true},
		{"sans", sans, "2001:DB8:0::1", true},
		{"sans", sans, "10.0.0.2", false},
		{"sans", sans, "example", false},
		{"sans", sans, "", false},
		{"CN only", cnOnly, "node2.example", true},
		{"CN only", cnOnly, "NODE2.EXAMPLE", true},
		{"CN only", cnOnly, "node3.example", false},
		{"CN wildcard", cnWild, "a.db.example", true},
		{"CN wildcard", cnWild, "db.example", false},
		{"CN IP", cnIP, "10.0.0.9", true},
		{"CN IP", cnIP, "10.0.0.1", false},
		{"IP SAN only", ipOnly, "node3.example", true}, // no DNS SAN: CN counts for a host name
		{"IP SAN only", ipOnly, "10.0.0.1", true},
		{"DNS SAN only", dnsOnly, "10.0.0.9", false}, // SANs exist: no CN for an address
		{"DNS SAN only", dnsOnly, "node4.example", true},
		{"one label wildcard", tld, "a.example", false},
		{"one label wildcard", tld, "example", false},
		{"one label wildcard", tld, "a.", false},
	}
	for _, tt := range tests {
		if got := MatchName(tt.c, tt.name); got != tt.want {
			t.Errorf("%s: MatchName(%q) = %v; want %v", tt.cert, tt.name, got, tt.want)
		}
	}
}

func TestCommonName(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	for file, want := range map[string]string{k.JoinerCert: "joiner.example", k.Combined: "joiner.example", k.ChainCert: "chained.example"} {
		got, err := CommonName(file)
		if err != nil || got != want {
			t.Errorf("CommonName(%s) = %q, %v; want %q", file, got, err, want)
		}
	}
	noCN := tlsxtest.WriteFile(t, k.Dir, "nocn.pem", tlsxtest.NewCert(t, tlsxtest.Options{DNS: []string{"x.example"}}, nil).CertPEM())
	if got, err := CommonName(noCN); err != nil || got != "" {
		t.Errorf("CommonName(no CN) = %q, %v; want \"\"", got, err)
	}
	var ce *CheckError
	if _, err := CommonName(k.JoinerKey); !errors.As(err, &ce) || ce.Path != k.JoinerKey {
		t.Errorf("CommonName(key file) error = %v; want *CheckError naming the file", err)
	}
}

func TestSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("NewSecret() = %q; want 32 lower-case hex digits", a)
	}
	if a == b {
		t.Errorf("two secrets equal: %q", a)
	}
	if !SecretEqual(a, a) || SecretEqual(a, b) || SecretEqual(a, a[:31]) || SecretEqual("", a) {
		t.Error("SecretEqual gives wrong answers")
	}
}

func TestIsLocalAddress(t *testing.T) {
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"127.1.2.3", true},
		{"localhost", true},
		{"::1", true},
		{"[::1]", true},
		{host, true},
		{short, true},
		{"192.0.2.1", false},
		{"2001:db8::1", false},
		{"host.invalid", false},
		{"", false},
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				tests = append(tests, struct {
					host string
					want bool
				}{n.IP.String(), true})
				break
			}
		}
	}
	for _, tt := range tests {
		if got := IsLocalAddress(tt.host); got != tt.want {
			t.Errorf("IsLocalAddress(%q) = %v; want %v", tt.host, got, tt.want)
		}
	}
}

// TestCopy moves data over a loopback TCP connection in both roles.
func TestCopy(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	server := mustServer(t, Params{Encrypt: 4, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA})
	client := mustClient(t, Params{Encrypt: 4, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "localhost"})
	data := randomBytes(t, 3<<20+7)
	got := loopbackCopy(t, server, client, data)
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, differing from the %d sent", len(got), len(data))
	}
}

// tlsRead is what readOneTLS read, and how it ended.
type tlsRead struct {
	b   []byte
	err error
}

// readOneTLS accepts one connection on ln, serves TLS with server on it
// (within 60 s) and reads it to its end, in a goroutine: the channel
// gives the result.
func readOneTLS(ln net.Listener, server *tls.Config) <-chan tlsRead {
	res := make(chan tlsRead, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- tlsRead{nil, err}
			return
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		s := tls.Server(c, server)
		defer s.Close()
		b, err := io.ReadAll(s)
		res <- tlsRead{b, err}
	}()
	return res
}

func loopbackCopy(t testing.TB, server, client *tls.Config, data []byte) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := readOneTLS(ln, server)
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.b
}

func BenchmarkTLSCopy(b *testing.B) {
	k := tlsxtest.NewPKI(b)
	server, err := ServerConfig(Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA})
	if err != nil {
		b.Fatal(err)
	}
	client, err := ClientConfig(Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA})
	if err != nil {
		b.Fatal(err)
	}
	data := randomBytes(b, 16<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		loopbackCopy(b, server, client, data)
	}
}

// TestTLS12Suites checks that on TLS 1.2 both sides accept only ECDHE
// suites with an AEAD: a peer offering nothing but CBC (with SHA-1 or
// SHA-256 MACs) or RSA key exchange is refused, and each allowed suite
// (the ones socat's OpenSSL offers first) is negotiated.
func TestTLS12Suites(t *testing.T) {
	k := tlsxtest.NewPKI(t)
	cbc := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	}
	for _, keyType := range []struct {
		name      string
		cert, key string
	}{{"ECDSA", k.JoinerCert, k.JoinerKey}, {"RSA", k.RSACert, k.RSAKey}} {
		ours := Params{Encrypt: 3, Cert: keyType.cert, Key: keyType.key}
		t.Run(keyType.name+"/server refuses CBC", func(t *testing.T) {
			serr, cerr := handshake(t, mustServer(t, ours),
				&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: cbc})
			if serr == nil || cerr == nil {
				t.Fatalf("got server error %v, client error %v; want both to fail", serr, cerr)
			}
		})
		t.Run(keyType.name+"/client refuses CBC", func(t *testing.T) {
			cert, err := tls.LoadX509KeyPair(keyType.cert, keyType.key)
			if err != nil {
				t.Fatal(err)
			}
			server := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, CipherSuites: cbc}
			serr, cerr := handshake(t, server, mustClient(t, ours))
			if serr == nil || cerr == nil {
				t.Fatalf("got server error %v, client error %v; want both to fail", serr, cerr)
			}
		})
		for _, id := range tls12Suites {
			s := tls.CipherSuiteName(id)
			if strings.Contains(s, "ECDSA") != (keyType.name == "ECDSA") {
				continue
			}
			t.Run(keyType.name+"/"+s, func(t *testing.T) {
				var got uint16
				client := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{id},
					VerifyConnection: func(cs tls.ConnectionState) error { got = cs.CipherSuite; return nil }}
				if serr, cerr := handshake(t, mustServer(t, ours), client); serr != nil || cerr != nil {
					t.Fatalf("server error %v, client error %v", serr, cerr)
				}
				if got != id {
					t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(got), s)
				}
			})
		}
	}
}

// TestNameErrorCNHint: when the expected name is the CN of a certificate
// that has SANs, which socat would accept, the error says why it does not
// count and what to change.
func TestNameErrorCNHint(t *testing.T) {
	c := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node9", DNS: []string{"node9.example"}}, nil).Cert
	if MatchName(c, "node9") {
		t.Fatal("MatchName accepted the CN of a certificate with DNS SANs")
	}
	msg := (&NameError{Name: "node9", Cert: c}).Error()
	if want := `the CN does not count for a certificate with subjectAltNames (as in OpenSSL's host check): add "node9" to them`; !strings.Contains(msg, want) {
		t.Errorf("got %q, want it to contain %q", msg, want)
	}
	if msg := (&NameError{Name: "other", Cert: c}).Error(); strings.Contains(msg, "CN does not count") {
		t.Errorf("got %q, want no CN hint for a name that is not the CN", msg)
	}
}
