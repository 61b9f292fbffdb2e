//go:build linux

package operator

import (
	"fmt"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// dropPrivileges makes the whole process (every thread: Go applies
// set*id to all of them since 1.16) run as uid and gid, with uid's
// supplementary groups from the user database (gid alone when uid has no
// entry there). It cannot be undone.
func dropPrivileges(uid, gid int) error {
	groups := []int{gid}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, g := range ids {
				if n, err := strconv.Atoi(g); err == nil && n != gid {
					groups = append(groups, n)
				}
			}
		}
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := unix.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}
