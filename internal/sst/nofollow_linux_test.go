//go:build linux

package sst

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestNoFollowInDatadir: symbolic links planted in a datadir at the paths
// the joiner writes (the pid file, sst_in_progress) never make it write
// through them (grastate.dat's temporary file: internal/operator).
func TestNoFollowInDatadir(t *testing.T) {
	datadir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(victim, []byte("precious"), 0o644))
	for _, n := range []string{"wsrep_sst.pid", progressMarker} {
		must(t, os.Symlink(victim, filepath.Join(datadir, n)))
	}
	if _, err := tryLock(filepath.Join(datadir, "wsrep_sst.pid")); err == nil {
		t.Error("tryLock followed a symbolic link")
	}
	s := &session{log: slog.New(slog.DiscardHandler)}
	if _, err := s.markInProgress(datadir); err == nil {
		t.Error("markInProgress followed a symbolic link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim = %q: written through a symbolic link", b)
	}
}
