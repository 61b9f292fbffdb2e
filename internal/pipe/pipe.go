package pipe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/tlsx"
)

// DefaultHandshakeTimeout bounds a TLS handshake when Config says nothing:
// a peer that connects and then says nothing must not hold the transfer.
const DefaultHandshakeTimeout = 60 * time.Second

// finishTimeout bounds how long Finish waits for the receiver to close its
// side after the end of the stream.
const finishTimeout = 10 * time.Second

// RecvBufferSize is the receiver's read buffer on the connection, there for
// the stream's small header reads. It is smaller than the extractor's
// payload reads (512 KiB) and lz4's 4 MB blocks so that those bypass it instead of being copied through it. BenchmarkRecvBuffer in
// internal/sst (256 MiB over loopback into mbstream.Extract, 2 cores): the
// same throughput within noise as 1 MiB (the page cache writes bound it),
// about 0.1 s less user CPU per GiB (measured with time(1), 20 runs each).
const RecvBufferSize = 64 << 10

// ErrConfig marks failures caused by the local configuration (a cipher
// that cannot be set up) rather than by the transfer: fail.Invalid. Every
// other error of this package is fail.Transfer, but a HandshakeError over
// certificates (Class).
var ErrConfig = fail.New(fail.Invalid, "pipe: configuration")

// Config is the stack of one end. The zero value is a plain TCP stream.
type Config struct {
	// TLS, when non-nil, runs TLS on the connection: a server
	// configuration on the receiving end, a client one on the sending end.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake; 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Cipher and Key, when Cipher is set, encrypt (send) or decrypt (recv)
	// the stream as `openssl enc` does (tlsx.NewEncryptWriter).
	Cipher string
	Key    []byte
	// Codec, when non-nil, compresses (send) or decompresses (recv).
	Codec *stream.Codec
	// Rate limits the sender to this many bytes per second on the wire; 0
	// means no limit. The receiver ignores it.
	Rate int64
	// Progress, when non-nil, counts the bytes on the wire side of the
	// codec.
	Progress *stream.Progress
	// Watchdog, when non-nil, fails the transfer when the connection
	// stalls; Peer names the other end in its error ("donor", "joiner").
	Watchdog *Watchdog
	Peer     string
}

func (c Config) peer() string {
	if c.Peer == "" {
		return "peer"
	}
	return c.Peer
}

func (c Config) handshake(ctx context.Context, tc *tls.Conn) error {
	t := c.HandshakeTimeout
	if t <= 0 {
		t = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeoutCause(ctx, t, fmt.Errorf("no TLS handshake within %v", t))
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if ctx.Err() == nil && hctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(hctx), err)
		}
		return &HandshakeError{Peer: c.peer(), Err: err}
	}
	return nil
}

// HandshakeError is a failed TLS handshake.
type HandshakeError struct {
	Peer string
	Err  error
}

func (e *HandshakeError) Error() string {
	if e.Certificate() {
		return fmt.Sprintf("TLS handshake with the %s failed: %v (check the certificates, CA and ssl-mode on both nodes)", e.Peer, e.Err)
	}
	return fmt.Sprintf("TLS handshake with the %s failed: %v", e.Peer, e.Err)
}

// Class is fail.Invalid when the handshake failed over certificates or
// names (Certificate), else fail.Transfer.
func (e *HandshakeError) Class() fail.Class {
	if e.Certificate() {
		return fail.Invalid
	}
	return fail.Transfer
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// Certificate reports whether the handshake failed over certificates or
// names (a configuration problem on one of the nodes) rather than over the
// connection.
func (e *HandshakeError) Certificate() bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		name     *tlsx.NameError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
	)
	err := e.Err
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &name) || errors.As(err, &alert) || errors.As(err, &verify) ||
		// crypto/tls reports a missing client certificate (encrypt=4)
		// with an unexported error; only its text identifies it.
		strings.Contains(err.Error(), "didn't provide a certificate")
}

// Receiver is the incoming plaintext stream of one connection. Close
// releases the decompressor; the connection itself stays the caller's.
type Receiver struct {
	io.Reader
	tlsConn *tls.Conn
	closers []io.Closer
}

