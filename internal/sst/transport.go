package sst

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/tlsx"
)

// transport is how the bytes move between the nodes, resolved once from
// the configuration as read_cnf, get_keys and get_transfer do: TLS
// (encrypt=2/3/4, or ssl-mode), the openssl-enc cipher (encrypt=1), the
// compressor/decompressor, the rate limit and progress reporting.
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
// of get_keys and get_transfer, before any byte moves. Errors are EINVAL
// (22), or ExitKeyConfig (3) where get_keys exits 3.
func (s *session) setupTransport() (*transport, error) {
	c := s.cfg
	t := &transport{encrypt: c.Encrypt}
	mode := c.SSLMode
	var files struct{ ca, capath, cert, key string }
	if t.encrypt == 0 || t.encrypt >= 2 {
		if mode != "DISABLED" || t.encrypt >= 2 {
			f := c.TLSFiles()
			if f.Note != "" {
				s.log.Info(f.Note)
			}
			files.ca, files.capath, files.cert, files.key = f.CA, f.CAPath, f.Cert, f.Key
		}
		// MTR test hook: simulate a missing SSL certificate and key.
		if os.Getenv("MTR_SST_SIMULATE_NO_SSL_CERT") != "" {
			files.cert, files.key = "", ""
		}
		if mode != "DISABLED" && t.encrypt == 0 && files.cert != "" && files.key != "" {
			t.encrypt = 3 // enable cert/key SSL encryption
			// Nodes may have different self-generated CAs: verify
			// only when ssl-mode asks for it.
			if !strings.HasPrefix(mode, "VERIFY") {
				files.ca, files.capath = "", ""
			}
		}
	}
	s.log.Info(fmt.Sprintf("SSL configuration: CA='%s', CAPATH='%s', CERT='%s', KEY='%s', MODE='%s', encrypt='%d'",
		files.ca, files.capath, files.cert, files.key, mode, t.encrypt))
	if mode != "DISABLED" && t.encrypt == 0 {
		// Never a silent plaintext fallback.
		return nil, errorf(ExitInvalid, "ssl-mode is set to '%s', but no usable SSL certificate and key were found. Cannot perform an encrypted transfer. Please configure ssl-cert and ssl-key, or set ssl-mode to DISABLED.", mode)
	}
	switch {
	case t.encrypt == 1:
		if err := s.setupCipher(t); err != nil {
			return nil, err
		}
	case t.encrypt >= 2:
		if err := s.setupTLS(t, mode, files.ca, files.capath, files.cert, files.key); err != nil {
			return nil, err
		}
	}
	if c.Compressor != "" && s.args.Role == "donor" || c.Decompressor != "" && s.args.Role == "joiner" {
		cmd := c.Compressor
		if s.args.Role == "joiner" {
			cmd = c.Decompressor
		}
		codec, err := stream.ParseCodec(cmd)
		if err != nil {
			return nil, errorf(ExitInvalid, "compressor/decompressor %q: %w", cmd, err)
		}
		codec.Stderr = s.childLogWriter(cmd)
		codec.Env = childEnv(s.Env)
		t.codec = &codec
		s.log.Info(fmt.Sprintf("Stream compression: %s", codec.String()))
	}
	if c.Rlimit != "" && s.args.Role == "donor" {
		r, err := stream.ParseRate(c.Rlimit)
		if err != nil {
			return nil, errorf(ExitInvalid, "rlimit=%q: %w", c.Rlimit, err)
		}
		t.rate = r
		s.log.Info("Rate-limiting SST to " + c.Rlimit)
	}
	return t, nil
}

