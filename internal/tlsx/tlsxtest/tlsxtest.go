// Package tlsxtest generates test PKIs at run time: CAs, intermediates and
// leaf certificates with their keys, written as PEM files into
// t.TempDir(), in the manner of golang/go src/crypto/tls/generate_cert.go,
// so that no private key is ever committed. It is for tests only: import
// it from _test.go files, never from a program.
//
// It does not know the tlsx package, so tests of tlsx itself can use it.
package tlsxtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a generated certificate and its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	DER  []byte
}

// Options describe a certificate for NewCert. Zero times mean one hour
// ago and one day from now.
type Options struct {
	CN        string   // subject common name; empty for none
	DNS       []string // subjectAltName DNS names
	IPs       []net.IP // subjectAltName IP addresses
	CA        bool     // a CA (may sign), else a leaf for server and client use
	NotBefore time.Time
	NotAfter  time.Time
	RSA       bool // a 2048-bit RSA key instead of ECDSA P-256
}

// NewCert generates a key and a certificate signed by parent, or
// self-signed if parent is nil. It fails the test on any error.
func NewCert(t testing.TB, o Options, parent *Cert) *Cert {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CN, Organization: []string{"tlsx test"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		DNSNames:              o.DNS,
		IPAddresses:           o.IPs,
		BasicConstraintsValid: true,
		IsCA:                  o.CA,
	}
	if o.CA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key, DER: der}
}

// CertPEM returns the certificate as a PEM block.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// KeyPEM returns the private key as a PKCS #8 PEM block.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFile writes the concatenated parts to dir/name, mode 0600, and
// returns the path.
func WriteFile(t testing.TB, dir, name string, parts ...[]byte) string {
	t.Helper()
	var data []byte
	for _, p := range parts {
		data = append(data, p...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// PKI holds the file paths of the PKI NewPKI generates.
type PKI struct {
	Dir string // where the files are, a t.TempDir()

	CA, OtherCA string // CA certificate files
	CADir       string // directory holding CA as root.pem (not hashed), and a README

	JoinerCert, JoinerKey string // CN joiner.example, SANs joiner.example, localhost, 127.0.0.1
	DonorCert, DonorKey   string // CN donor.example, SAN donor.example
	CNOnlyCert, CNOnlyKey string // CN node1, no SANs
	IPCert, IPKey         string // CN node2, SAN IP 127.0.0.1 only
	ChainCert, ChainKey   string // CN chained.example signed by an intermediate; bundle leaf+intermediate
	LeafOnly              string // the same leaf without its intermediate
	ExpiredCert, ExpKey   string // expired a day ago
	FutureCert, FutKey    string // valid from tomorrow
	OtherCert, OtherKey   string // like the joiner's, issued by OtherCA
	Combined              string // encrypt=2 PEM: the joiner's key then certificate
	CombinedDonor         string // encrypt=2 PEM for the donor
	RSACert, RSAKey       string // RSA leaf, CN rsa.example
}

// NewPKI generates a root CA, an intermediate, another unrelated CA and
// the leaves listed in PKI, all but RSACert with ECDSA P-256 keys, and
// writes them into a new t.TempDir().
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{Dir: dir}
	root := NewCert(t, Options{CN: "Test Root CA", CA: true}, nil)
	other := NewCert(t, Options{CN: "Other CA", CA: true}, nil)
	inter := NewCert(t, Options{CN: "Test Intermediate CA", CA: true}, root)
	p.CA = WriteFile(t, dir, "ca.pem", root.CertPEM())
	p.OtherCA = WriteFile(t, dir, "other-ca.pem", other.CertPEM())
	p.CADir = filepath.Join(dir, "cadir")
	if err := os.Mkdir(p.CADir, 0o700); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, p.CADir, "root.pem", root.CertPEM())
	WriteFile(t, p.CADir, "README", []byte("not a certificate\n"))

	leaf := func(name string, o Options, parent *Cert) (*Cert, string, string) {
		c := NewCert(t, o, parent)
		return c, WriteFile(t, dir, name+"-cert.pem", c.CertPEM()), WriteFile(t, dir, name+"-key.pem", c.KeyPEM(t))
	}
	var joiner, donor *Cert
	joiner, p.JoinerCert, p.JoinerKey = leaf("joiner", Options{CN: "joiner.example", DNS: []string{"joiner.example", "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}, root)
	donor, p.DonorCert, p.DonorKey = leaf("donor", Options{CN: "donor.example", DNS: []string{"donor.example"}}, root)
	_, p.CNOnlyCert, p.CNOnlyKey = leaf("cnonly", Options{CN: "node1"}, root)
	_, p.IPCert, p.IPKey = leaf("ip", Options{CN: "node2", IPs: []net.IP{net.ParseIP("127.0.0.1")}}, root)
	var chained *Cert
	chained, p.LeafOnly, p.ChainKey = leaf("chain", Options{CN: "chained.example", DNS: []string{"chained.example"}}, inter)
	p.ChainCert = WriteFile(t, dir, "chain-bundle.pem", chained.CertPEM(), inter.CertPEM())
	_, p.ExpiredCert, p.ExpKey = leaf("expired", Options{CN: "expired.example", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, root)
	_, p.FutureCert, p.FutKey = leaf("future", Options{CN: "future.example", NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}, root)
	_, p.OtherCert, p.OtherKey = leaf("other", Options{CN: "joiner.example", DNS: []string{"joiner.example", "localhost"}}, other)
	_, p.RSACert, p.RSAKey = leaf("rsa", Options{CN: "rsa.example", RSA: true}, root)
	p.Combined = WriteFile(t, dir, "joiner-combined.pem", joiner.KeyPEM(t), joiner.CertPEM())
	p.CombinedDonor = WriteFile(t, dir, "donor-combined.pem", donor.KeyPEM(t), donor.CertPEM())
	return p
}
