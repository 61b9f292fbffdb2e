//go:build linux

package sst

import (
	"golang.org/x/sys/unix"
)

// writable returns nil when dir is writable by this process.
func writable(dir string) error { return unix.Access(dir, unix.W_OK) }
