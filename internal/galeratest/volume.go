package galeratest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Volume gives a node's datadir a filesystem of its own, as a dedicated
// disk does in production: the datadir is then the root of that
// filesystem, with what mkfs puts there (lost+found, root:root 0700, on
// ext4), and file operations across it and the rest of the node's
// directory (tmpdir, the SST program's staging) cross filesystems.
//
// The filesystem lives in a sparse image file in the node's directory,
// loop-mounted on the datadir by AddNode and unmounted by Cluster.Close.
// It needs root, mount with loop support and the mkfs program of the type
// (packages e2fsprogs, xfsprogs, btrfs-progs).
type Volume struct {
	// FS is the filesystem type: "ext4", "xfs" (made with reflink=1) or
	// "btrfs". "" means no volume: the datadir is a plain directory on
	// the base dir's filesystem.
	FS string
	// Size is the size of the image in bytes; 0 means DefaultVolumeSize.
	// The image is sparse, so only what is written takes space. xfs needs
	// more than 300 MB.
	Size int64
}

// DefaultVolumeSize is the size of a Volume whose Size is 0: 1 GiB.
const DefaultVolumeSize = 1 << 30

// volume is the state of a node's mounted Volume.
type volume struct {
	img     string // image file
	dir     string // where it is mounted
	dev     string // loop device, e.g. /dev/loop0
	mounted bool
}

// mkfsCommand returns the command line that makes a filesystem of type fs
// in img, quietly and without asking, and the Debian package of the
// program.
func mkfsCommand(fs, img string) (argv []string, pkg string, err error) {
	switch fs {
	case "ext4":
		return []string{"mkfs.ext4", "-q", "-F", img}, "e2fsprogs", nil
	case "xfs":
		return []string{"mkfs.xfs", "-q", "-f", "-m", "reflink=1", img}, "xfsprogs", nil
	case "btrfs":
		return []string{"mkfs.btrfs", "-q", "-f", img}, "btrfs-progs", nil
	}
	return nil, "", fmt.Errorf("volume: unknown filesystem type %q (want ext4, xfs or btrfs)", fs)
}

// mountVolume makes the node's filesystem in a new sparse image and mounts
// it on the datadir, which must be an empty directory.
func (n *Node) mountVolume() error {
	v := n.cfg.Volume
	size := v.Size
	if size == 0 {
		size = DefaultVolumeSize
	}
	img := filepath.Join(n.dir, "datadir."+v.FS+".img")
	vol, err := mountImage(img, n.datadir, v.FS, size)
	if vol != nil {
		n.vol = vol
	}
	if err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	n.c.log("%s: datadir is a %s volume of %d bytes on %s", n.name, v.FS, size, vol.dev)
	return nil
}

// mountImage makes a filesystem of type fs in a new sparse image img of
// size bytes and loop-mounts it on dir. The volume it returns, even with an
// error, is mounted if its mounted field says so, and must then be
// unmounted.
func mountImage(img, dir, fs string, size int64) (*volume, error) {
	if size <= 0 {
		return nil, fmt.Errorf("size %d is not positive", size)
	}
	mkfs, pkg, err := mkfsCommand(fs, img)
	if err != nil {
		return nil, err
	}
	if mkfs[0], err = sbinPath(mkfs[0]); err != nil {
		return nil, fmt.Errorf("%w (apt-get install %s)", err, pkg)
	}
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := run(mkfs...); err != nil {
		return nil, err
	}
	// -o loop sets up the loop device with autoclear: it goes away with
	// the last unmount.
	if err := run("mount", "-o", "loop", img, dir); err != nil {
		return nil, err
	}
	vol := &volume{img: img, dir: dir, mounted: true}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return vol, err
	}
	dev, ok := mountSource(info, dir)
	if !ok {
		return vol, fmt.Errorf("%s not in /proc/self/mountinfo after mount", dir)
	}
	vol.dev = dev
	return vol, nil
}

