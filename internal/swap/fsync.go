package swap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FsyncTree fsyncs root and, if it is a directory, every regular file and
// directory below it (data and names: only the state after it returns
// counts, so the order does not matter). Symbolic links are
// not followed. It is how the prepared files, and the entries the
// move-back put in place, reach the disk before the old copy is deleted.
// ctx is checked between files.
func FsyncTree(ctx context.Context, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("fsync %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		switch {
		case d.Type().IsRegular():
			return syncFile(p)
		case d.IsDir():
			return syncDir(p)
		}
		return nil
	})
}

func syncFile(p string) error { return syncPath(p, false) }

// syncDir fsyncs a directory so that the renames, creations and removals
// of its entries survive a power loss. Filesystems that cannot sync a
// directory (EINVAL) are accepted.
func syncDir(p string) error { return syncPath(p, true) }

// syncPath opens p, fsyncs and closes it; dir accepts a sync that fails
// with EINVAL (syncDir).
func syncPath(p string, dir bool) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && (!dir || !errors.Is(err, syscall.EINVAL)) {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

// syncDirIfExists is syncDir that ignores a missing directory.
func syncDirIfExists(p string) error {
	if err := syncDir(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
