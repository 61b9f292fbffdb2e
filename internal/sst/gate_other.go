//go:build !linux

package sst

import "net"

// hasUnread is only known on Linux; elsewhere a connection counts as
// silent until its reader has seen a byte.
func hasUnread(net.Conn) bool { return false }
