//go:build !linux

package swap

import (
	"errors"
	"fmt"
	"io/fs"
)

// Free is only implemented on Linux; elsewhere it returns
// errors.ErrUnsupported.
func Free(path string) (uint64, error) {
	return 0, fmt.Errorf("statfs %s: %w", path, errors.ErrUnsupported)
}

// Device is only implemented on Linux; elsewhere it returns
// errors.ErrUnsupported.
func Device(path string) (uint64, error) {
	return 0, fmt.Errorf("stat %s: %w", path, errors.ErrUnsupported)
}

// allocated falls back to the apparent size.
func allocated(fi fs.FileInfo) int64 { return fi.Size() }

// syncFS is not available: callers fsync file by file.
func syncFS(dir string) error {
	return fmt.Errorf("syncfs %s: %w", dir, errors.ErrUnsupported)
}

// lstatDevice is only implemented on Linux.
func lstatDevice(path string) (uint64, error) {
	return 0, fmt.Errorf("stat %s: %w", path, errors.ErrUnsupported)
}

// writable is not checked outside Linux: Begin finds out.
func writable(string) error { return nil }

// owner is only described on Linux.
func owner(string) string { return "owner unknown" }

// ownerMode is only implemented on Linux.
func ownerMode(path string) (uid, gid, mode uint32, err error) {
	return 0, 0, 0, fmt.Errorf("stat %s: %w", path, errors.ErrUnsupported)
}
