//go:build !linux

package sst

import (
	"errors"
	"fmt"
	"os"
)

// writable returns nil when dir is writable by this process. Without
// access(2) from x/sys/unix it tries to create a file there.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".sst-writable-")
	if err != nil {
		return err
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// dropPrivileges is only implemented on Linux.
func dropPrivileges(uid, gid int) error {
	return fmt.Errorf("change to uid %d gid %d: %w", uid, gid, errors.ErrUnsupported)
}
