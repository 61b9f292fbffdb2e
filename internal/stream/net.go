package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// keepAlive is the TCP keep-alive setting for every connection made or
// accepted here: a peer that vanishes (power loss, partition) is noticed after
// about Idle + Count*Interval = 75 s instead of hanging the SST forever, one of
// the most common complaints about the socat pipe. The kernel answers probes
// even while the application is not reading, so a slow but live peer is safe.
func keepAlive() net.KeepAliveConfig {
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     15 * time.Second,
		Interval: 15 * time.Second,
		Count:    4,
	}
}

// ListenConfig says where Listen binds.
type ListenConfig struct {
	// Host is an IPv4 address, a host name, or an IPv6 literal with or
	// without brackets ("::1" or "[::1]"). Empty means all interfaces.
	// A host name is resolved and only one of its addresses is bound.
	Host string
	// Port is the TCP port; 0 picks a free port (see Listener.Addr).
	Port int
	// Network is "tcp" (the default when empty), "tcp4" or "tcp6"
	// (socat's pf=ip4 / pf=ip6).
	Network string
	// SendBuffer and RecvBuffer, when positive, set SO_SNDBUF and
	// SO_RCVBUF of every accepted connection (socat's sndbuf/rcvbuf).
	SendBuffer, RecvBuffer int
	// UserTimeout, when positive, sets TCP_USER_TIMEOUT on every accepted
	// connection: data left unacknowledged that long fails the connection,
	// so a half-open peer is noticed while we are sending.
	UserTimeout time.Duration
}

// Listener is a TCP listener whose Accept takes a context. One Listener
// serves any number of sequential Accepts: the SST joiner receives two
// sessions on the same port.
//
// Accept may be called from several goroutines; calls are served one at a
// time. Close and Addr are safe for concurrent use.
type Listener struct {
	ln   *net.TCPListener
	addr string
	cfg  ListenConfig
	// turn holds one token; an Accept takes it for the whole call because
	// the listener deadline that interrupts it is shared.
	turn chan struct{}
}

// Listen binds a TCP listener on cfg.Host:cfg.Port. As with socat's
// reuseaddr option, the socket has SO_REUSEADDR set (the Go runtime sets it on
// every listening socket on Unix), so a port still holding TIME_WAIT
// connections from the first SST session or from a previous attempt can be
// bound again at once.
//
// Errors name the address, e.g.
// "listen on 127.0.0.1:4444: address already in use", and wrap the system
// error (errors.Is(err, syscall.EADDRINUSE) holds).
func Listen(ctx context.Context, cfg ListenConfig) (*Listener, error) {
	addr := joinHostPort(cfg.Host, cfg.Port)
	lc := net.ListenConfig{KeepAliveConfig: keepAlive()}
	ln, err := lc.Listen(ctx, network(cfg.Network), addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, netCause(err))
	}
	l := &Listener{
		ln:   ln.(*net.TCPListener),
		addr: ln.Addr().String(),
		cfg:  cfg,
		turn: make(chan struct{}, 1),
	}
	l.turn <- struct{}{}
	return l, nil
}