// TLS returns the state of the TLS session, ok false for a plain stream.
func (r *Receiver) TLS() (st tls.ConnectionState, ok bool) {
	if r.tlsConn == nil {
		return st, false
	}
	return r.tlsConn.ConnectionState(), true
}

// Close closes the stages in reverse order and returns the first error.
func (r *Receiver) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	return first
}

// OpenRecv stacks the receiving end on conn: TLS, a read buffer, progress,
// decompression, decryption (socat | pv | decompressor | openssl enc -d).
func OpenRecv(ctx context.Context, conn net.Conn, c Config) (*Receiver, error) {
	l, err := Accept(ctx, conn, c)
	if err != nil {
		return nil, err
	}
	return l.Recv(ctx, bufio.NewReaderSize(l, RecvBufferSize), c)
}

// Link is one connection after its TLS handshake, if any: the plaintext
// stream both ways, under rate limit, progress, compression and cipher.
// The v2 data stage exchanges its hello and manifest on it before
// stacking the rest (Recv, Send). Reads (receiving end) or writes
// (sending end) go through the Config's watchdog.
type Link struct {
	conn    net.Conn
	tlsConn *tls.Conn
	r       io.Reader
	w       io.Writer
}

// Read reads the plaintext stream.
func (l *Link) Read(p []byte) (int, error) { return l.r.Read(p) }

// Write writes the plaintext stream.
func (l *Link) Write(p []byte) (int, error) { return l.w.Write(p) }

// TLS returns the state of the TLS session, ok false for a plain stream.
func (l *Link) TLS() (st tls.ConnectionState, ok bool) {
	if l.tlsConn == nil {
		return st, false
	}
	return l.tlsConn.ConnectionState(), true
}

// Accept runs the receiving end's TLS handshake on conn (as the server),
// reads through c.Watchdog.
func Accept(ctx context.Context, conn net.Conn, c Config) (*Link, error) {
	var r io.Reader = conn
	if c.Watchdog != nil {
		r = c.Watchdog.Reader("no data received from the "+c.peer(), r)
	}
	l := &Link{conn: conn, r: r, w: conn}
	if c.TLS != nil {
		tc := tls.Server(readConn{conn, r}, c.TLS)
		if err := c.handshake(ctx, tc); err != nil {
			return nil, err
		}
		l.tlsConn, l.r, l.w = tc, tc, tc
	}
	return l, nil
}

// Recv stacks progress, decompression and decryption on r, which is l
// or a buffered reader of l holding what the caller peeked at.
func (l *Link) Recv(ctx context.Context, r io.Reader, c Config) (*Receiver, error) {
	rs := &Receiver{Reader: r, tlsConn: l.tlsConn}
	if c.Progress != nil {
		rs.Reader = c.Progress.Reader(rs.Reader)
	}
	if c.Codec != nil {
		dr, err := c.Codec.NewReader(ctx, rs.Reader)
		if err != nil {
			return nil, fail.Errorf(fail.Transfer, "start decompressor: %w", err)
		}
		rs.Reader = dr
		rs.closers = append(rs.closers, dr)
	}
	if c.Cipher != "" {
		dr, err := tlsx.NewDecryptReader(rs.Reader, c.Cipher, c.Key)
		if err != nil {
			_ = rs.Close()
			hint := ""
			if errors.Is(err, tlsx.ErrBadMagic) || errors.Is(err, tlsx.ErrBadDecrypt) {
				hint = " (encrypt=1: check encrypt-key and encrypt-algo on both nodes)"
			}
			return nil, fail.Errorf(fail.Transfer, "decrypt the stream: %w%s", err, hint)
		}
		rs.Reader = dr
	}
	return rs, nil
}

// readConn is a net.Conn whose reads go through r (the watchdog), so that
// TLS reads the connection through it.
type readConn struct {
	net.Conn
	r io.Reader
}

