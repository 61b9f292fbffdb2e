//go:build linux

package swap

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Free returns the bytes available to an unprivileged user on the
// filesystem holding path (statfs f_bavail * f_bsize, as df shows).
func Free(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Device returns the identity (st_dev) of the filesystem holding path,
// following symbolic links: two paths with the same Device can be renamed
// into each other, barring mount points and bind mounts of one
// filesystem.
func Device(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev is uint32 on some GOARCHes
}

// allocated is the disk space of fi (st_blocks * 512, what du counts).
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// syncFS flushes the whole filesystem holding dir (syncfs(2)): one call
// instead of an fsync per file, and since Linux 5.8 it reports writeback
// errors of files written back earlier too.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// lstatDevice is Device without following a final symbolic link.
func lstatDevice(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev is uint32 on some GOARCHes
}

// writable returns nil when this process may create and rename entries
// in dir (access(2) W_OK|X_OK with the effective ids).
func writable(dir string) error {
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return &fs.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}

// owner describes path's owner and mode: "owner uid 0 gid 0, mode 0700".
func owner(path string) string {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return "owner unknown"
	}
	return fmt.Sprintf("owner uid %d gid %d, mode %04o", st.Uid, st.Gid, st.Mode&0o7777)
}

// ownerMode returns path's owner, group and permission bits (lstat).
func ownerMode(path string) (uid, gid, mode uint32, err error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return 0, 0, 0, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return st.Uid, st.Gid, st.Mode & 0o7777, nil
}
