package tlsx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// readPEMFile reads path and returns the DER bytes of its blocks whose type
// satisfies keep, in file order.
func readPEMFile(path string, keep func(typ string) bool) ([][]byte, []*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var ders [][]byte
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if keep(b.Type) {
			ders = append(ders, b.Bytes)
			blocks = append(blocks, b)
		}
	}
	return ders, blocks, nil
}

func isCertType(t string) bool { return t == "CERTIFICATE" || t == "TRUSTED CERTIFICATE" }

func isKeyType(t string) bool { return t == "PRIVATE KEY" || strings.HasSuffix(t, " PRIVATE KEY") }

// loadCerts returns the certificates in a PEM file, leaf first (the order
// SSL_CTX_use_certificate_chain_file expects: leaf, then intermediates).
func loadCerts(path string) ([]*x509.Certificate, [][]byte, error) {
	ders, _, err := readPEMFile(path, isCertType)
	if err != nil {
		return nil, nil, &CheckError{Op: "read certificate", Path: path, Err: err}
	}
	if len(ders) == 0 {
		return nil, nil, &CheckError{Op: "read certificate", Path: path, Err: fmt.Errorf("no PEM certificate found: %w", ErrBadFile)}
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, &CheckError{Op: "read certificate", Path: path, Err: fmt.Errorf("certificate #%d: %w (%w)", i+1, err, ErrBadFile)}
		}
		certs = append(certs, c)
	}
	return certs, ders, nil
}

// loadKey returns the first private key in a PEM file.
func loadKey(path string) (crypto.Signer, error) {
	_, blocks, err := readPEMFile(path, isKeyType)
	if err != nil {
		return nil, &CheckError{Op: "read private key", Path: path, Err: err}
	}
	if len(blocks) == 0 {
		return nil, &CheckError{Op: "read private key", Path: path, Err: fmt.Errorf("no PEM private key found: %w", ErrBadFile)}
	}
	b := blocks[0]
	if _, ok := b.Headers["DEK-Info"]; ok || b.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, &CheckError{Op: "read private key", Path: path, Err: fmt.Errorf("the key is encrypted with a passphrase, which SST cannot supply: %w", ErrBadFile)}
	}
	var key any
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, &CheckError{Op: "read private key", Path: path, Err: fmt.Errorf("%w (%w)", err, ErrBadFile)}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, &CheckError{Op: "read private key", Path: path, Err: fmt.Errorf("unsupported key type %T: %w", key, ErrBadFile)}
}

// loadKeyPair mirrors verify_cert_matches_key and socat's cert=/key=
// loading: certFile holds the leaf and optional intermediates, keyFile the
// key (for encrypt=2 both are the same PEM file).
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certs, ders, err := loadCerts(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := loadKey(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return tls.Certificate{}, &CheckError{Op: "match private key " + keyFile + " with certificate", Path: certFile, Err: ErrKeyMismatch}
	}
	return tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: certs[0]}, nil
}

// loadCAPool builds the trust anchors from a CA file and/or a CA directory.
// OpenSSL looks certificates up in a CA path by subject hash (c_rehash
// names); loading every certificate found in the directory is a superset.
func loadCAPool(caFile, caPath string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if caFile != "" {
		ders, _, err := readPEMFile(caFile, isCertType)
		if err != nil {
			return nil, &CheckError{Op: "read CA file", Path: caFile, Err: err}
		}
		n := 0
		for _, der := range ders {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, &CheckError{Op: "read CA file", Path: caFile, Err: fmt.Errorf("%w (%w)", err, ErrBadFile)}
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, &CheckError{Op: "read CA file", Path: caFile, Err: fmt.Errorf("no PEM certificate found: %w", ErrBadFile)}
		}
	}
	if caPath != "" {
		entries, err := os.ReadDir(caPath)
		if err != nil {
			return nil, &CheckError{Op: "read CA path", Path: caPath, Err: err}
		}
		n := 0
		for _, e := range entries {
			name := filepath.Join(caPath, e.Name())
			if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			ders, _, err := readPEMFile(name, isCertType)
			if err != nil {
				continue // unreadable files are skipped, as OpenSSL's lookup does
			}
			for _, der := range ders {
				if c, err := x509.ParseCertificate(der); err == nil {
					pool.AddCert(c)
					n++
				}
			}
		}
		if n == 0 {
			return nil, &CheckError{Op: "read CA path", Path: caPath, Err: fmt.Errorf("no PEM certificate found in the directory: %w", ErrBadFile)}
		}
	}
	return pool, nil
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// firstCN returns the first commonName attribute of the subject, which is
// what openssl_getCN and socat's openssl_check_peername look at
// (pkix.Name.CommonName holds the last one).
func firstCN(c *x509.Certificate) string {
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			if s, ok := atv.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// CommonName returns the subject commonName (CN) of the first certificate
// in certFile, or "" if it has none. It mirrors openssl_getCN in
// wsrep_sst_common, which the joiner uses to build the "<CN>:<secret>@"
// prefix of its address when ssl-mode is VERIFY_*. The error is a
// *CheckError naming the file (the script exits 22).
func CommonName(certFile string) (string, error) {
	certs, _, err := loadCerts(certFile)
	if err != nil {
		return "", err
	}
	return firstCN(certs[0]), nil
}

// describeCert names a certificate for error messages.
func describeCert(c *x509.Certificate) string {
	s := fmt.Sprintf("subject %q", c.Subject.String())
	if c.Issuer.String() != c.Subject.String() {
		s += fmt.Sprintf(", issuer %q", c.Issuer.String())
	}
	return s
}

// mapVerifyError turns an x509 verification failure into the package's
// sentinels.
func mapVerifyError(err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	return fmt.Errorf("%w: %w", ErrUntrusted, err)
}
