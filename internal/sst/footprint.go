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

// footprint is get_footprint: the size of the data files to send plus the
// undo tablespaces of a separate innodb_undo_directory, halved when
// mariadb-backup compresses them, for "total" and progress percent.
func (s *session) footprint(ctx context.Context, datadir string) int64 {
	fp, err := footprintOf(ctx, datadir, s.args.InnodbUndoDir)
	if err != nil {
		s.log.Warn(fmt.Sprintf("SST footprint estimate: %v", err))
		return 0
	}
	s.log.Info(fmt.Sprintf("SST footprint estimate: data: %d, undo: %d", fp.data, fp.undo))
	n := fp.data + fp.undo
	if s.cfg.Compress != "none" {
		n /= 2 // QuickLZ has around 50% compression ratio
	}
	return n
}

// footprintPattern is get_footprint's find -regex, matched like find
// against the whole path (so anchored at the end only):
// '.*undo[0-9]+$\|.*\.ibd$\|.*\.MYI$\|.*\.MYD$\|.*ibdata1$'.
var footprintPattern = regexp.MustCompile(`(undo[0-9]+|\.ibd|\.MYI|\.MYD|ibdata1)$`)

// undoPattern is the -regex of get_footprint's second find, in the undo
// directory: '.*undo[0-9]+$'.
var undoPattern = regexp.MustCompile(`undo[0-9]+$`)

// footprintSizes is the estimate in the two parts get_footprint logs.
type footprintSizes struct {
	data int64 // tablespaces and MyISAM files under the datadir
	undo int64 // undo tablespaces in a separate innodb_undo_directory
}

// footprintOf estimates the SST payload as the script's get_footprint
// does. data is `find -L datadir -regex <footprintPattern> -type f` piped to
// `du --bytes -c -s`, i.e. the apparent sizes of InnoDB tablespaces (*.ibd,
// ibdata1, undoN) and MyISAM files (*.MYI, *.MYD), following symbolic links
// and counting hard-linked files once. undo is the same for undoN files in
// undoDir (innodb_undo_directory; relative to datadir, as the script has
// cd'ed there), without -L; it is 0 when undoDir is empty, ".", the datadir
// or not a directory.
//
// Deliberate differences: for a symbolic link to a file (MyISAM DATA
// DIRECTORY tables have them) du counts the link itself, a few dozen bytes;
// footprintOf counts the file it points to. A file is counted once even if
// both finds meet it (an undo directory inside the datadir), where the
// script counts it twice. And the script never sets the undo directory on
// the donor (ib_undo_dir is assigned by create_dirs, which only the joiner
// calls), so its undo part is always 0; we count what it meant to count.
//
// Entries that vanish or cannot be read during the walk are skipped, as
// find and du skip them (mysqld keeps running during an SST); so is an
// unreadable undo directory. An error is returned if datadir itself cannot
// be read or ctx is done.
func footprintOf(ctx context.Context, datadir, undoDir string) (footprintSizes, error) {
	fi, err := os.Stat(datadir)
	if err != nil {
		return footprintSizes{}, fmt.Errorf("estimate footprint: %w", err)
	}
	if !fi.IsDir() {
		return footprintSizes{}, fmt.Errorf("estimate footprint: %s is not a directory", datadir)
	}
	fw := footprintWalk{ctx: ctx, seenDir: map[fileID]bool{}, seenFile: map[fileID]bool{}}
	var fp footprintSizes
	if fp.data, err = fw.walk(datadir, fi, footprintPattern, true, true); err != nil {
		return footprintSizes{}, fmt.Errorf("estimate footprint of %s: %w", datadir, err)
	}
	if undoDir == "" || undoDir == "." {
		return fp, nil
	}
	if !filepath.IsAbs(undoDir) {
		undoDir = filepath.Join(datadir, undoDir)
	}
	// The script's `cd "$ib_undo_dir"` follows a symbolic link; the datadir
	// itself, already walked, is in seenDir and yields 0.
	if fi, err := os.Stat(undoDir); err == nil && fi.IsDir() {
		if fp.undo, err = fw.walk(undoDir, fi, undoPattern, false, false); err != nil {
			return footprintSizes{}, fmt.Errorf("estimate footprint of %s: %w", undoDir, err)
		}
	}
	return fp, nil
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
	seenDir  map[fileID]bool // loops through symbolic links, directories walked
	seenFile map[fileID]bool // hard links, which du counts once
}

// walk returns the sizes of the regular files under dir whose names match
// pattern, skipping files and directories already seen. With follow it
// follows symbolic links (find -L); without, it neither enters linked
// directories nor counts linked files (find -type f). Only an unreadable
// top directory and ctx are errors.
func (w *footprintWalk) walk(dir string, fi fs.FileInfo, pattern *regexp.Regexp, follow, top bool) (int64, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, context.Cause(w.ctx)
	}
	if id, ok := idOf(fi); ok {
		if w.seenDir[id] {
			return 0, nil // find -L reports a loop and goes on
		}
		w.seenDir[id] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil && len(entries) == 0 {
		if top {
			return 0, err
		}
		return 0, nil
	}
	var total int64
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		stat := os.Lstat
		if follow {
			stat = os.Stat // -L: follow symbolic links
		}
		fi, err := stat(p)
		if err != nil {
			continue
		}
		switch {
		case fi.IsDir():
			n, err := w.walk(p, fi, pattern, follow, false)
			if err != nil {
				return 0, err
			}
			total += n
		case fi.Mode().IsRegular() && pattern.MatchString(e.Name()):
			if id, ok := idOf(fi); ok {
				if w.seenFile[id] {
					continue
				}
				w.seenFile[id] = true
			}
			total += fi.Size()
		}
	}
	return total, nil
}
