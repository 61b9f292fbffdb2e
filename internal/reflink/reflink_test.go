package reflink

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"wsrep_sst_mariabackup/internal/galeratest"
)

const volSize = 512 << 20 // xfs needs more than 300 MB

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func open(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCloneShares clones ranges on filesystems with reflinks and checks
// what a joiner relies on: the bytes read the same, the extent map says
// they are shared, and a later write to the clone leaves the source alone.
func TestCloneShares(t *testing.T) {
	for _, fs := range []string{"xfs", "btrfs"} {
		t.Run(fs, func(t *testing.T) {
			dir := galeratest.ScratchVolume(t, fs, volSize)
			if ok, err := Supported(dir); err != nil || !ok {
				t.Fatalf("Supported(%s on %s) = %v, %v; want true", dir, fs, ok, err)
			}
			srcData := writeRandom(t, filepath.Join(dir, "old.ibd"), 1<<20)
			src := open(t, filepath.Join(dir, "old.ibd"), os.O_RDONLY)
			dst := open(t, filepath.Join(dir, "new.ibd"), os.O_RDWR|os.O_CREATE)
			// new = old[256K:512K] + 64 KiB of new bytes + old[0:128K]
			if err := CloneRange(dst, 0, src, 256<<10, 256<<10); err != nil {
				t.Fatal(err)
			}
			fresh := make([]byte, 64<<10)
			rand.Read(fresh)
			if _, err := dst.WriteAt(fresh, 256<<10); err != nil {
				t.Fatal(err)
			}
			if err := CloneRange(dst, 320<<10, src, 0, 128<<10); err != nil {
				t.Fatal(err)
			}
			want := append(append(bytes.Clone(srcData[256<<10:512<<10]), fresh...), srcData[:128<<10]...)
			got, err := os.ReadFile(dst.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the clone does not read as the ranges it was made from")
			}
			shared, err := SharedBytes(dst)
			if err != nil {
				t.Fatal(err)
			}
			if shared < 384<<10 {
				t.Errorf("SharedBytes(new) = %d, want >= %d (the two cloned ranges)", shared, 384<<10)
			}
			if _, err := dst.WriteAt(make([]byte, 16<<10), 0); err != nil {
				t.Fatal(err)
			}
			if err := dst.Sync(); err != nil {
				t.Fatal(err)
			}
			old, err := os.ReadFile(src.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(old, srcData) {
				t.Error("a write to the clone changed the source")
			}
			// Unaligned: not shareable, the caller copies.
			if err := CloneRange(dst, 1000, src, 0, 4096); !errors.Is(err, ErrUnsupported) {
				t.Errorf("unaligned clone: %v, want ErrUnsupported", err)
			}
		})
	}
}

// TestCloneUnsupported checks that where blocks cannot be shared the
// caller is told so (and copies), never given a half-done clone.
func TestCloneUnsupported(t *testing.T) {
	ext4 := galeratest.ScratchVolume(t, "ext4", 64<<20)
	if ok, err := Supported(ext4); err != nil || ok {
		t.Errorf("Supported(ext4) = %v, %v; want false, nil", ok, err)
	}
	writeRandom(t, filepath.Join(ext4, "old"), 64<<10)
	src := open(t, filepath.Join(ext4, "old"), os.O_RDONLY)
	dst := open(t, filepath.Join(ext4, "new"), os.O_RDWR|os.O_CREATE)
	if err := CloneRange(dst, 0, src, 0, 64<<10); !errors.Is(err, ErrUnsupported) {
		t.Errorf("clone on ext4: %v, want ErrUnsupported", err)
	}
	xfs := galeratest.ScratchVolume(t, "xfs", volSize)
	other := open(t, filepath.Join(xfs, "new"), os.O_RDWR|os.O_CREATE)
	if err := CloneRange(other, 0, src, 0, 64<<10); !errors.Is(err, ErrUnsupported) {
		t.Errorf("clone across filesystems: %v, want ErrUnsupported", err)
	}
	if fi, err := other.Stat(); err != nil || fi.Size() != 0 {
		t.Errorf("failed clone left %v bytes (%v)", fi.Size(), err)
	}
	if err := CloneRange(dst, -1, src, 0, 1); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("negative offset: %v, want a plain error", err)
	}
}

// TestLimitCopyOnWrite checks what a joiner's prepare step relies on: on
// XFS, rewriting pages of a cloned file with the hint set costs about the
// pages, not the filesystem's default copy-on-write extent for each;
// btrfs has no such hint and says so.
func TestLimitCopyOnWrite(t *testing.T) {
	dir := galeratest.ScratchVolume(t, "xfs", volSize)
	writeRandom(t, filepath.Join(dir, "old.ibd"), 8<<20)
	src := open(t, filepath.Join(dir, "old.ibd"), os.O_RDONLY)
	const pages = 32
	rewrite := func(name string, hint bool) int64 {
		dst := open(t, filepath.Join(dir, name), os.O_RDWR|os.O_CREATE)
		if err := CloneRange(dst, 0, src, 0, 8<<20); err != nil {
			t.Fatal(err)
		}
		if hint {
			if err := LimitCopyOnWrite(dst, CopyOnWriteUnit); err != nil {
				t.Fatal(err)
			}
		}
		used := func() int64 { // after the writes so far reach the disk
			t.Helper()
			if err := dst.Sync(); err != nil {
				t.Fatal(err)
			}
			n, err := galeratest.UsedBytes(dir)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := used()
		page := make([]byte, CopyOnWriteUnit)
		for i := range pages {
			if _, err := dst.WriteAt(page, int64(i)*256<<10); err != nil {
				t.Fatal(err)
			}
		}
		return used() - before
	}
	plain := rewrite("plain.ibd", false)
	hinted := rewrite("hinted.ibd", true)
	t.Logf("%d pages of %d bytes rewritten in a cloned file: the volume grew by %d bytes with the hint, %d without", pages, CopyOnWriteUnit, hinted, plain)
	if limit := int64(pages*CopyOnWriteUnit + 256<<10); hinted > limit {
		t.Errorf("with the hint, rewriting %d pages grew the volume by %d bytes, want at most %d", pages, hinted, limit)
	}
	f := open(t, filepath.Join(galeratest.ScratchVolume(t, "btrfs", volSize), "f"), os.O_RDWR|os.O_CREATE)
	if err := LimitCopyOnWrite(f, CopyOnWriteUnit); !errors.Is(err, ErrUnsupported) {
		t.Errorf("LimitCopyOnWrite on btrfs: %v, want ErrUnsupported", err)
	}
}
