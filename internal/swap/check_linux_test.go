//go:build linux

package swap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	data := t.TempDir()
	mnt := filepath.Join(data, "db1")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(data, "ibdata1"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := Check(Plan{Dirs: []string{data}, Journal: filepath.Join(data, "sst_swap.journal")})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Path != mnt || !errors.Is(bad[0].Err, syscall.EXDEV) || !strings.Contains(bad[0].Reason, "mount point") {
		t.Errorf("Check = %+v, want the mount point %s with EXDEV", bad, mnt)
	}
}
