package sst

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// footprint is get_footprint: the size of the data files to send, halved
// when mariadb-backup compresses them, for "total" and progress percent.
func (s *session) footprint(ctx context.Context, datadir string) int64 {
	n, err := footprintOf(ctx, datadir)
	if err != nil {
		s.log.Warn(fmt.Sprintf("SST footprint estimate: %v", err))
		return 0
	}
	s.log.Info(fmt.Sprintf("SST footprint estimate: %d bytes", n))
	if s.cfg.Compress != "none" {
		n /= 2 // QuickLZ has around 50% compression ratio
	}
	return n
}

// footprintPattern is get_footprint's find -regex, matched like find
// against the whole path (so anchored at the end only):
// '.*undo[0-9]+$\|.*\.ibd$\|.*\.MYI$\|.*\.MYD$\|.*ibdata1$'.
var footprintPattern = regexp.MustCompile(`(undo[0-9]+|\.ibd|\.MYI|\.MYD|ibdata1)$`)

// footprintOf estimates the SST payload under dir as the script's
// get_footprint does: `find -L dir -regex <footprintPattern> -type f` piped
// to `du --bytes -c -s`, i.e. the apparent sizes of InnoDB tablespaces
// (*.ibd, ibdata1, undoN) and MyISAM files (*.MYI, *.MYD), following
// symbolic links and counting hard-linked files once. One deliberate
// difference: for a symbolic link to a file (MyISAM DATA DIRECTORY tables
// have them) du counts the link itself, a few dozen bytes; footprintOf counts
// the file it points to. The script adds the
// undo files of a separate innodb_undo_directory and halves the estimate
// when compression is on; both are the caller's business.
//
// Entries that vanish or cannot be read during the walk are skipped, as
// find and du skip them (mysqld keeps running during an SST). An error is
// returned if dir itself cannot be read or ctx is done.
func footprintOf(ctx context.Context, dir string) (int64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("estimate footprint: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("estimate footprint: %s is not a directory", dir)
	}
	fw := footprintWalk{ctx: ctx, seenDir: map[fileID]bool{}, seenFile: map[fileID]bool{}}
	if err := fw.walk(dir, fi, true); err != nil {
		return 0, fmt.Errorf("estimate footprint of %s: %w", dir, err)
	}
	return fw.total, nil
}

type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true //nolint:unconvert // Dev is uint32 on some platforms
}

type footprintWalk struct {
	ctx      context.Context
	seenDir  map[fileID]bool // loops through symbolic links
	seenFile map[fileID]bool // hard links, which du counts once
	total    int64
}

func (w *footprintWalk) walk(dir string, fi fs.FileInfo, top bool) error {
	if err := w.ctx.Err(); err != nil {
		return context.Cause(w.ctx)
	}
	if id, ok := idOf(fi); ok {
		if w.seenDir[id] {
			return nil // find -L reports a loop and goes on
		}
		w.seenDir[id] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil && len(entries) == 0 {
		if top {
			return err
		}
		return nil
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // -L: follow symbolic links
		if err != nil {
			continue
		}
		switch {
		case fi.IsDir():
			if err := w.walk(p, fi, false); err != nil {
				return err
			}
		case fi.Mode().IsRegular() && footprintPattern.MatchString(e.Name()):
			if id, ok := idOf(fi); ok {
				if w.seenFile[id] {
					continue
				}
				w.seenFile[id] = true
			}
			w.total += fi.Size()
		}
	}
	return nil
}
