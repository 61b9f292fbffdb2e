package pipe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/stream"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// selfSigned returns a server and a client TLS configuration that trust
// one throw-away certificate.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	pair := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1000)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	lz4z, err := stream.ParseCodec("lz4 -z")
	if err != nil {
		t.Fatal(err)
	}
	lz4d, err := stream.ParseCodec("lz4 -d")
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("secret key")
	tests := []struct {
		name       string
		send, recv Config
	}{
		{"plain", Config{}, Config{}},
		{"tls", Config{TLS: cliTLS}, Config{TLS: srvTLS}},
		{"lz4", Config{Codec: &lz4z}, Config{Codec: &lz4d}},
		{"cipher", Config{Cipher: "aes-256-cbc", Key: key}, Config{Cipher: "aes-256-cbc", Key: key}},
		{"all", Config{TLS: cliTLS, Codec: &lz4z, Cipher: "aes-256-cbc", Key: key, Rate: 1 << 40},
			Config{TLS: srvTLS, Codec: &lz4d, Cipher: "aes-256-cbc", Key: key}},
	}
	want := payload(3 << 20)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			c, s := tcpPair(t)
			got := make(chan []byte, 1)
			errc := make(chan error, 1)
			go func() {
				r, err := OpenRecv(ctx, s, tc.recv)
				if err != nil {
					errc <- err
					return
				}
				b, err := io.ReadAll(r)
				if cerr := r.Close(); err == nil {
					err = cerr
				}
				s.Close() // lets Finish see the end
				got <- b
				errc <- err
			}()
			w, err := OpenSend(ctx, c, tc.send)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if _, err := stream.Copy(ctx, w, bytes.NewReader(want)); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(ctx); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("receiver: %v", err)
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("received %d bytes, want the %d sent", len(b), len(want))
			}
		})
	}
}

// TestAbort checks that an aborted stream is an error for the receiver, not
// an orderly (truncated) end, even with a compressor that would write a
// valid trailer on Close.
func TestAbort(t *testing.T) {
	lz4z, _ := stream.ParseCodec("lz4 -z")
	lz4d, _ := stream.ParseCodec("lz4 -d")
	ctx := t.Context()
	c, s := tcpPair(t)
	w, err := OpenSend(ctx, c, Config{Codec: &lz4z})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(8 << 20)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		r, err := OpenRecv(ctx, s, Config{Codec: &lz4d})
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		errc <- err
	}()
	w.Abort()
	if err := <-errc; err == nil {
		t.Fatal("receiver read an aborted stream without an error")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srvTLS, _ := selfSigned(t)
	_, s := tcpPair(t) // the client never speaks
	start := time.Now()
	_, err := OpenRecv(t.Context(), s, Config{TLS: srvTLS, HandshakeTimeout: 200 * time.Millisecond, Peer: "donor"})
	var he *HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want a *HandshakeError", err)
	}
	if he.Certificate() {
		t.Errorf("a silent peer was classified as a certificate problem: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("handshake gave up after %v", d)
	}
}

func TestHandshakeCertificate(t *testing.T) {
	srvTLS, _ := selfSigned(t)
	_, other := selfSigned(t) // trusts another certificate
	c, s := tcpPair(t)
	go func() {
		if r, err := OpenRecv(t.Context(), s, Config{TLS: srvTLS}); err == nil {
			r.Close()
		}
		s.Close()
	}()
	_, err := OpenSend(t.Context(), c, Config{TLS: other, Peer: "joiner"})
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Certificate() {
		t.Fatalf("err = %v, want a certificate *HandshakeError", err)
	}
}

// TestHandshakeClientCertificate: a receiver that requires a client
// certificate (encrypt=4) refuses a sender without one and a sender with an
// untrusted one as the same kind of failure: a certificate problem, not a
// broken connection.
func TestHandshakeClientCertificate(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	otherSrv, _ := selfSigned(t)
	srvTLS.ClientAuth = tls.RequireAndVerifyClientCert
	srvTLS.ClientCAs = cliTLS.RootCAs
	untrusted := cliTLS.Clone()
	untrusted.Certificates = otherSrv.Certificates
	for name, cli := range map[string]*tls.Config{"missing": cliTLS, "untrusted": untrusted} {
		t.Run(name, func(t *testing.T) {
			c, s := tcpPair(t)
			go func() {
				if w, err := OpenSend(t.Context(), c, Config{TLS: cli}); err == nil {
					_, _ = w.Write([]byte("x"))
					w.Abort()
				}
				c.Close()
			}()
			_, err := OpenRecv(t.Context(), s, Config{TLS: srvTLS, Peer: "donor"})
			var he *HandshakeError
			if !errors.As(err, &he) || !he.Certificate() {
				t.Fatalf("err = %v, want a certificate *HandshakeError", err)
			}
		})
	}
}
