//go:build linux

package operator

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestDropPrivileges: the whole process runs as the new user afterwards.
func TestDropPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir() // 0700 root
	exe, err := os.Executable()
	must(t, err)
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), dropChildEnv+"=65534:65534:"+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
}

// TestGrastateNoFollow: a symbolic link planted in the datadir at
// grastate.dat's temporary file never makes writeGrastate write through it.
func TestGrastateNoFollow(t *testing.T) {
	datadir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(victim, []byte("precious"), 0o644))
	must(t, os.Symlink(victim, filepath.Join(datadir, "grastate.dat.tmp")))
	pos := Position{UUID: "3b74c7a2-ed76-11f1-84d9-77b9bac84a6c", Seqno: 25}
	must(t, writeGrastate(datadir, pos, os.Getuid(), os.Getgid()))
	b, err := os.ReadFile(filepath.Join(datadir, "grastate.dat"))
	must(t, err)
	if !strings.Contains(string(b), "seqno:   25") {
		t.Errorf("grastate.dat = %q", b)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim = %q: written through a symbolic link", b)
	}
}
