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
// vanish during the walk are not counted.
func Size(p Plan) (int64, error) {
	j, err := newJournal(p)
	if err != nil {
		return 0, err
	}
	moves, err := listMoves(j)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range moves {
		err := filepath.WalkDir(m.Src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			fi, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			n += allocated(fi)
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("swap: size of %s: %w", m.Src, err)
		}
	}
	return n, nil
}
