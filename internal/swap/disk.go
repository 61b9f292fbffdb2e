package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// Size returns the bytes allocated on disk (what du counts, where the
// platform says) by the entries Begin would move for p: what the stock
// wipe would free before the data stage. Nothing is changed. Files that
// vanish during the walk are not counted. Subtrees this process may not
// read (a root-owned directory in a datadir mysqld's user measures) are
// not counted either; SizeUnreadable names them.
func Size(p Plan) (int64, error) {
	n, _, err := SizeUnreadable(p)
	return n, err
}

// SizeUnreadable is Size plus the paths whose size it could not read
// (permission denied), in walk order.
func SizeUnreadable(p Plan) (int64, []string, error) {
	j, err := newJournal(p)
	if err != nil {
		return 0, nil, err
	}
	moves, err := listMoves(j)
	if err != nil {
		return 0, nil, err
	}
	var n int64
	var unreadable []string
	for _, m := range moves {
		err := filepath.WalkDir(m.Src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				if errors.Is(err, fs.ErrPermission) {
					unreadable = append(unreadable, path)
					return nil // a directory: its entries are skipped
				}
				return err
			}
			fi, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				if errors.Is(err, fs.ErrPermission) {
					unreadable = append(unreadable, path)
					return nil
				}
				return err
			}
			n += allocated(fi)
			return nil
		})
		if err != nil {
			return 0, nil, fmt.Errorf("swap: size of %s: %w", m.Src, err)
		}
	}
	return n, unreadable, nil
}
