package sst

import (
	"crypto/tls"
	"fmt"
	"io"
	"regexp"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/logx"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/tlsx"
)

// transport is how the bytes move between the nodes, resolved once from
// the configuration as read_cnf, get_keys and get_transfer do: TLS
// (encrypt=2/3/4, or ssl-mode), the openssl-enc cipher (encrypt=1), the
// compressor/decompressor and the rate limit. Progress and the stall
// watchdog are per stage (see pipeConfig).
type transport struct {
	encrypt int
	tls     tlsx.Params
	// tlsConfig is the joiner's server or the donor's client config.
	tlsConfig *tls.Config
	// mySecret is the joiner's secret for ssl-mode VERIFY_*, sent in its
	// address as "<CN>:<secret>@" and expected back in the gtid stage.
	mySecret   string
	addrPrefix string
	// cipher and key are the encrypt=1 algorithm and passphrase.
	cipher string
	key    []byte
	// codec is the [sst] compressor (donor) or decompressor (joiner).
	codec *stream.Codec
	// rate is the donor's rlimit in bytes per second, 0 for none.
	rate int64
}

// setupTransport mirrors read_cnf's encrypt/ssl-mode rules and the checks
// of get_keys and get_transfer, before any byte moves. Errors are
// fail.Invalid, or fail.KeyConfig where get_keys exits 3.
func (s *session) setupTransport() (*transport, error) {
	c := s.cfg
	ts := c.TLSSetup // read_cnf's resolution, done by config
	t := &transport{encrypt: ts.Encrypt}
	mode := ts.Mode
	for _, n := range ts.Notes {
		s.log.Info(n)
	}
	if s.args.Role == "joiner" && c.DonorAuth != "off" {
		// A fresh secret per SST in the ready address (gate.go): any
		// donor echoes it in the gtid stage, ours also signs every v2
		// connection with it. ssl-mode VERIFY_* replaces it below with
		// its own, with the certificate's CN in front.
		secret, err := tlsx.NewSecret()
		if err != nil {
			return nil, fail.Errorf(fail.Invalid, "unable to generate the donor-auth secret: %w", err)
		}
		s.redact.AddSecret(secret)
		// The user part must not be empty: 11.x's mysqld hands the
		// donor the remote pair (on its stdin) only when the user is
		// set. The stock donor uses it for nothing but the peer name it
		// expects from a TLS joiner's certificate, so with TLS it is our
		// certificate's CN (setupTLS), else a placeholder.
		t.mySecret, t.addrPrefix = secret, remoteUserPlaceholder+":"+secret+"@"
	}
	if mode != "DISABLED" && t.encrypt == 0 {
		// Never a silent plaintext fallback.
		return nil, fail.Errorf(fail.Invalid, "ssl-mode is set to '%s', but no usable SSL certificate and key were found. Cannot perform an encrypted transfer. Please configure ssl-cert and ssl-key, or set ssl-mode to DISABLED.", mode)
	}
	switch {
	case t.encrypt == 1:
		if err := s.setupCipher(t); err != nil {
			return nil, err
		}
	case t.encrypt >= 2:
		if err := s.setupTLS(t, mode, ts.CA, ts.CAPath, ts.Cert, ts.Key); err != nil {
			return nil, err
		}
	}
	if cmd := c.Codec; cmd != "" {
		codec, err := stream.ParseCodec(cmd)
		if err != nil {
			return nil, fail.Errorf(fail.Invalid, "compressor/decompressor %q: %w", cmd, err)
		}
		codec.Stderr = s.childLogWriter(cmd)
		codec.Env = childEnv(s.env)
		t.codec = &codec
		s.log.Info(fmt.Sprintf("Stream compression: %s", codec.String()))
	}
	if c.RateLimit > 0 {
		t.rate = c.RateLimit
		s.log.Info("Rate-limiting SST to " + c.Rlimit)
	}
	return t, nil
}

// remoteUserPlaceholder is the user part of a joiner's address that
// carries only the donor-auth secret.
const remoteUserPlaceholder = "sst"

// safeCN is what a certificate's CN may hold to travel as the user part
// of the address: mysqld and the stock donor refuse shell-unsafe ones.
var safeCN = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// setupCipher is get_keys for encrypt=1.
func (s *session) setupCipher(t *transport) error {
	c := s.cfg
	s.log.Info("Key based encryption enabled in my.cnf")
	if c.EncryptAlgo == "" {
		return fail.Errorf(fail.KeyConfig, "FATAL: Encryption algorithm empty from my.cnf, bailing out (set [sst] encrypt-algo)")
	}
	switch c.EncryptFormat {
	case "openssl":
	case "xbcrypt":
		return fail.Errorf(fail.Missing, "encrypt-format=xbcrypt is not supported; use encrypt-format=openssl (byte-compatible with the stock script's openssl enc)")
	default:
		return fail.Errorf(fail.Missing, "unknown encryption format='%s'", c.EncryptFormat)
	}
	if err := tlsx.CheckCipher(c.EncryptAlgo); err != nil {
		return fail.Errorf(fail.Invalid, "encrypt-algo=%s: %w", c.EncryptAlgo, err)
	}
	switch {
	case c.EncryptKey != "":
		t.key = []byte(c.EncryptKey.Reveal())
	case c.EncryptKeyFile != "":
		k, err := tlsx.ReadKeyFile(c.EncryptKeyFile)
		if err != nil {
			return fail.Errorf(fail.KeyConfig, "FATAL: Either key must be specified or keyfile must be readable: %w", err)
		}
		t.key = k
	default:
		return fail.Errorf(fail.KeyConfig, "FATAL: Either key must be specified or keyfile must be readable (set [sst] encrypt-key or encrypt-key-file)")
	}
	s.redact.AddSecret(string(t.key))
	t.cipher = c.EncryptAlgo
	return nil
}

