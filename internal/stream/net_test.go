package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// listenT listens on cfg and closes the listener at the end of the test.
func listenT(t testing.TB, cfg ListenConfig) *Listener {
	t.Helper()
	l, err := Listen(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// dialPair dials l with dc (its Addr set to l's) and accepts the
// connection: both ends, closed when the test ends.
func dialPair(t testing.TB, l *Listener, dc DialConfig) (client, server net.Conn) {
	t.Helper()
	dc.Addr = l.Addr().String()
	client, err := Dial(t.Context(), dc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, err = l.Accept(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return client, server
}

func skipWithoutIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	_ = ln.Close()
}

// TestTwoSessions mirrors the SST joiner: one listener, two sequential
// connections (stage 1 and stage 2), each read to EOF.
func TestTwoSessions(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	addr := l.Addr().String()
	stages := []string{"stage 1: galera info", "stage 2: the backup"}

	sent := make(chan error, 1)
	go func() {
		for _, msg := range stages {
			conn, err := Dial(t.Context(), DialConfig{Addr: addr, Timeout: 10 * time.Second})
			if err != nil {
				sent <- err
				return
			}
			_, err = io.WriteString(conn, msg)
			if cerr := conn.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()

	for _, want := range stages {
		conn, err := l.Accept(t.Context())
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		got, err := io.ReadAll(conn)
		_ = conn.Close()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
}

func TestListenHosts(t *testing.T) {
	tests := []struct {
		host string
		ipv6 bool
	}{
		{"127.0.0.1", false},
		{"", false},
		{"localhost", false},
		{"::1", true},
		{"[::1]", true},
		{"::", true},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.host), func(t *testing.T) {
			if tt.ipv6 {
				skipWithoutIPv6(t)
			}
			l := listenT(t, ListenConfig{Host: tt.host})
			port := l.Addr().(*net.TCPAddr).Port
			dialHost := "127.0.0.1"
			if tt.ipv6 {
				dialHost = "::1"
			}
			dialAddr := net.JoinHostPort(dialHost, strconv.Itoa(port))
			if tt.host == "localhost" {
				dialAddr = l.Addr().String() // whichever address localhost resolved to
			}
			exchange(t, l, dialAddr)
		})
	}
}

// exchange dials addr, accepts on l and sends one message across.
func exchange(t *testing.T, l *Listener, addr string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		conn, err := Dial(t.Context(), DialConfig{Addr: addr, Timeout: 5 * time.Second})
		if err == nil {
			_, err = io.WriteString(conn, "ping")
			_ = conn.Close()
		}
		errc <- err
	}()
	conn, err := l.Accept(t.Context())
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer conn.Close()
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "ping" {
		t.Errorf("read %q, %v; want \"ping\", nil", got, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
}

func TestListenAddressInUse(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	port := l.Addr().(*net.TCPAddr).Port
	_, err := Listen(t.Context(), ListenConfig{Host: "127.0.0.1", Port: port})
	want := fmt.Sprintf("listen on 127.0.0.1:%d: address already in use", port)
	if err == nil || err.Error() != want {
		t.Fatalf("Listen error %v, want %s", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("errors.Is(%v, EADDRINUSE) = false", err)
	}
}

// TestListenAgainAfterSession binds the port of a finished session again at
// once, although the listener's side holds the connection in TIME_WAIT
// (it closed first), which only works with SO_REUSEADDR.
func TestListenAgainAfterSession(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	port := l.Addr().(*net.TCPAddr).Port
	client, server := dialPair(t, l, DialConfig{})
	if err := server.Close(); err != nil { // active close: TIME_WAIT here
		t.Fatal(err)
	}
	if _, err := io.ReadAll(client); err != nil {
		t.Fatal(err)
	}
	_ = client.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := listenT(t, ListenConfig{Host: "127.0.0.1", Port: port})
	exchange(t, l2, l2.Addr().String())
}

func TestAcceptContext(t *testing.T) {
	errStop := errors.New("parent mysqld died")
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{"deadline", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
		{"alreadyCancelled", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, context.Canceled},
		{"cause", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancelCause(t.Context())
			go cancel(errStop)
			return ctx
		}, errStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listenT(t, ListenConfig{Host: "127.0.0.1"})
			conn, err := l.Accept(tt.ctx(t))
			if conn != nil {
				t.Errorf("Accept returned a connection")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Accept = %v, want %v", err, tt.want)
			}
			if want := "accept on " + l.Addr().String() + ": "; err.Error()[:len(want)] != want {
				t.Errorf("error %q does not start with %q", err, want)
			}
			// The listener still works after a cancelled Accept.
			exchange(t, l, l.Addr().String())
		})
	}
}

func TestAcceptClosed(t *testing.T) {
	l, err := Listen(t.Context(), ListenConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept(context.Background())
		errc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

// TestAcceptConcurrent: concurrent Accepts take turns; cancelling one that
// waits for its turn does not disturb the other.
func TestAcceptConcurrent(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	results := make([]error, 3)
	for i := range results {
		c := t.Context()
		if i == 0 {
			c = ctx
		}
		wg.Go(func() {
			conn, err := l.Accept(c)
			if err == nil {
				_ = conn.Close()
			}
			results[i] = err
		})
	}
	cancel()
	for range 2 {
		conn, err := Dial(t.Context(), DialConfig{Addr: l.Addr().String(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	wg.Wait()
	// cancel ran before any Dial, so the first Accept cannot have won one.
	if !errors.Is(results[0], context.Canceled) {
		t.Errorf("cancelled Accept = %v, want context.Canceled", results[0])
	}
	var accepted int
	for _, err := range results {
		if err == nil {
			accepted++
		}
	}
	if accepted != 2 {
		t.Errorf("%d Accepts succeeded (%v), want 2", accepted, results)
	}
}

// TestDialRetriesUntilListening starts the listener only after Dial has
// begun; Dial must keep retrying and succeed.
func TestDialRetriesUntilListening(t *testing.T) {
	port := galeratest.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	type result struct {
		l   *Listener
		err error
	}
	ready := make(chan result, 1)
	timer := time.AfterFunc(300*time.Millisecond, func() {
		l, err := Listen(context.Background(), ListenConfig{Host: "127.0.0.1", Port: port})
		ready <- result{l, err}
	})
	defer timer.Stop()

	conn, err := Dial(t.Context(), DialConfig{Addr: addr, Timeout: 20 * time.Second, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	r := <-ready
	if r.err != nil {
		t.Fatalf("Listen: %v", r.err)
	}
	defer r.l.Close()
	server, err := r.l.Accept(t.Context())
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	_ = server.Close()
}

func TestDialErrors(t *testing.T) {
	port := galeratest.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	errStop := errors.New("SIGTERM")
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		cfg     DialConfig
		match   string // regexp for the whole message
		wantErr []error
	}{
		{
			name:    "gives up",
			cfg:     DialConfig{Addr: addr, Timeout: 300 * time.Millisecond},
			match:   `^connect to ` + regexp.QuoteMeta(addr) + `: connection refused \(after [0-9.]+m?s, [0-9]+ attempts\)$`,
			wantErr: []error{syscall.ECONNREFUSED},
		},
		{
			name:    "single attempt",
			cfg:     DialConfig{Addr: addr},
			match:   `^connect to ` + regexp.QuoteMeta(addr) + `: connection refused$`,
			wantErr: []error{syscall.ECONNREFUSED},
		},
		{
			name: "cancelled",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancelCause(t.Context())
				time.AfterFunc(100*time.Millisecond, func() { cancel(errStop) })
				return ctx
			},
			cfg:     DialConfig{Addr: addr, Timeout: time.Minute},
			match:   `^connect to ` + regexp.QuoteMeta(addr) + `: SIGTERM \(after [0-9.]+m?s, [0-9]+ attempts?; last error: connection refused\)$`,
			wantErr: []error{errStop, syscall.ECONNREFUSED},
		},
		{
			name:  "bad address",
			cfg:   DialConfig{Addr: "127.0.0.1", Timeout: time.Minute},
			match: `^connect to 127\.0\.0\.1: address 127\.0\.0\.1: missing port in address$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(t)
			}
			conn, err := Dial(ctx, tt.cfg)
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded, want error")
			}
			if !regexp.MustCompile(tt.match).MatchString(err.Error()) {
				t.Errorf("error %q does not match %s", err, tt.match)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(%v, %v) = false", err, want)
				}
			}
		})
	}
}

func TestDialIPv6(t *testing.T) {
	skipWithoutIPv6(t)
	l := listenT(t, ListenConfig{Host: "[::1]"})
	port := l.Addr().(*net.TCPAddr).Port
	exchange(t, l, fmt.Sprintf("[::1]:%d", port))
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{syscall.ECONNREFUSED, true},
		{syscall.EHOSTUNREACH, true},
		{syscall.ENETUNREACH, true},
		{syscall.ETIMEDOUT, true},
		{fmt.Errorf("wrapped: %w", syscall.ECONNRESET), true},
		{&net.DNSError{Err: "server misbehaving", IsTemporary: true}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{syscall.EACCES, false},
		{errors.New("missing port in address"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestJoinHostPort(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{"", ":4444"},
		{"10.0.0.1", "10.0.0.1:4444"},
		{"node1.example", "node1.example:4444"},
		{"fe80::1", "[fe80::1]:4444"},
		{"[fe80::1]", "[fe80::1]:4444"},
	}
	for _, tt := range tests {
		if got := joinHostPort(tt.host, 4444); got != tt.want {
			t.Errorf("joinHostPort(%q, 4444) = %q, want %q", tt.host, got, tt.want)
		}
	}
}