// ScratchVolume returns the root of a new filesystem of type fs ("ext4",
// "xfs" with reflink, "btrfs") of size bytes, loop-mounted on a directory
// of t's temp dir and unmounted when t ends: for tests of what a
// filesystem does (reflinks, extents, a full disk) that need no node. It
// skips t unless run as root.
func ScratchVolume(t testing.TB, fs string, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a loop-mounted volume needs root")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	vol, err := mountImage(filepath.Join(base, fs+".img"), dir, fs, size)
	if vol != nil {
		t.Cleanup(func() {
			if err := vol.unmount(); err != nil {
				t.Errorf("scratch volume: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("scratch volume: %v", err)
	}
	return dir
}

// VolumeDevice returns the block device the node's datadir volume is
// mounted from (a loop device such as /dev/loop0), or "" if the node has
// no Volume or it has been unmounted. Its major:minor (from os.Stat's
// Rdev) is what blkio throttling takes.
func (n *Node) VolumeDevice() string {
	if n.vol == nil || !n.vol.mounted {
		return ""
	}
	return n.vol.dev
}

// unmountVolume unmounts the node's volume, which must no longer be in
// use.
func (n *Node) unmountVolume() error {
	if n.vol == nil || !n.vol.mounted {
		return nil
	}
	lazy, err := n.vol.unmountReport()
	if lazy {
		n.c.log("%s: datadir volume unmounted lazily", n.name)
	}
	return err
}

// unmount unmounts v; see unmountReport.
func (v *volume) unmount() error {
	_, err := v.unmountReport()
	return err
}

// unmountReport unmounts v, which must no longer be in use. A failed
// unmount is reported and, as the last resort, done lazily (umount -l,
// lazy is then true), so that nothing stays mounted on the caller's
// directory however it ended. Unmounting also detaches the loop device
// (autoclear); if it is still attached afterwards, that is reported too.
func (v *volume) unmountReport() (lazy bool, err error) {
	if !v.mounted {
		return false, nil
	}
	var errs []error
	if err := run("umount", v.dir); err != nil {
		errs = append(errs, fmt.Errorf("unmount %s: %w", v.dir, err))
		if err := run("umount", "-l", v.dir); err != nil {
			return false, errors.Join(append(errs, fmt.Errorf("lazy unmount %s: %w", v.dir, err))...)
		}
		lazy = true
	}
	v.mounted = false
	losetup, err := sbinPath("losetup")
	if err != nil {
		return lazy, errors.Join(append(errs, err)...)
	}
	out, err := exec.Command(losetup, "-j", v.img).Output()
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("losetup -j %s: %w", v.img, err))
	case len(bytes.TrimSpace(out)) > 0:
		// Held elsewhere, e.g. by a mount namespace that copied the
		// mount while it existed; detached once that lets go.
		errs = append(errs, fmt.Errorf("loop device still attached after unmount: %s", bytes.TrimSpace(out)))
	}
	return lazy, errors.Join(errs...)
}

// mountSource returns the source (device) of the mount on mountpoint in
// the contents of a /proc/<pid>/mountinfo file, the topmost if several.
func mountSource(mountinfo []byte, mountpoint string) (string, bool) {
	src, found := "", false
	for _, l := range strings.Split(string(mountinfo), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 || unescapeMountinfo(f[4]) != mountpoint {
			continue
		}
		src, found = unescapeMountinfo(g[1]), true
	}
	return src, found
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) the
// kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sbinPath finds a system program on PATH or in the sbin directories,
// which a non-root PATH often lacks.
func sbinPath(prog string) (string, error) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, prog); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin, /sbin", prog)
}

// run runs a short system command (looked up with sbinPath); its error
// quotes the command's output.
func run(argv ...string) error {
	path, err := sbinPath(argv[0])
	if err != nil {
		return err
	}
	out, err := exec.Command(path, argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(string(out), 10))
	}
	return nil
}
