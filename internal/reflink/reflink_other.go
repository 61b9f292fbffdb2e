//go:build !linux

package reflink

import (
	"fmt"
	"os"
)

func cloneRange(*os.File, int64, *os.File, int64, int64) error {
	return ErrUnsupported
}

func limitCopyOnWrite(*os.File, int64) error {
	return ErrUnsupported
}

// SharedBytes is not known outside Linux.
func SharedBytes(f *os.File) (int64, error) {
	return 0, fmt.Errorf("reflink: extent map of %s: %w", f.Name(), ErrUnsupported)
}
