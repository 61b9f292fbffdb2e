package reflink

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func cloneRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	sc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	dc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	cerr := sc.Control(func(sfd uintptr) {
		err := dc.Control(func(dfd uintptr) {
			ioctlErr = unix.IoctlFileCloneRange(int(dfd), &unix.FileCloneRange{
				Src_fd:      int64(sfd),
				Src_offset:  uint64(srcOff),
				Src_length:  uint64(n),
				Dest_offset: uint64(dstOff),
			})
		})
		if err != nil {
			ioctlErr = err
		}
	})
	if cerr != nil {
		return cerr
	}
	return unsupported(ioctlErr)
}

// The inode attribute ioctls and their struct fsxattr (linux/fs.h); x/sys
// has neither.
const (
	fsIocFSGetXattr   = 0x801C581F // _IOR('X', 31, struct fsxattr)
	fsIocFSSetXattr   = 0x401C5820 // _IOW('X', 32, struct fsxattr)
	fsXflagCowExtsize = 0x00010000 // FS_XFLAG_COWEXTSIZE: fsx_cowextsize is set
)

type fsxattr struct {
	xflags, extsize, nextents, projid, cowextsize uint32
	pad                                           [8]byte
}

func limitCopyOnWrite(f *os.File, size int64) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if bs := int64(st.Bsize); bs > 0 { // int32 on some architectures
		size = (size + bs - 1) / bs * bs
	}
	var a fsxattr
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFSGetXattr, uintptr(unsafe.Pointer(&a))); errno != 0 {
		return unsupported(errno)
	}
	if a.xflags&fsXflagCowExtsize != 0 && int64(a.cowextsize) == size {
		return nil
	}
	a.xflags |= fsXflagCowExtsize
	a.cowextsize = uint32(size)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFSSetXattr, uintptr(unsafe.Pointer(&a))); errno != 0 {
		return unsupported(errno)
	}
	return nil
}

// unsupported words the errors of a filesystem that cannot do what was
// asked as ErrUnsupported. EOPNOTSUPP: no reflinks (ext4, or XFS made
// without them), or no such attribute (btrfs's copy-on-write hint);
// EXDEV: two filesystems; EINVAL: unaligned, or a filesystem that does not
// know the ioctl; ENOTTY, ENOSYS: older kernels and odd files.
func unsupported(err error) error {
	for _, e := range []unix.Errno{unix.EOPNOTSUPP, unix.EXDEV, unix.EINVAL, unix.ENOTTY, unix.ENOSYS} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w (%w)", ErrUnsupported, err)
		}
	}
	return err
}

// The extent map ioctl (linux/fiemap.h).
const (
	fsIocFiemap        = 0xC020660B // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync     = 0x1
	fiemapExtentLast   = 0x1
	fiemapExtentShared = 0x2000
	fiemapBatch        = 64 // extents per call
)

type fiemapHeader struct {
	start, length                     uint64
	flags, mapped, count, reservedPad uint32
}

type fiemapExtent struct {
	logical, physical, length uint64
	reserved64                [2]uint64
	flags                     uint32
	reserved                  [3]uint32
}

type fiemapRequest struct {
	fiemapHeader
	extents [fiemapBatch]fiemapExtent
}

// SharedBytes returns how many bytes of f lie in extents its filesystem
// marks shared with another file (FIEMAP_EXTENT_SHARED), after syncing f.
func SharedBytes(f *os.File) (int64, error) {
	var shared int64
	var start uint64
	for {
		req := fiemapRequest{fiemapHeader: fiemapHeader{start: start, length: ^uint64(0) - start, flags: fiemapFlagSync, count: fiemapBatch}}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&req))); errno != 0 {
			return 0, fmt.Errorf("reflink: extent map of %s: %w", f.Name(), errno)
		}
		if req.mapped == 0 {
			return shared, nil
		}
		for _, e := range req.extents[:req.mapped] {
			if e.flags&fiemapExtentShared != 0 {
				shared += int64(e.length)
			}
			if e.flags&fiemapExtentLast != 0 {
				return shared, nil
			}
			start = e.logical + e.length
		}
	}
}
