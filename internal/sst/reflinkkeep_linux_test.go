package sst

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// On a filesystem that shares blocks, the previous data is kept when
// what the new data adds and a quarter of the old fit, though old and
// new do not fit side by side by their sizes; not on ext4, and not after
// such an SST ran out of space (reflinkShort).
func TestDecideKeepReflink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fs     string
		marker bool
		want   keepDecision
		log    string
	}{
		{"xfs", "xfs", false, keepOld, "shares the unchanged blocks (reflink)"},
		{"xfs after running short", "xfs", true, stockOrder, "ran out of space: counting the new data whole"},
		{"ext4", "ext4", false, stockOrder, "do not both fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			datadir := galeratest.ScratchVolume(t, tc.fs, 1<<30)
			f, err := os.Create(filepath.Join(datadir, "ibdata1"))
			must(t, err)
			must(t, unix.Fallocate(int(f.Fd()), 0, 0, 400<<20))
			must(t, f.Close())
			if tc.marker {
				must(t, os.WriteFile(filepath.Join(datadir, reflinkShort), nil, 0o644))
			}
			e := newSSTEnv(t, "")
			cfg := e.load(t, nil, "--role", "joiner", "--address", "127.0.0.1:4444", "--datadir", datadir, "--defaults-file", e.cnf)
			var buf bytes.Buffer
			s := &session{cfg: cfg, args: cfg.Args, log: slog.New(NewLogHandler(&buf, slog.LevelInfo)), tr: &transport{}}
			got, err := s.decideKeep(s.targetsFor(datadir, nil, nil), 600<<20)
			if err != nil || got != tc.want || !strings.Contains(buf.String(), tc.log) {
				t.Errorf("decideKeep = %v, %v; want %v, logging %q:\n%s", got, err, tc.want, tc.log, buf.String())
			}
			if s.reflinkKeep != (tc.want == keepOld) {
				t.Errorf("reflinkKeep = %v", s.reflinkKeep)
			}
		})
	}
}
