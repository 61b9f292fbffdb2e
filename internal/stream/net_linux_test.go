//go:build linux

package stream

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// sockopt reads an integer socket option from c.
func sockopt(t *testing.T, c syscall.Conn, level, opt int) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// TestSocketOptions checks what the package promises: SO_REUSEADDR on the
// listener (socat's reuseaddr) and keep-alive on both ends.
func TestSocketOptions(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	if got := sockopt(t, l.ln, syscall.SOL_SOCKET, syscall.SO_REUSEADDR); got != 1 {
		t.Errorf("listener SO_REUSEADDR = %d, want 1", got)
	}
	client, server := dialPair(t, l, DialConfig{Timeout: 5 * time.Second})
	for name, c := range map[string]net.Conn{"dialed": client, "accepted": server} {
		sc := c.(syscall.Conn)
		if got := sockopt(t, sc, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); got != 1 {
			t.Errorf("%s SO_KEEPALIVE = %d, want 1", name, got)
		}
		if got := sockopt(t, sc, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE); got != 15 {
			t.Errorf("%s TCP_KEEPIDLE = %d, want 15", name, got)
		}
		if got := sockopt(t, sc, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT); got != 4 {
			t.Errorf("%s TCP_KEEPCNT = %d, want 4", name, got)
		}
	}
}

// TestUserTimeout checks TCP_USER_TIMEOUT on both ends when asked for, and
// the kernel default (0) when not.
func TestUserTimeout(t *testing.T) {
	const tcpUserTimeout = 18 // TCP_USER_TIMEOUT, linux/tcp.h
	for _, d := range []time.Duration{0, 90 * time.Second} {
		l := listenT(t, ListenConfig{Host: "127.0.0.1", UserTimeout: d})
		client, server := dialPair(t, l, DialConfig{Timeout: 5 * time.Second, UserTimeout: d})
		for name, c := range map[string]net.Conn{"dialed": client, "accepted": server} {
			if got := sockopt(t, c.(syscall.Conn), syscall.IPPROTO_TCP, tcpUserTimeout); got != int(d.Milliseconds()) {
				t.Errorf("UserTimeout %v: %s TCP_USER_TIMEOUT = %d ms, want %d", d, name, got, d.Milliseconds())
			}
		}
	}
}
