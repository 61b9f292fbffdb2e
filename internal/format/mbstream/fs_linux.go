package mbstream

import (
	"errors"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing n bytes of f from off
// to disk, without waiting (SYNC_FILE_RANGE_WRITE). It is a hint: errors,
// and writers that are not files, are ignored; durability is the caller's
// later fsync.
func startWriteback(f outWriter, off, n int64) {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		_ = unix.SyncFileRange(int(fd.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// punchHole deallocates n bytes of f at off, keeping its size; where the
// filesystem cannot, or f is not a file, it writes zeros.
func punchHole(f outWriter, off, n int64) error {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		err := unix.Fallocate(int(fd.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err == nil || !errors.Is(err, unix.EOPNOTSUPP) {
			return wrapPunch(off, err)
		}
	}
	return writeZeros(f, off, n)
}