// joinHostPort is net.JoinHostPort for a host that may already carry IPv6
// brackets ("[::1]") and an integer port.
func joinHostPort(host string, port int) string {
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Addr returns the address the listener is bound to, with the real port when
// ListenConfig.Port was 0.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening. A blocked Accept returns an error that satisfies
// errors.Is(err, net.ErrClosed). Connections already accepted stay open.
func (l *Listener) Close() error {
	if err := l.ln.Close(); err != nil {
		return fmt.Errorf("close listener on %s: %w", l.addr, netCause(err))
	}
	return nil
}

// aLongTimeAgo is a deadline in the past, used to wake a blocked Accept.
var aLongTimeAgo = time.Unix(1, 0)

// Accept waits for the next connection. It returns early when ctx is done,
// with an error wrapping context.Cause(ctx); the listener stays usable, so a
// per-call deadline (context.WithTimeout) can be followed by another Accept.
// A connection that arrives at the same moment ctx is done is closed and the
// context error returned, so a cancelled caller never receives a connection.
//
// The returned connection is a *net.TCPConn with TCP keep-alive enabled; the
// caller closes it.
func (l *Listener) Accept(ctx context.Context) (net.Conn, error) {
	return l.accept(ctx, false)
}

// AcceptKeep is Accept for a caller that keeps a connection arriving at
// the moment ctx is done: it returns it, with a nil error, instead of
// closing it (the joiner's gate hands such a connection to the next
// stage: it may be the donor's).
func (l *Listener) AcceptKeep(ctx context.Context) (net.Conn, error) {
	return l.accept(ctx, true)
}

func (l *Listener) accept(ctx context.Context, keep bool) (net.Conn, error) {
	select {
	case <-l.turn:
	case <-ctx.Done():
		return nil, fmt.Errorf("accept on %s: %w", l.addr, context.Cause(ctx))
	}
	defer func() { l.turn <- struct{}{} }()

	if ctx.Err() != nil {
		return nil, fmt.Errorf("accept on %s: %w", l.addr, context.Cause(ctx))
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		_ = l.ln.SetDeadline(aLongTimeAgo) // only fails on a closed listener
	})
	conn, err := l.ln.Accept()
	if !stop() {
		// The context fired: wait until the deadline is set before clearing
		// it, or a late SetDeadline would poison the next Accept.
		<-woken
		_ = l.ln.SetDeadline(time.Time{})
		if conn != nil && !keep {
			_ = conn.Close()
		}
		if conn == nil || !keep {
			return nil, fmt.Errorf("accept on %s: %w", l.addr, context.Cause(ctx))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("accept on %s: %w", l.addr, netCause(err))
	}
	if err := setSockopts(conn, l.cfg.SendBuffer, l.cfg.RecvBuffer, l.cfg.UserTimeout); err != nil {
		conn.Close()
		return nil, fmt.Errorf("accept on %s: %w", l.addr, err)
	}
	return conn, nil
}

// DialConfig says where and how patiently Dial connects.
type DialConfig struct {
	// Addr is "host:port"; IPv6 literals in brackets, e.g. "[::1]:4444".
	Addr string
	// Timeout is the total time budget for all attempts, backoff included.
	// Zero or negative means a single attempt.
	Timeout time.Duration
	// ConnectTimeout bounds each attempt; zero means an attempt may use the
	// whole remaining budget (and, with no Timeout, only ctx bounds it).
	ConnectTimeout time.Duration
	// Network is "tcp" (the default when empty), "tcp4" or "tcp6".
	Network string
	// SendBuffer and RecvBuffer, when positive, set SO_SNDBUF and
	// SO_RCVBUF of the connection.
	SendBuffer, RecvBuffer int
	// UserTimeout, when positive, sets TCP_USER_TIMEOUT (see ListenConfig).
	UserTimeout time.Duration
}

// Backoff between Dial attempts: doubles from minBackoff up to maxBackoff.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Dial connects to cfg.Addr over TCP with keep-alive enabled. While the peer
// is not there yet (connection refused, host or network unreachable, reset,
// attempt timeout, temporary DNS failure) it retries with exponential backoff
// from 50 ms up to 1 s until cfg.Timeout has passed or ctx is done. Other
// errors (a malformed address, an unknown host, permission denied) fail at
// once.
//
// The error says how long it tried and wraps the last cause, e.g.
// "connect to 127.0.0.1:4444: connection refused (after 30s, 57 attempts)".
// When ctx ends the wait, the error also wraps context.Cause(ctx).
func Dial(ctx context.Context, cfg DialConfig) (net.Conn, error) {
	start := time.Now()
	budget := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		budget, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	d := net.Dialer{KeepAliveConfig: keepAlive()}
	backoff := minBackoff
	var attempts int
	cancelled := func(last error) error {
		return fmt.Errorf("connect to %s: %w (after %s, %s; last error: %w)",
			cfg.Addr, context.Cause(ctx), roundElapsed(time.Since(start)), plural(attempts, "attempt"), last)
	}
	for {
		attempts++
		conn, err := dialOnce(budget, &d, cfg)
		if err == nil {
			if err := setSockopts(conn, cfg.SendBuffer, cfg.RecvBuffer, cfg.UserTimeout); err != nil {
				conn.Close()
				return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
			}
			return conn, nil
		}
		err = netCause(err)
		if ctx.Err() != nil {
			return nil, cancelled(err)
		}
		if cfg.Timeout <= 0 || !retryable(err) {
			return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-budget.Done():
			t.Stop()
		}
		if budget.Err() != nil {
			if ctx.Err() != nil {
				return nil, cancelled(err)
			}
			return nil, fmt.Errorf("connect to %s: %w (after %s, %s)",
				cfg.Addr, err, roundElapsed(time.Since(start)), plural(attempts, "attempt"))
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// dialOnce makes one connection attempt bounded by cfg.ConnectTimeout.
func dialOnce(ctx context.Context, d *net.Dialer, cfg DialConfig) (net.Conn, error) {
	if cfg.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
	}
	return d.DialContext(ctx, network(cfg.Network), cfg.Addr)
}

func network(n string) string {
	if n == "" {
		return "tcp"
	}
	return n
}

// setSockopts applies SO_SNDBUF, SO_RCVBUF and TCP_USER_TIMEOUT when
// positive.
func setSockopts(c net.Conn, snd, rcv int, userTimeout time.Duration) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if userTimeout > 0 {
		if err := setUserTimeout(tc, userTimeout); err != nil {
			return fmt.Errorf("set TCP_USER_TIMEOUT=%v: %w", userTimeout, err)
		}
	}
	if snd > 0 {
		if err := tc.SetWriteBuffer(snd); err != nil {
			return fmt.Errorf("set sndbuf=%d: %w", snd, err)
		}
	}
	if rcv > 0 {
		if err := tc.SetReadBuffer(rcv); err != nil {
			return fmt.Errorf("set rcvbuf=%d: %w", rcv, err)
		}
	}
	return nil
}

// retryable reports whether a failed connection attempt may succeed later,
// typically because the joiner has not started listening yet.
func retryable(err error) bool {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ETIMEDOUT):
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// netCause strips the *net.OpError and *os.SyscallError layers, whose
// messages ("dial tcp 127.0.0.1:4444: connect: ...") repeat what our own
// wrapping already says, while keeping the errno for errors.Is.
func netCause(err error) error {
	for {
		switch e := err.(type) { //nolint:errorlint // unwraps exactly these two layers, keeping what they wrap
		case *net.OpError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}

// roundElapsed makes durations in messages readable ("30s", "1.25s").
func roundElapsed(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