// setupCipher is get_keys for encrypt=1.
func (s *session) setupCipher(t *transport) error {
	c := s.cfg
	s.log.Info("Key based encryption enabled in my.cnf")
	if c.EncryptAlgo == "" {
		return errorf(ExitKeyConfig, "FATAL: Encryption algorithm empty from my.cnf, bailing out (set [sst] encrypt-algo)")
	}
	switch c.EncryptFormat {
	case "openssl":
	case "xbcrypt":
		return errorf(ExitNoEnt, "encrypt-format=xbcrypt is not supported; use encrypt-format=openssl (byte-compatible with the stock script's openssl enc)")
	default:
		return errorf(ExitNoEnt, "unknown encryption format='%s'", c.EncryptFormat)
	}
	if err := tlsx.CheckCipher(c.EncryptAlgo); err != nil {
		return errorf(ExitInvalid, "encrypt-algo=%s: %w", c.EncryptAlgo, err)
	}
	switch {
	case c.EncryptKey != "":
		t.key = []byte(c.EncryptKey.Reveal())
	case c.EncryptKeyFile != "":
		k, err := tlsx.ReadKeyFile(c.EncryptKeyFile)
		if err != nil {
			return errorf(ExitKeyConfig, "FATAL: Either key must be specified or keyfile must be readable: %w", err)
		}
		t.key = k
	default:
		return errorf(ExitKeyConfig, "FATAL: Either key must be specified or keyfile must be readable (set [sst] encrypt-key or encrypt-key-file)")
	}
	s.Redact.AddSecret(string(t.key))
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
		return errorf(ExitInvalid, "TLS configuration (encrypt=%d): %w", t.encrypt, err)
	}
	if !t.tls.Verified() {
		s.log.Warn(fmt.Sprintf("encrypt=%d without a CA (tca/ssl-ca): the transfer is encrypted but the peer is NOT authenticated", t.encrypt))
	}
	var err error
	if s.args.Role == "joiner" {
		if strings.HasPrefix(mode, "VERIFY") {
			cn := ""
			if cert != "" {
				if cn, err = tlsx.CommonName(cert); err != nil {
					return errorf(ExitInvalid, "unable to parse the certificate file to obtain the common name: %w", err)
				}
			}
			if t.mySecret, err = tlsx.NewSecret(); err != nil {
				return errorf(ExitInvalid, "unable to generate the 16-byte secret: %w", err)
			}
			s.Redact.AddSecret(t.mySecret)
			t.addrPrefix = cn + ":" + t.mySecret + "@"
		}
		t.tlsConfig, err = tlsx.ServerConfig(t.tls)
	} else {
		t.tls.PeerName = t.tls.PeerNameFor(s.cfg.RemoteUser, s.args.HostUnescaped)
		t.tlsConfig, err = tlsx.ClientConfig(t.tls)
	}
	if err != nil {
		return errorf(ExitInvalid, "TLS configuration (encrypt=%d): %w", t.encrypt, err)
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
	return &lineLogger{log: s.log, prefix: name + ": "}
}

// lineLogger is childLogWriter's writer.
type lineLogger struct {
	log    *slog.Logger
	prefix string
	mu     sync.Mutex
	buf    []byte // an unfinished line
}

// maxLogLine bounds an unfinished line: a longer one is logged in pieces.
const maxLogLine = 64 << 10

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLogLine {
			break
		}
		if i < 0 {
			i = len(l.buf)
		}
		l.log.Info(l.prefix + strings.TrimSuffix(string(l.buf[:i]), "\r"))
		l.buf = l.buf[min(i+1, len(l.buf)):]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

// tlsHandshakeError classifies a failed handshake: certificate and name
// problems are configuration errors (22), anything else a transfer
// failure (32).
func tlsHandshakeError(ctx context.Context, who string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		name     *tlsx.NameError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &name) || errors.As(err, &alert) || errors.As(err, &verify) {
		return errorf(ExitInvalid, "TLS handshake with the %s failed: %w (check the certificates, CA and ssl-mode on both nodes)", who, err)
	}
	return errorf(ExitPipe, "TLS handshake with the %s failed: %w", who, err)
}

// recvStream is one stage's incoming byte stream on the joiner: TLS,
// progress counting, decompression and decryption, in the order the
// script's pipeline has them (socat | pv | decompressor | openssl enc -d).
type recvStream struct {
	io.Reader
	closers []io.Closer
}

func (r *recvStream) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// recvBufferSize is the joiner's read buffer on the connection, there for
// the data stage's Peek and the stream's small header reads. It is smaller
// than the extractor's payload reads (512 KiB) and lz4's 4 MB blocks so that
// those bypass it instead of being copied through it. BenchmarkRecvBuffer
// (256 MiB over loopback into mbstream.Extract, 2 cores): the same
// throughput within noise as 1 MiB (the page cache writes bound it), about
// 0.1 s less user CPU per GiB (measured with time(1), 20 runs each).
const recvBufferSize = 64 << 10

