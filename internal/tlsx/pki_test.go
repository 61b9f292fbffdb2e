package tlsx

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

// The test PKI is generated at run time into t.TempDir(), in the manner of
// golang/go src/crypto/tls/generate_cert.go; no private key is committed.

type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
	der  []byte
}

type certOpts struct {
	cn        string
	dns       []string
	ips       []net.IP
	ca        bool
	notBefore time.Time
	notAfter  time.Time
	rsa       bool
}

func newCert(t testing.TB, o certOpts, parent *testCert) *testCert {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.rsa {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.cn, Organization: []string{"tlsx test"}},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		DNSNames:              o.dns,
		IPAddresses:           o.ips,
		BasicConstraintsValid: true,
		IsCA:                  o.ca,
	}
	if o.ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key, der: der}
}

func certPEM(c *testCert) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der})
}

func keyPEM(t testing.TB, c *testCert) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, dir, name string, parts ...[]byte) string {
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

// pki holds the file paths of a generated test PKI.
type pki struct {
	dir string

	ca, otherCA string // CA certificate files
	caDir       string // directory holding ca

	joinerCert, joinerKey string // SANs joiner.example, localhost, 127.0.0.1; CN joiner.example
	donorCert, donorKey   string // CN donor.example, SAN donor.example
	cnOnlyCert, cnOnlyKey string // CN node1, no SANs
	ipCert, ipKey         string // CN node2, SAN IP 127.0.0.1 only
	chainCert, chainKey   string // leaf signed by an intermediate, bundle leaf+intermediate
	leafOnly              string // the same leaf without its intermediate
	expiredCert, expKey   string
	futureCert, futKey    string // not yet valid
	otherCert, otherKey   string // issued by otherCA
	combined              string // encrypt=2 PEM: key then certificate (joiner)
	combinedDonor         string // encrypt=2 PEM for the donor
	rsaCert, rsaKey       string // RSA leaf, CN rsa.example
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir}
	root := newCert(t, certOpts{cn: "Test Root CA", ca: true}, nil)
	other := newCert(t, certOpts{cn: "Other CA", ca: true}, nil)
	inter := newCert(t, certOpts{cn: "Test Intermediate CA", ca: true}, root)
	p.ca = writeFile(t, dir, "ca.pem", certPEM(root))
	p.otherCA = writeFile(t, dir, "other-ca.pem", certPEM(other))
	p.caDir = filepath.Join(dir, "cadir")
	if err := os.Mkdir(p.caDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.caDir, "root.pem", certPEM(root))
	writeFile(t, p.caDir, "README", []byte("not a certificate\n"))

	leaf := func(name string, o certOpts, parent *testCert) (*testCert, string, string) {
		c := newCert(t, o, parent)
		return c, writeFile(t, dir, name+"-cert.pem", certPEM(c)), writeFile(t, dir, name+"-key.pem", keyPEM(t, c))
	}
	var joiner, donor *testCert
	joiner, p.joinerCert, p.joinerKey = leaf("joiner", certOpts{cn: "joiner.example", dns: []string{"joiner.example", "localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1")}}, root)
	donor, p.donorCert, p.donorKey = leaf("donor", certOpts{cn: "donor.example", dns: []string{"donor.example"}}, root)
	_, p.cnOnlyCert, p.cnOnlyKey = leaf("cnonly", certOpts{cn: "node1"}, root)
	_, p.ipCert, p.ipKey = leaf("ip", certOpts{cn: "node2", ips: []net.IP{net.ParseIP("127.0.0.1")}}, root)
	var chained *testCert
	chained, p.leafOnly, p.chainKey = leaf("chain", certOpts{cn: "chained.example", dns: []string{"chained.example"}}, inter)
	p.chainCert = writeFile(t, dir, "chain-bundle.pem", certPEM(chained), certPEM(inter))
	_, p.expiredCert, p.expKey = leaf("expired", certOpts{cn: "expired.example", notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}, root)
	_, p.futureCert, p.futKey = leaf("future", certOpts{cn: "future.example", notBefore: time.Now().Add(24 * time.Hour), notAfter: time.Now().Add(48 * time.Hour)}, root)
	_, p.otherCert, p.otherKey = leaf("other", certOpts{cn: "joiner.example", dns: []string{"joiner.example", "localhost"}}, other)
	_, p.rsaCert, p.rsaKey = leaf("rsa", certOpts{cn: "rsa.example", rsa: true}, root)
	p.combined = writeFile(t, dir, "joiner-combined.pem", keyPEM(t, joiner), certPEM(joiner))
	p.combinedDonor = writeFile(t, dir, "donor-combined.pem", keyPEM(t, donor), certPEM(donor))
	return p
}
