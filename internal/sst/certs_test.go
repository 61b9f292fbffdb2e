package sst

import (
	"net"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/tlsx/tlsxtest"
)

// testCerts are PEM files made at run time: a CA and a leaf signed by it
// (CN localhost, SANs localhost and 127.0.0.1), the leaf's key, and the key
// and certificate together for encrypt=2's tcert.
type testCerts struct {
	CA, Cert, Key, Combined string
}

// makeCerts writes a new CA and a leaf valid until notAfter into dir.
func makeCerts(t testing.TB, dir string, notAfter time.Time) testCerts {
	t.Helper()
	ca := tlsxtest.NewCert(t, tlsxtest.Options{CN: "sst test CA", CA: true}, nil)
	leaf := tlsxtest.NewCert(t, tlsxtest.Options{
		CN:        "localhost",
		DNS:       []string{"localhost"},
		IPs:       []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-2 * time.Hour),
		NotAfter:  notAfter,
	}, ca)
	key := leaf.KeyPEM(t)
	return testCerts{
		CA:       tlsxtest.WriteFile(t, dir, "ca.pem", ca.CertPEM()),
		Cert:     tlsxtest.WriteFile(t, dir, "server-cert.pem", leaf.CertPEM()),
		Key:      tlsxtest.WriteFile(t, dir, "server-key.pem", key),
		Combined: tlsxtest.WriteFile(t, dir, "server.pem", key, leaf.CertPEM()),
	}
}
