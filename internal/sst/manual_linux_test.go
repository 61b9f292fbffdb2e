//go:build linux

package sst

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockedBy: a held fcntl lock on ibdata1 (what a running server's
// InnoDB holds) is seen; an unlocked or missing file is not.
func TestLockedBy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ibdata1")
	if _, locked := lockedBy(p); locked {
		t.Errorf("missing file reported locked")
	}
	must(t, os.WriteFile(p, []byte("x"), 0o644))
	if _, locked := lockedBy(p); locked {
		t.Errorf("unlocked file reported locked")
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	// An open-file-description lock conflicts even with this process's
	// own F_GETLK, unlike a classic one.
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	must(t, unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk))
	if _, locked := lockedBy(p); !locked {
		t.Errorf("locked file not reported")
	}
}
