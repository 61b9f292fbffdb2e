package sst

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
)

// footprintTree builds a data directory exercising get_footprint's rules and
// returns it with the expected sum.
func footprintTree(t *testing.T) (string, int64) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	outside := filepath.Join(root, "outside")
	write := func(p string, size int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "ibdata1"), 1000)
	write(filepath.Join(dir, "undo001"), 300)
	write(filepath.Join(dir, "undo002"), 301)
	write(filepath.Join(dir, "db1", "t1.ibd"), 100)
	write(filepath.Join(dir, "db1", "t2.MYI"), 10)
	write(filepath.Join(dir, "db1", "t2.MYD"), 20)
	write(filepath.Join(dir, "db1", "deep", "er", "x.ibd"), 7)
	// Not counted.
	write(filepath.Join(dir, "db1", "t1.frm"), 50)
	write(filepath.Join(dir, "db1", "t3.myd"), 50)
	write(filepath.Join(dir, "undo_log"), 50)
	write(filepath.Join(dir, "undo001.bak"), 50)
	write(filepath.Join(dir, "ib_logfile0"), 50)
	write(filepath.Join(dir, "aria_log.00000001"), 50)
	write(filepath.Join(dir, "ibdata10"), 50)
	if err := os.Mkdir(filepath.Join(dir, "d.ibd"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A hard link is counted once (du).
	if err := os.Link(filepath.Join(dir, "db1", "t1.ibd"), filepath.Join(dir, "db1", "t1copy.ibd")); err != nil {
		t.Fatal(err)
	}
	// Symbolic links are followed (find -L): a database directory and a
	// tablespace elsewhere, a file link whose own name matches; dangling
	// links and loops are skipped.
	write(filepath.Join(outside, "db2", "big.ibd"), 5000)
	write(filepath.Join(outside, "plain"), 40)
	link(filepath.Join(outside, "db2"), filepath.Join(dir, "db2"))
	link(filepath.Join(outside, "plain"), filepath.Join(dir, "db1", "linked.ibd"))
	link(filepath.Join(root, "nowhere"), filepath.Join(dir, "dangling.ibd"))
	link("..", filepath.Join(dir, "db1", "loop"))
	return dir, 1000 + 300 + 301 + 100 + 10 + 20 + 7 + 5000 + 40
}

func TestFootprint(t *testing.T) {
	dir, want := footprintTree(t)
	fp, err := footprintOf(t.Context(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got := fp.data
	if got != want || fp.undo != 0 {
		t.Errorf("footprintOf = %+v, want data %d, undo 0", fp, want)
	}
	// The script's own pipeline must agree where find and du are there.
	script := `cd "$1" && find -L . -regex '.*undo[0-9]+$\|.*\.ibd$\|.*\.MYI$\|.*\.MYD$\|.*ibdata1$' -type f -print0 | du --files0-from=- --bytes -c -s | awk 'END { print $1 }'`
	out, err := exec.CommandContext(t.Context(), "sh", "-c", script, "sh", dir).Output()
	if err != nil {
		t.Logf("script pipeline unavailable (%v); skipping the comparison", err)
		return
	}
	// du counts a symbolic link to a file as the link itself (the length
	// of its target), where footprintOf counts the file (40 bytes).
	target, _ := os.Readlink(filepath.Join(dir, "db1", "linked.ibd"))
	if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil || n != got-40+int64(len(target)) {
		t.Errorf("script pipeline says %q, footprintOf %d (40-byte file linked by a %d-byte link)", out, got, len(target))
	}
}

func TestFootprintErrors(t *testing.T) {
	if _, err := footprintOf(t.Context(), filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("missing directory: no error")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := footprintOf(t.Context(), f, ""); err == nil {
		t.Error("file: no error")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir, _ := footprintTree(t)
	if _, err := footprintOf(ctx, dir, ""); err == nil {
		t.Error("cancelled: no error")
	}
	if _, err := footprintOf(ctx, t.TempDir(), dir); err == nil {
		t.Error("cancelled, undo directory: no error")
	}
}

// writeSized creates p (and its directories) with size zero bytes.
func writeSized(t *testing.T, p string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFootprintUndoDir: the undo tablespaces of innodb_undo_directory are
// counted as get_footprint's second find counts them (undoN files, no -L),
// each file once.
func TestFootprintUndoDir(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	writeSized(t, filepath.Join(data, "ibdata1"), 1000)
	writeSized(t, filepath.Join(data, "undo001"), 30)
	writeSized(t, filepath.Join(data, "inner", "undo009"), 9)
	undo := filepath.Join(root, "undo")
	writeSized(t, filepath.Join(undo, "undo001"), 300)
	writeSized(t, filepath.Join(undo, "undo002"), 301)
	writeSized(t, filepath.Join(undo, "sub", "undo003"), 7)
	writeSized(t, filepath.Join(undo, "t.ibd"), 50)       // not an undo file
	writeSized(t, filepath.Join(undo, "undo001.bak"), 50) // nor this
	writeSized(t, filepath.Join(root, "elsewhere", "undo004"), 50)
	// find without -L neither counts a linked file nor enters a linked
	// directory.
	if err := os.Symlink(filepath.Join(root, "elsewhere", "undo004"), filepath.Join(undo, "undo005")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "elsewhere"), filepath.Join(undo, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(undo, filepath.Join(root, "undo-link")); err != nil {
		t.Fatal(err)
	}
	const dataSize = 1000 + 30 + 9
	const undoSize = 300 + 301 + 7
	tests := []struct {
		name    string
		undoDir string
		undo    int64
	}{
		{"unset", "", 0},
		{"dot", ".", 0},
		{"the datadir", data, 0},
		{"the datadir, relative", "./", 0},
		{"absolute", undo, undoSize},
		{"relative to the datadir", "../undo", undoSize},
		{"a symbolic link to it", filepath.Join(root, "undo-link"), undoSize},
		{"inside the datadir, counted once", "inner", 0},
		{"missing", filepath.Join(root, "missing"), 0},
		{"a file", filepath.Join(data, "ibdata1"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := footprintOf(t.Context(), data, tt.undoDir)
			if err != nil {
				t.Fatal(err)
			}
			if want := (footprintSizes{data: dataSize, undo: tt.undo}); fp != want {
				t.Errorf("footprintOf(%q) = %+v, want %+v", tt.undoDir, fp, want)
			}
		})
	}
	// The script's second find and du agree on the separate directory.
	script := `cd "$1" && find . -regex '.*undo[0-9]+$' -type f -print0 | du --files0-from=- --bytes -c -s | awk 'END { print $1 }'`
	out, err := exec.CommandContext(t.Context(), "sh", "-c", script, "sh", undo).Output()
	if err != nil {
		t.Logf("script pipeline unavailable (%v); skipping the comparison", err)
		return
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil || n != undoSize {
		t.Errorf("script pipeline says %q, want %d", out, undoSize)
	}
}

// TestSessionFootprint: the donor's estimate adds the separate undo
// directory to the data, logs both parts as get_footprint does, and halves
// the sum when mariadb-backup compresses.
func TestSessionFootprint(t *testing.T) {
	root := t.TempDir()
	data, undo := filepath.Join(root, "data"), filepath.Join(root, "undo")
	writeSized(t, filepath.Join(data, "ibdata1"), 1000)
	writeSized(t, filepath.Join(undo, "undo001"), 300)
	for _, tt := range []struct {
		compress string
		want     int64
	}{{"none", 1300}, {"quicklz", 650}} {
		t.Run(tt.compress, func(t *testing.T) {
			var log bytes.Buffer
			s := &session{
				args: &config.Args{InnodbUndoDir: undo},
				cfg:  &config.Config{Compress: tt.compress},
				log:  slog.New(NewLogHandler(&log, slog.LevelInfo)),
			}
			if got := s.footprint(t.Context(), data); got != tt.want {
				t.Errorf("footprint = %d, want %d", got, tt.want)
			}
			if want := "SST footprint estimate: data: 1000, undo: 300 ("; !strings.Contains(log.String(), want) {
				t.Errorf("log %q, want a line with %q", log.String(), want)
			}
		})
	}
}