func (c readConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// writeConn is a net.Conn whose writes go through w (the watchdog).
type writeConn struct {
	net.Conn
	w io.Writer
}

func (c writeConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Sender is the outgoing stream of one connection. Write to it, then call
// Finish; on any failure call Abort (deferring Abort is safe: it does
// nothing after Finish). The connection stays the caller's to close.
type Sender struct {
	io.Writer
	conn    net.Conn
	tlsConn *tls.Conn
	// closers finish the stages on top of the connection, outermost first.
	closers []io.Closer
	// finished is set once Finish or Abort has run.
	finished bool
}

// OpenSend stacks the sending end on conn, in the order of the script's
// pipeline: openssl enc | compressor | pv (rate limit, progress) | socat
// (TLS).
func OpenSend(ctx context.Context, conn net.Conn, c Config) (*Sender, error) {
	l, err := Connect(ctx, conn, c)
	if err != nil {
		return nil, err
	}
	return l.Send(ctx, c)
}

// Connect runs the sending end's TLS handshake on conn (as the client),
// writes through c.Watchdog.
func Connect(ctx context.Context, conn net.Conn, c Config) (*Link, error) {
	var w io.Writer = conn
	if c.Watchdog != nil {
		w = c.Watchdog.Writer("the "+c.peer()+" accepted no data", w)
	}
	l := &Link{conn: conn, r: conn, w: w}
	if c.TLS != nil {
		tc := tls.Client(writeConn{conn, w}, c.TLS)
		if err := c.handshake(ctx, tc); err != nil {
			return nil, err
		}
		l.tlsConn, l.r, l.w = tc, tc, tc
	}
	return l, nil
}

// Send stacks rate limit, progress, compression and encryption on l.
func (l *Link) Send(ctx context.Context, c Config) (*Sender, error) {
	ss := &Sender{conn: l.conn, tlsConn: l.tlsConn}
	w := l.w
	if c.Rate > 0 {
		w = stream.NewThrottledWriter(ctx, w, c.Rate)
	}
	if c.Progress != nil {
		w = c.Progress.Writer(w)
	}
	if c.Codec != nil {
		cw, err := c.Codec.NewWriter(ctx, w)
		if err != nil {
			return nil, fail.Errorf(fail.Transfer, "start compressor: %w", err)
		}
		w = cw
		ss.closers = append([]io.Closer{cw}, ss.closers...)
	}
	if c.Cipher != "" {
		ew, err := tlsx.NewEncryptWriter(w, c.Cipher, c.Key)
		if err != nil {
			ss.Abort()
			return nil, fmt.Errorf("%w: encrypt the stream: %w", ErrConfig, err)
		}
		w = ew
		ss.closers = append([]io.Closer{ew}, ss.closers...)
	}
	ss.Writer = w
	return ss, nil
}

// Finish flushes every stage, then ends the connection so that the
// receiver sees the end of the stream and has read it all: TLS
// close_notify, or a TCP half-close, then a bounded wait for the peer to
// close its side (without it a stock socat joiner can lose the tail of the
// stream to a reset).
func (ss *Sender) Finish(ctx context.Context) error {
	ss.finished = true
	for _, c := range ss.closers {
		if err := c.Close(); err != nil {
			return err
		}
	}
	ss.closers = nil
	if ss.tlsConn != nil {
		sctx, cancel := context.WithTimeout(ctx, finishTimeout)
		defer cancel()
		return tlsx.Shutdown(sctx, ss.tlsConn)
	}
	return closeWrite(ss.conn)
}

// Abort ends a stream that failed: the connection is reset first, so the
// receiver sees an error rather than an orderly end (closing a compressor
// or cipher stage would otherwise write a valid trailer), then the stages
// are released. It does nothing after Finish.
func (ss *Sender) Abort() {
	if ss.finished {
		return
	}
	ss.finished = true
	ss.Reset()
	for _, c := range ss.closers {
		_ = c.Close()
	}
	ss.closers = nil
}

// Reset closes the connection with a TCP reset, so that the receiver sees
// an error rather than an orderly end, and writes in flight fail; the
// stages stay. A caller whose other goroutines may still be writing
// through the stages resets first, waits for them, then calls Abort.
func (ss *Sender) Reset() {
	if tc, ok := ss.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = ss.conn.Close()
}

// closeWrite half-closes a TCP connection so the peer sees the end of the
// stream, then waits briefly for the peer to close its side, so that the
// data is known to have been read before success is reported.
func closeWrite(c net.Conn) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if err := tc.CloseWrite(); err != nil {
		return err
	}
	_ = tc.SetReadDeadline(time.Now().Add(finishTimeout))
	_, _ = io.Copy(io.Discard, tc)
	return nil
}
