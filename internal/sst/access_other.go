//go:build !linux

package sst

import (
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
