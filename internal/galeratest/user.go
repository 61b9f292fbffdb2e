package galeratest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// A cluster with Options.User runs its nodes the way packaged servers run:
// mariadbd as that system user ("mysql"), which the SST program inherits,
// so file handling is checked with the permissions production has rather
// than root's. The passwordless SST user of the user documentation comes
// with it: 'mysql'@'localhost' IDENTIFIED VIA unix_socket, and
// wsrep_sst_auth=mysql: on every node.

// userRE is what Options.User may be: a plain system user name, which also
// goes into SQL between quotes and into argv unquoted.
var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// noUser is the uid and gid of a node run as root: nothing is chowned.
const noUser = -1

// checkUserName validates Options.User ("" is valid: root).
func checkUserName(name string) error {
	switch {
	case name == "":
		return nil
	case name == "root":
		return errors.New(`user "root" is the default; leave Options.User empty`)
	case !userRE.MatchString(name):
		return fmt.Errorf("invalid user name %q", name)
	}
	return nil
}

// lookupUser returns the uid and primary gid of name in the /etc/passwd of
// root ("" for the host's). It reads the file itself, not through NSS, so
// that a chroot's user is found the way its mariadbd will find it: the
// Debian 13 chroot's mysql has another uid than the host's.
func lookupUser(root, name string) (uid, gid int, err error) {
	passwd := filepath.Join(rootOrSlash(root), "etc/passwd")
	b, err := os.ReadFile(passwd)
	if err != nil {
		return 0, 0, fmt.Errorf("look up user %q: %w", name, err)
	}
	uid, gid, ok := parsePasswd(b, name)
	if !ok {
		return 0, 0, fmt.Errorf("user %q not in %s (apt-get install mariadb-server creates %q)", name, passwd, "mysql")
	}
	return uid, gid, nil
}

// parsePasswd finds name in the contents of a passwd file.
func parsePasswd(b []byte, name string) (uid, gid int, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || f[0] != name {
			continue
		}
		u, err1 := strconv.Atoi(f[2])
		g, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		return u, g, true
	}
	return 0, 0, false
}

func rootOrSlash(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// makeTraversable makes dir and its ancestors searchable by uid/gid, so
// that a node run as that user reaches its directory. Go creates
// t.TempDir() and its parent 0700: such directories, dir itself and those
// below os.TempDir(), get the missing x bit (for the class uid/gid falls
// in, usually o+x). Any other ancestor that lacks it is an error: changing
// the mode of, say, /root is not a test's business. Nothing is undone
// later; the directories are the caller's temporary ones.
func makeTraversable(dir string, uid, gid int, logf func(string, ...any)) error {
	tmp := filepath.Clean(os.TempDir())
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("make %s traversable: %w", dir, err)
		}
		if bit := missingSearch(fi, uid, gid); bit != 0 {
			if d != dir && (d == tmp || !within(d, tmp)) {
				return fmt.Errorf("uid %d cannot reach %s: %s has mode %v; use a base dir below %s or make it searchable (chmod o+x %s)", uid, dir, d, fi.Mode().Perm(), tmp, d)
			}
			mode := fi.Mode().Perm() | bit
			if err := os.Chmod(d, mode); err != nil {
				return fmt.Errorf("make %s traversable: %w", dir, err)
			}
			logf("made %s traversable for uid %d: mode %v -> %v", d, uid, fi.Mode().Perm(), mode)
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// missingSearch returns the x bit uid/gid needs on directory fi and lacks,
// or 0: the owner's, the group's or the others', as the kernel checks them
// (supplementary groups aside).
func missingSearch(fi os.FileInfo, uid, gid int) os.FileMode {
	st, ok := fi.Sys().(*syscall.Stat_t)
	bit := os.FileMode(0o001)
	if ok {
		switch {
		case int(st.Uid) == uid:
			bit = 0o100
		case int(st.Gid) == gid:
			bit = 0o010
		}
	}
	if fi.Mode().Perm()&bit != 0 {
		return 0
	}
	return bit
}

// chownDirs gives the node's writable directories to its user: its own
// directory (socket, pid file, error log), the datadir (the root of its
// volume, if any), tmpdir and the SST log archive. The bin dir stays
// root's.
func (n *Node) chownDirs() error {
	if n.uid == noUser {
		return nil
	}
	for _, d := range []string{n.dir, n.datadir, n.tmpdir(), n.logArchiveDir()} {
		if err := os.Chown(d, n.uid, n.gid); err != nil {
			return fmt.Errorf("give %s to %s: %w", d, n.c.user, err)
		}
	}
	return nil
}

// sstUserSQL creates the passwordless SST user of the user documentation
// for system user name, which mysqld's wsrep_sst_auth=<name>: and the
// unix_socket plugin let the SST program log in as.
func sstUserSQL(name string) string {
	return fmt.Sprintf("CREATE USER IF NOT EXISTS '%[1]s'@'localhost' IDENTIFIED VIA unix_socket; "+
		"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR ON *.* TO '%[1]s'@'localhost'", name)
}
