package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ssl-mode values, as the script spells them after upper-casing.
const (
	ModeDisabled       = "DISABLED"
	ModeRequired       = "REQUIRED"
	ModeVerifyCA       = "VERIFY_CA"
	ModeVerifyIdentity = "VERIFY_IDENTITY"
)

// Sentinel errors wrapped by *CheckError. The stock script exits 22
// (EINVAL) for every one of them.
var (
	// ErrMissing means a file the encrypt mode requires is not configured.
	ErrMissing = errors.New("tlsx: required TLS file not configured")
	// ErrBadFile means a file holds no usable PEM certificate or key.
	ErrBadFile = errors.New("tlsx: unusable PEM file")
	// ErrKeyMismatch means the private key does not belong to the
	// certificate (verify_cert_matches_key).
	ErrKeyMismatch = errors.New("tlsx: the certificate and private key do not match")
	// ErrUntrusted means the certificate does not chain to the configured
	// CA (verify_ca_matches_cert).
	ErrUntrusted = errors.New("tlsx: the certificate was not issued by the CA")
	// ErrExpired means a certificate is expired or not yet valid.
	ErrExpired = errors.New("tlsx: certificate expired or not yet valid")
	// ErrMode means an encrypt value this package does not handle.
	ErrMode = errors.New("tlsx: unknown encryption mode")
)

// CheckError reports a failed preflight check of the TLS files: what was
// being done, the file concerned and why. Callers map it to exit code 22
// as the script's verify_* functions do; Err wraps one of the sentinels
// above or an *os.PathError.
type CheckError struct {
	Op   string // e.g. "read certificate", "verify certificate"
	Path string // the file or directory concerned, if any
	Err  error
}

func (e *CheckError) Error() string {
	if e.Path == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Path + ": " + e.Err.Error()
}

func (e *CheckError) Unwrap() error { return e.Err }

// Params describes one side of an encrypt=2/3/4 transfer with plain
// values; the caller resolves my.cnf (tca/tcapath/tcert/tkey, ssl-*,
// ssl-server-*/ssl-client-*, the encrypt=0 auto-upgrade of read_cnf) first.
// The joiner passes its Params to ServerConfig, the donor to ClientConfig.
type Params struct {
	// Encrypt is the script's encrypt option: 2 (socat cert=<tcert PEM
	// holding key and certificate>, cafile=<tca>), 3 (cert and key, CA
	// optional: no CA means no verification, socat verify=0) or 4 (cert,
	// key and CA all required).
	Encrypt int
	// Mode is ssl-mode (DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY;
	// "" counts as DISABLED). Here it only matters through VERIFY_CA,
	// which verifies the chain but never the peer name.
	Mode string
	// CA is a CA certificate file (tca, ssl-ca). A directory, or a path
	// ending in "/", is taken as a CA path, as check_server_ssl_config
	// does.
	CA string
	// CAPath is a directory of CA certificates (tcapath, ssl-capath).
	CAPath string
	// Cert is the certificate file (tcert, ssl-cert), leaf first, then
	// optional intermediates (MDEV-35812). With Encrypt=2 it also holds
	// the private key.
	Cert string
	// Key is the private key file (tkey, ssl-key); ignored with Encrypt=2.
	Key string
	// PeerName, if not empty, is the name the peer certificate must carry
	// (socat commonname=): a SAN DNS name, a SAN IP address or, for a
	// certificate without SANs, the subject CN; see MatchName. The donor
	// sets it from PeerNameFor; the joiner normally leaves it empty, as
	// the script passes commonname='' there.
	// Ignored when Mode is VERIFY_CA or when the peer is not verified.
	PeerName string
	// Now returns the current time for certificate validity checks; nil
	// means time.Now. For tests.
	Now func() time.Time
}

// normalized applies check_server_ssl_config's rule that a CA given as a
// directory is a CA path.
func (p Params) normalized() Params {
	if p.CA != "" {
		if strings.HasSuffix(p.CA, "/") {
			p.CAPath, p.CA = p.CA, ""
		} else if fi, err := os.Stat(p.CA); err == nil && fi.IsDir() {
			p.CAPath, p.CA = p.CA, ""
		}
	}
	if p.Encrypt == 2 {
		p.Key = p.Cert
	}
	return p
}

func (p Params) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p Params) hasCA() bool { return p.CA != "" || p.CAPath != "" }

// Verified reports whether configurations built from p verify the peer's
// certificate chain. It is false only for Encrypt=3 without a CA, where
// the script runs socat with verify=0: the stream is encrypted but the
// peer is not authenticated, and the caller should say so in the log.
func (p Params) Verified() bool {
	return p.Encrypt != 3 || p.hasCA()
}

