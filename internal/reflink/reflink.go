package reflink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrUnsupported means the filesystem cannot share these blocks: it has no
// reflinks, the files are on different filesystems, or the range is not
// aligned to its block size. The caller copies the bytes instead.
var ErrUnsupported = errors.New("reflink: blocks cannot be shared here")

// CloneRange makes the n bytes of dst at dstOff share the blocks of the n
// bytes of src at srcOff: afterwards they read the same, and a write to
// either file leaves the other as it was. Offsets and n must be multiples
// of the filesystem's block size, except that n may run to src's end.
func CloneRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	if dstOff < 0 || srcOff < 0 || n < 0 {
		return fmt.Errorf("reflink: clone %s at %d from %s at %d, %d bytes: negative offset or length", dst.Name(), dstOff, src.Name(), srcOff, n)
	}
	if n == 0 {
		return nil
	}
	if err := cloneRange(dst, dstOff, src, srcOff, n); err != nil {
		return fmt.Errorf("clone %s at %d from %s at %d, %d bytes: %w", dst.Name(), dstOff, src.Name(), srcOff, n, err)
	}
	return nil
}

// CopyOnWriteUnit is the copy-on-write extent hint LimitCopyOnWrite sets
// for a joiner's files: InnoDB's default page, the smallest unit that
// mariadb-backup --prepare and mariadbd rewrite.
const CopyOnWriteUnit = 16 << 10

// LimitCopyOnWrite makes a later write to f's shared blocks allocate new
// space in extents of size bytes (rounded up to the filesystem's block
// size) rather than the filesystem's default: XFS reserves 128 KiB for
// each rewritten page of a cloned file by default (its cowextsize hint,
// 32 blocks), eight times the 16 KiB page, and keeps the reservation until
// the file is evicted or its blocks stop being shared. ErrUnsupported
// means the filesystem has no such hint (btrfs, which allocates what is
// written; ext4 takes the flag and ignores it). The hint stays with the
// file; it matters only while its blocks are shared.
func LimitCopyOnWrite(f *os.File, size int64) error {
	if size <= 0 || size > 1<<30 {
		return fmt.Errorf("reflink: copy-on-write extent of %s: %d bytes out of range", f.Name(), size)
	}
	if err := limitCopyOnWrite(f, size); err != nil {
		return fmt.Errorf("reflink: copy-on-write extent of %s: %w", f.Name(), err)
	}
	return nil
}

// Supported reports whether files in dir can share blocks: it clones one
// block between two temporary files there and removes them. A false with
// a nil error is an answer (ext4); an error means it could not find out.
func Supported(dir string) (bool, error) {
	src, err := os.CreateTemp(dir, ".reflink-probe-*")
	if err != nil {
		return false, fmt.Errorf("reflink: probe %s: %w", dir, err)
	}
	defer os.Remove(src.Name())
	defer src.Close()
	dst, err := os.CreateTemp(dir, ".reflink-probe-*")
	if err != nil {
		return false, fmt.Errorf("reflink: probe %s: %w", dir, err)
	}
	defer os.Remove(dst.Name())
	defer dst.Close()
	const probe = 64 << 10 // a multiple of any block size in use
	if _, err := src.Write(make([]byte, probe)); err != nil {
		return false, fmt.Errorf("reflink: probe %s: %w", filepath.Base(dir), err)
	}
	err = CloneRange(dst, 0, src, 0, probe)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrUnsupported):
		return false, nil
	}
	return false, fmt.Errorf("reflink: probe %s: %w", dir, err)
}