// openRecv wraps an accepted connection. peek, if set, is called on the
// plaintext stream before decompression (the data stage waits there for
// the donor's first bytes).
func (s *session) openRecv(ctx context.Context, t *transport, conn net.Conn, progress *stream.Progress, peek func(*bufio.Reader) error) (*recvStream, error) {
	var r io.Reader = conn
	if t.tlsConfig != nil {
		tc := tls.Server(conn, t.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, tlsHandshakeError(ctx, "donor", err)
		}
		r = tc
	}
	br := bufio.NewReaderSize(r, recvBufferSize)
	if peek != nil {
		if err := peek(br); err != nil {
			return nil, err
		}
	}
	rs := &recvStream{Reader: br}
	if progress != nil {
		rs.Reader = progress.Reader(rs.Reader)
	}
	if t.codec != nil {
		dr, err := t.codec.NewReader(ctx, rs.Reader)
		if err != nil {
			return nil, errorf(ExitPipe, "start decompressor: %w", err)
		}
		rs.Reader = dr
		rs.closers = append(rs.closers, dr)
	}
	if t.cipher != "" {
		dr, err := tlsx.NewDecryptReader(rs.Reader, t.cipher, t.key)
		if err != nil {
			_ = rs.Close()
			return nil, errorf(ExitPipe, "decrypt the stream (encrypt=1, check encrypt-key on both nodes): %w", err)
		}
		rs.Reader = dr
	}
	return rs, nil
}

// sendStream is one stage's outgoing stream on the donor, in the order of
// the script's pipeline: openssl enc | compressor | pv (rate limit,
// progress) | socat (TLS).
type sendStream struct {
	io.Writer
	conn    net.Conn
	tlsConn *tls.Conn
	// closers finish the stages on top of the connection, outermost first.
	closers []io.Closer
	// finished is set once finish has run: abort has nothing left to do.
	finished bool
}

func (s *session) openSend(ctx context.Context, t *transport, conn net.Conn, progress *stream.Progress, throttle bool) (*sendStream, error) {
	ss := &sendStream{conn: conn}
	var w io.Writer = conn
	if t.tlsConfig != nil {
		tc := tls.Client(conn, t.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, tlsHandshakeError(ctx, "joiner", err)
		}
		ss.tlsConn = tc
		w = tc
	}
	if throttle && t.rate > 0 {
		w = stream.NewThrottledWriter(ctx, w, t.rate)
	}
	if progress != nil {
		w = progress.Writer(w)
	}
	if t.codec != nil {
		cw, err := t.codec.NewWriter(ctx, w)
		if err != nil {
			return nil, errorf(ExitPipe, "start compressor: %w", err)
		}
		w = cw
		ss.closers = append([]io.Closer{cw}, ss.closers...)
	}
	if t.cipher != "" {
		ew, err := tlsx.NewEncryptWriter(w, t.cipher, t.key)
		if err != nil {
			return nil, errorf(ExitInvalid, "encrypt the stream: %w", err)
		}
		w = ew
		ss.closers = append([]io.Closer{ew}, ss.closers...)
	}
	ss.Writer = w
	return ss, nil
}

// finish flushes every stage, then ends the connection so that the joiner
// sees the end of the stream and has read it all (TLS close_notify, then
// waiting for the peer to close; without it a stock socat joiner can lose
// the tail of the stream to a reset).
func (ss *sendStream) finish(ctx context.Context) error {
	ss.finished = true
	for _, c := range ss.closers {
		if err := c.Close(); err != nil {
			return err
		}
	}
	ss.closers = nil
	if ss.tlsConn != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return tlsx.Shutdown(sctx, ss.tlsConn)
	}
	return closeWrite(ss.conn)
}

// abort ends a stream that failed: the connection is reset first, so the
// joiner sees an error rather than an orderly end (closing a compressor or
// cipher stage would otherwise write a valid trailer), then the stages are
// released. It does nothing after finish.
func (ss *sendStream) abort() {
	if ss.finished {
		return
	}
	ss.finished = true
	if tc, ok := ss.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = ss.conn.Close()
	for _, c := range ss.closers {
		_ = c.Close()
	}
	ss.closers = nil
}
