package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
)

// Unmovable is an entry Begin would have to move aside and cannot, or a
// directory it cannot create its aside directory in.
type Unmovable struct {
	// Path is the entry (or directory).
	Path string
	// Err is why: syscall.EXDEV for a mount point (another filesystem),
	// syscall.EACCES for missing write permission, or the error met.
	Err error
	// Reason says it for an operator: "a mount point (another
	// filesystem than <dir>)", "a directory this user may not write
	// (root:root 0700)".
	Reason string
}

func (u Unmovable) String() string { return u.Path + ": " + u.Reason }

// Check lists what Begin would fail to move for p, without changing
// anything: entries on another filesystem than their directory (a mount
// point; renaming one fails with EXDEV), directories this process may not
// write (renaming a directory into another parent rewrites its ".."), and
// directories in which the aside directory cannot be created. Symbolic
// links are moved, not followed, and need neither. As root every
// permission check passes; a read-only filesystem fails them all.
func Check(p Plan) ([]Unmovable, error) { return CheckAs(p, nil) }

// Identity is a user whose permissions CheckAs judges: mysqld's user, for
// a check run as root. Judging from the mode bits, it ignores ACLs.
type Identity struct {
	Name string // for messages, e.g. "mysql"
	UID  uint32
	GIDs []uint32 // primary group first
}

// CheckAs is Check judging permissions for id instead of this process
// (nil: this process, through access(2)).
func CheckAs(p Plan, id *Identity) ([]Unmovable, error) {
	j, err := newJournal(p)
	if err != nil {
		return nil, err
	}
	moves, err := listMoves(j)
	if err != nil {
		return nil, err
	}
	var out []Unmovable
	parents := map[string]bool{}
	for _, a := range j.Asides {
		parents[filepath.Dir(a)] = true
	}
	for _, d := range sortedKeys(parents) {
		if err := writableBy(d, id); err != nil {
			out = append(out, Unmovable{Path: d, Err: err, Reason: "the aside directory " + AsideName + " cannot be created in it: " + describeAccess(d, err, id)})
		}
	}
	for _, m := range moves {
		st, err := os.Lstat(m.Src)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			out = append(out, Unmovable{Path: m.Src, Err: err, Reason: err.Error()})
			continue
		}
		if !st.IsDir() {
			continue // a file or symbolic link moves with its directory's permission
		}
		dir := filepath.Dir(m.Src)
		if dev, derr := lstatDevice(dir); derr == nil {
			if sdev, serr := lstatDevice(m.Src); serr == nil && sdev != dev {
				out = append(out, Unmovable{Path: m.Src, Err: syscall.EXDEV, Reason: "a mount point (another filesystem than " + dir + ")"})
				continue
			}
		}
		if err := writableBy(m.Src, id); err != nil {
			out = append(out, Unmovable{Path: m.Src, Err: err, Reason: "a directory " + who(id) + " may not rename into " + AsideName + " (it needs write permission on the directory itself): " + describeAccess(m.Src, err, id)})
		}
	}
	return out, nil
}

// describeAccess says who owns path and with which mode, for permission
// messages: "owner uid 0 gid 0, mode 0700; this process runs as uid 105".
func describeAccess(path string, err error, id *Identity) string {
	if !errors.Is(err, fs.ErrPermission) {
		return err.Error()
	}
	if id != nil {
		return fmt.Sprintf("permission denied (%s; %s is uid %d)", owner(path), id.Name, id.UID)
	}
	return fmt.Sprintf("permission denied (%s; this process runs as uid %d)", owner(path), os.Geteuid())
}

func who(id *Identity) string {
	if id == nil {
		return "this user"
	}
	return "user " + id.Name
}

// writableBy is writable for id (nil: this process): from the mode bits,
// as the kernel decides without ACLs; uid 0 may write anything.
func writableBy(path string, id *Identity) error {
	if id == nil {
		return writable(path)
	}
	if id.UID == 0 {
		return nil
	}
	uid, gid, mode, err := ownerMode(path)
	if err != nil {
		return err
	}
	const wx = 0o3
	ok := false
	switch {
	case uid == id.UID:
		ok = (mode>>6)&wx == wx
	case slices.Contains(id.GIDs, gid):
		ok = (mode>>3)&wx == wx
	default:
		ok = mode&wx == wx
	}
	if !ok {
		return &fs.PathError{Op: "access", Path: path, Err: syscall.EACCES}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
