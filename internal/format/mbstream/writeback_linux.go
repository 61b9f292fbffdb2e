package mbstream

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to begin writing n bytes of f from off
// to disk, without waiting (SYNC_FILE_RANGE_WRITE). It is a hint: errors,
// and writers that are not files, are ignored; durability is the caller's
// later fsync.
func startWriteback(f outWriter, off, n int64) {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		_ = unix.SyncFileRange(int(fd.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}
