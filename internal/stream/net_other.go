//go:build !linux

package stream

import (
	"net"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist: TCP
// keep-alive still notices a vanished peer.
func setUserTimeout(*net.TCPConn, time.Duration) error { return nil }