// setupTLS is get_transfer's socat openssl setup plus the preflight checks
// (verify_cert_matches_key, verify_ca_matches_cert), and on the joiner the
// "<CN>:<secret>@" address prefix for ssl-mode VERIFY_*.
func (s *session) setupTLS(t *transport, mode, ca, capath, cert, key string) error {
	t.tls = tlsx.Params{Encrypt: t.encrypt, Mode: mode, CA: ca, CAPath: capath, Cert: cert, Key: key}
	if mode == "VERIFY_CA" {
		s.log.Info("Verifying peer certificate chain for ssl-mode=VERIFY_CA")
	}
	if err := tlsx.Check(t.tls); err != nil {
		return fail.Errorf(fail.Invalid, "TLS configuration (encrypt=%d): %w", t.encrypt, err)
	}
	if !t.tls.Verified() {
		s.log.Warn(fmt.Sprintf("encrypt=%d without a CA (tca/ssl-ca): the transfer is encrypted but the peer is NOT authenticated", t.encrypt))
	}
	var err error
	if s.args.Role == "joiner" {
		if t.mySecret != "" && !strings.HasPrefix(mode, "VERIFY") && cert != "" {
			// donor-auth with TLS: a stock donor takes the user part of
			// the address as the CN the joiner's certificate must carry
			// (unless its ssl-mode is VERIFY_CA): give it ours.
			cn, cerr := tlsx.CommonName(cert)
			switch {
			case cerr == nil && safeCN.MatchString(cn):
				t.addrPrefix = cn + ":" + t.mySecret + "@"
			default:
				why := fmt.Sprintf("CN %q has characters mysqld refuses in an address", cn)
				if cerr != nil {
					why = cerr.Error()
				}
				s.log.Warn(fmt.Sprintf("donor-auth: the common name of %s cannot travel in the SST address (%s): no secret is offered; the donor is authenticated by TLS alone", cert, why))
				t.mySecret, t.addrPrefix = "", ""
			}
		}
		if strings.HasPrefix(mode, "VERIFY") {
			cn := ""
			if cert != "" {
				if cn, err = tlsx.CommonName(cert); err != nil {
					return fail.Errorf(fail.Invalid, "unable to parse the certificate file to obtain the common name: %w", err)
				}
			}
			if t.mySecret, err = tlsx.NewSecret(); err != nil {
				return fail.Errorf(fail.Invalid, "unable to generate the 16-byte secret: %w", err)
			}
			s.redact.AddSecret(t.mySecret)
			t.addrPrefix = cn + ":" + t.mySecret + "@"
		}
		t.tlsConfig, err = tlsx.ServerConfig(t.tls)
	} else {
		t.tls.PeerName = t.tls.PeerNameFor(s.cfg.RemoteUser, s.args.HostUnescaped)
		if t.tls.PeerName != "" && t.tls.PeerName == s.cfg.RemoteUser {
			// safe WSREP_SST_OPT_REMOTE_USER, where the script makes
			// it socat's commonname: the joiner chose it.
			if err := config.CheckSafe("the joiner's user (WSREP_SST_OPT_REMOTE_USER)", s.cfg.RemoteUser); err != nil {
				return fail.Wrap(fail.Unsafe, err)
			}
		}
		t.tlsConfig, err = tlsx.ClientConfig(t.tls)
	}
	if err != nil {
		return fail.Errorf(fail.Invalid, "TLS configuration (encrypt=%d): %w", t.encrypt, err)
	}
	// get_transfer's lines, kept verbatim (socat and all) because log
	// scrapers and MariaDB's own tests look for them.
	action := "Encrypting"
	if s.args.Role == "joiner" {
		action = "Decrypting"
	}
	if t.encrypt == 2 {
		s.log.Info("Using openssl based encryption with socat: with crt and pem")
		s.log.Info(fmt.Sprintf("%s with cert='%s', ca='%s', capath='%s'", action, cert, ca, capath))
	} else {
		s.log.Info("Using openssl based encryption with socat: with key and crt")
		s.log.Info(fmt.Sprintf("%s with cert='%s', key='%s', ca='%s', capath='%s'", action, cert, key, ca, capath))
	}
	return nil
}

// childLogWriter returns a writer logging each line a child writes to its
// stderr, prefixed with the child's name. It logs from Write, so it needs
// no goroutine and no Close; a last line without a newline is not logged
// (the tail in the child's *proc.ExitError still quotes it). It is safe
// for concurrent use.
func (s *session) childLogWriter(name string) io.Writer {
	prefix := name + ": "
	return logx.NewLineWriter(maxLogLine, func(line string) { s.log.Info(prefix + line) })
}

// maxLogLine bounds an unfinished line: a longer one is logged in pieces.
const maxLogLine = 64 << 10

// pipeConfig is the pipe stack of one stage towards peer ("donor" or
// "joiner"); rate applies the donor's rlimit (the data stage only).
func (t *transport) pipeConfig(peer string, progress *stream.Progress, rate bool) pipe.Config {
	c := pipe.Config{TLS: t.tlsConfig, Cipher: t.cipher, Key: t.key, Codec: t.codec, Progress: progress, Peer: peer}
	if rate {
		c.Rate = t.rate
	}
	return c
}
