//go:build !linux

package operator

import (
	"errors"
	"fmt"
)

// dropPrivileges is only implemented on Linux.
func dropPrivileges(uid, gid int) error {
	return fmt.Errorf("change to uid %d gid %d: %w", uid, gid, errors.ErrUnsupported)
}
