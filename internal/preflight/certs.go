package preflight

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/tlsx"
)

// expiryWarning is how long before a certificate expires check warns.
const expiryWarning = 30 * 24 * time.Hour

// certificates checks the encryption settings of a role as the SST's
// preflight does (tlsx.Check for encrypt 2 to 4, the key for encrypt=1),
// and warns about certificates that expire within 30 days. role is
// "donor ", "joiner " or "" when both share the settings.
func (c *checker) certificates(role string, cfg *config.Config) {
	c.r.Checks++
	t := cfg.TLSSetup
	switch {
	case t.Encrypt == 1:
		c.cipher(cfg)
		return
	case t.Encrypt == 0 && t.Mode != "DISABLED":
		c.problem("%sssl-mode=%s but no certificate and key are configured", "set tcert and tkey in [sst] (or ssl-cert and ssl-key), or ssl-mode=DISABLED", role, t.Mode)
		return
	case t.Encrypt == 0:
		return
	}
	err := tlsx.Check(tlsx.Params{Encrypt: t.Encrypt, Mode: t.Mode, CA: t.CA, CAPath: t.CAPath, Cert: t.Cert, Key: t.Key, Now: c.p.Now})
	if err != nil {
		c.problem("%sTLS (encrypt=%d): %v", tlsFix(err), role, t.Encrypt, err)
	}
	now := c.p.Now()
	for _, f := range []string{t.Cert, t.CA} {
		if f == "" {
			continue
		}
		for _, cert := range readCerts(f) {
			left := cert.NotAfter.Sub(now)
			switch {
			case left <= 0 && err == nil:
				// tlsx checks the dates only with a CA.
				c.problem("%s: certificate '%s' expired on %s", "renew it", f, describe(cert), cert.NotAfter.UTC().Format(time.DateOnly))
			case left > 0 && left < expiryWarning:
				c.warning("%s: certificate '%s' expires on %s, %s", "renew it before then: the SST fails once it has expired", f, describe(cert), cert.NotAfter.UTC().Format(time.DateOnly), inDays(left))
			}
		}
	}
}

func inDays(d time.Duration) string {
	switch n := int(d.Hours() / 24); n {
	case 0:
		return "within a day"
	case 1:
		return "in 1 day"
	default:
		return fmt.Sprintf("in %d days", n)
	}
}

// tlsFix is the fix for a tlsx.Check error.
func tlsFix(err error) string {
	switch {
	case errors.Is(err, tlsx.ErrMissing):
		return "set tcert and tkey in [sst] (or ssl-cert and ssl-key; encrypt=4 also needs tca), or use encrypt=0"
	case errors.Is(err, tlsx.ErrKeyMismatch):
		return "set tkey (ssl-key) to the private key of that certificate, or tcert (ssl-cert) to the certificate of that key"
	case errors.Is(err, tlsx.ErrUntrusted):
		return "set tca (ssl-ca) to the CA that issued the certificate, or issue the certificate from that CA"
	case errors.Is(err, tlsx.ErrExpired):
		return "renew the certificate"
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return "correct the path, or make the file readable by the user mysqld runs as"
	}
	return "point the option at a PEM file holding the certificate (or key)"
}

// readCerts returns the certificates in a PEM file; nothing if it cannot
// be read (tlsx.Check reports that).
func readCerts(path string) []*x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if cert, err := x509.ParseCertificate(blk.Bytes); err == nil {
			out = append(out, cert)
		}
	}
}

func describe(cert *x509.Certificate) string {
	if cert.Subject.CommonName != "" {
		return "CN=" + cert.Subject.CommonName
	}
	return fmt.Sprintf("serial %x", cert.SerialNumber)
}

// cipher checks encrypt=1 as the SST's get_keys does.
func (c *checker) cipher(cfg *config.Config) {
	switch cfg.EncryptFormat {
	case "openssl":
	case "xbcrypt":
		c.problem("encrypt-format=xbcrypt is not supported", "use encrypt-format=openssl (byte-compatible with the stock script's openssl enc)")
	default:
		c.problem("unknown encrypt-format='%s'", "use encrypt-format=openssl", cfg.EncryptFormat)
	}
	if cfg.EncryptAlgo == "" {
		c.problem("encrypt=1 without encrypt-algo", "set [sst] encrypt-algo, e.g. aes-256-cbc")
	} else if err := tlsx.CheckCipher(cfg.EncryptAlgo); err != nil {
		c.problem("encrypt-algo=%s: %v", "use a supported cipher such as aes-256-cbc (see README)", cfg.EncryptAlgo, err)
	}
	switch {
	case cfg.EncryptKey != "":
	case cfg.EncryptKeyFile != "":
		if _, err := tlsx.ReadKeyFile(cfg.EncryptKeyFile); err != nil {
			c.problem("encrypt-key-file=%s: %v", "make it readable by the user mysqld runs as, with the key on its first line", cfg.EncryptKeyFile, err)
		}
	default:
		c.problem("encrypt=1 without a key", "set [sst] encrypt-key or encrypt-key-file")
	}
}