// checksName reports whether the peer name is checked.
func (p Params) checksName() bool {
	return p.Verified() && p.PeerName != "" && !strings.EqualFold(p.Mode, ModeVerifyCA)
}

// PeerNameFor returns the name the donor expects in the joiner's
// certificate, mirroring the commonname choice in get_transfer: none for
// encrypt=2, for an unverified encrypt=3 and for ssl-mode VERIFY_CA;
// otherwise remoteUser (the CN the joiner put before '@' in its address)
// if set; none for encrypt=4; "localhost" if host is a local address
// (IsLocalAddress); else host itself (brackets of an IPv6 literal removed).
func (p Params) PeerNameFor(remoteUser, host string) string {
	p = p.normalized()
	switch {
	case p.Encrypt != 3 && p.Encrypt != 4, !p.hasCA(), strings.EqualFold(p.Mode, ModeVerifyCA):
		return ""
	case remoteUser != "":
		return remoteUser
	case p.Encrypt == 4:
		return ""
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if IsLocalAddress(host) {
		return "localhost"
	}
	return host
}

// Check runs the preflight checks the script makes in get_transfer before
// any byte moves: the files the mode needs are configured and readable, the
// key matches the certificate (verify_cert_matches_key), and, when a CA is
// configured, the certificate is valid now and chains to the CA through
// any intermediates in the certificate file (verify_ca_matches_cert,
// `openssl verify -CAfile ca -untrusted cert cert`). Every error is a
// *CheckError naming the file; the script exits 22 for each.
func Check(p Params) error {
	_, _, err := load(p.normalized())
	return err
}

// load runs the checks and returns the key pair and CA pool (nil when the
// peer is not verified).
func load(p Params) (tls.Certificate, *x509.CertPool, error) {
	switch p.Encrypt {
	case 2:
		if p.Cert == "" || !p.hasCA() {
			return tls.Certificate{}, nil, &CheckError{Op: "encrypt=2", Err: fmt.Errorf("both PEM file and CRT file (or path) are required: %w", ErrMissing)}
		}
	case 3, 4:
		if p.Cert == "" || p.Key == "" {
			return tls.Certificate{}, nil, &CheckError{Op: fmt.Sprintf("encrypt=%d", p.Encrypt), Err: fmt.Errorf("both the certificate file (or path) and the key file are required: %w", ErrMissing)}
		}
		if p.Encrypt == 4 && !p.hasCA() {
			return tls.Certificate{}, nil, &CheckError{Op: "encrypt=4", Err: fmt.Errorf("peer certificate file (or path) required if encrypt=4: %w", ErrMissing)}
		}
	default:
		return tls.Certificate{}, nil, &CheckError{Op: fmt.Sprintf("encrypt=%d", p.Encrypt), Err: ErrMode}
	}
	cert, err := loadKeyPair(p.Cert, p.Key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if !p.hasCA() {
		return cert, nil, nil
	}
	pool, err := loadCAPool(p.CA, p.CAPath)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := cert.Leaf
	now := p.now()
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, nil, &CheckError{Op: "verify certificate", Path: p.Cert, Err: fmt.Errorf("%w: the certificate (%s) expired on %s", ErrExpired, describeCert(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, nil, &CheckError{Op: "verify certificate", Path: p.Cert, Err: fmt.Errorf("%w: the certificate (%s) is not valid before %s", ErrExpired, describeCert(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	if err := verifyChain(leaf, cert.Certificate[1:], pool, now); err != nil {
		ca := p.CA
		if ca == "" {
			ca = p.CAPath
		}
		return tls.Certificate{}, nil, &CheckError{Op: "verify certificate", Path: p.Cert, Err: fmt.Errorf("against CA %s: %w", ca, err)}
	}
	return cert, pool, nil
}

// verifyChain verifies leaf against roots with the given untrusted
// intermediates. Any extended key usage is accepted: OpenSSL's
// sslserver/sslclient purposes differ in detail and Galera certificates
// are used for both roles.
func verifyChain(leaf *x509.Certificate, intermediates [][]byte, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, der := range intermediates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: intermediate certificate: %w", ErrUntrusted, err)
		}
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return mapVerifyError(err)
	}
	return nil
}

// verifyPeer is the VerifyConnection callback: the chain against the CA,
// then the name with MatchName.
func (p Params) verifyPeer(roots *x509.CertPool) func(tls.ConnectionState) error {
	checkName := p.checksName()
	name := p.PeerName
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tlsx: peer sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		var rest [][]byte
		for _, c := range cs.PeerCertificates[1:] {
			rest = append(rest, c.Raw)
		}
		if err := verifyChain(leaf, rest, roots, p.now()); err != nil {
			return fmt.Errorf("verify peer certificate (%s): %w", describeCert(leaf), err)
		}
		if checkName && !MatchName(leaf, name) {
			return fmt.Errorf("verify peer certificate (%s): %w", describeCert(leaf), &NameError{Name: name, Cert: leaf})
		}
		return nil
	}
}

// NameError reports a peer certificate that does not carry the expected
// name (socat: "certificate is valid but its commonName does not match
// hostname").
type NameError struct {
	Name string
	Cert *x509.Certificate
}

func (e *NameError) Error() string {
	var ips []string
	for _, ip := range e.Cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	msg := fmt.Sprintf("tlsx: certificate is valid but does not match the expected name %q (CN %q, DNS names %v, IP addresses %v)",
		e.Name, firstCN(e.Cert), e.Cert.DNSNames, ips)
	if cn := firstCN(e.Cert); cn != "" && strings.EqualFold(cn, e.Name) {
		// The stock script's socat would have accepted the CN.
		msg += fmt.Sprintf("; the CN does not count for a certificate with subjectAltNames (as in OpenSSL's host check): add %q to them", e.Name)
	}
	return msg
}

// tls12Suites are the cipher suites offered and accepted on TLS 1.2:
// ECDHE with an AEAD only, no CBC mode, no SHA-1 MAC, no RSA key
// exchange. The stock script's socat (OpenSSL defaults) negotiates TLS 1.3,
// or on TLS 1.2 prefers these same ECDHE AES-GCM and ChaCha20 suites.
// TLS 1.3 suites are not configurable in crypto/tls and are all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// newConfig normalizes p and loads its files (Errors are *CheckError). It
// returns the configuration both sides start from, the normalized p, and
// the CA pool, nil without a CA.
func newConfig(p Params) (*tls.Config, Params, *x509.CertPool, error) {
	p = p.normalized()
	cert, pool, err := load(p)
	if err != nil {
		return nil, p, nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		Certificates: []tls.Certificate{cert},
		Time:         p.Now,
		// One connection per transfer: nothing to resume.
		SessionTicketsDisabled: true,
	}, p, pool, nil
}

// ServerConfig runs Check and returns the joiner's TLS configuration (the
// joiner is the TLS server, socat openssl-listen). When a CA is configured
// it demands a client certificate and verifies its chain, as socat's
// default verify=1 does (SSL_VERIFY_PEER|SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
// the client's name is checked only if PeerName is set. Without a CA
// (Encrypt=3) no client certificate is requested, like verify=0. Errors
// are *CheckError.
func ServerConfig(p Params) (*tls.Config, error) {
	c, p, pool, err := newConfig(p)
	if err != nil {
		return nil, err
	}
	if pool != nil {
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = p.verifyPeer(pool)
	}
	return c, nil
}

// ClientConfig runs Check and returns the donor's TLS configuration (the
// donor is the TLS client, socat openssl-connect with no-sni=1: no SNI is
// sent). When a CA is configured the server's chain is verified, then
// PeerName, if set and Mode is not VERIFY_CA, with MatchName. Without a CA
// (Encrypt=3) nothing is verified, like verify=0. The client certificate is
// sent whenever the server asks, whatever CA names it lists, as OpenSSL
// does. Errors are *CheckError.
func ClientConfig(p Params) (*tls.Config, error) {
	c, p, pool, err := newConfig(p)
	if err != nil {
		return nil, err
	}
	cert := c.Certificates[0]
	// crypto/tls's own check needs ServerName (sent as SNI) and a SAN
	// match; socat sends no SNI and older Galera certificates have only a
	// CN, so verification happens in VerifyConnection instead.
	c.InsecureSkipVerify = true
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	if pool != nil {
		c.VerifyConnection = p.verifyPeer(pool)
	}
	return c, nil
}

// Shutdown ends a TLS connection after the last byte was written, the way
// a socat peer expects: it sends close_notify, half-closes the TCP
// connection, reads and discards whatever the peer still sends (TLS 1.3
// session tickets, its own close_notify) until it closes, then closes c.
// Closing at once instead would leave unread tickets in the socket buffer,
// the kernel would answer with RST, and a stock joiner's socat could fail
// with "SSL_read(): Connection reset by peer" before reading everything.
// Cancelling ctx, or a deadline set on c, ends the wait.
func Shutdown(ctx context.Context, c *tls.Conn) error {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	err := c.CloseWrite()
	if hc, ok := c.NetConn().(interface{ CloseWrite() error }); ok && err == nil {
		err = hc.CloseWrite()
	}
	if err == nil {
		_, err = io.Copy(io.Discard, c)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shut down TLS connection: %w", err)
	}
	return nil
}
