package operator

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropChildEnv, "uid:gid:dir", makes the test binary drop to uid and gid
// (dropPrivileges) and then try to write a file in dir, which only root
// may write: it exits 0 when the write is refused, as it must be.
const dropChildEnv = "OPERATOR_TEST_DROP_CHILD"

func dropChild(v string) int {
	parts := strings.SplitN(v, ":", 3)
	uid, _ := strconv.Atoi(parts[0])
	gid, _ := strconv.Atoi(parts[1])
	if err := dropPrivileges(uid, gid); err != nil {
		fmt.Fprintln(os.Stderr, "drop:", err)
		return 1
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		fmt.Fprintf(os.Stderr, "still uid %d gid %d\n", os.Geteuid(), os.Getegid())
		return 2
	}
	// Every thread changed, not only this one: a goroutine on another
	// OS thread sees the same ids.
	done := make(chan int)
	go func() {
		runtime.LockOSThread()
		done <- unix.Getuid()
	}()
	if got := <-done; got != uid {
		fmt.Fprintf(os.Stderr, "another thread still runs as uid %d\n", got)
		return 3
	}
	if err := os.WriteFile(filepath.Join(parts[2], "x"), nil, 0o644); err == nil {
		fmt.Fprintln(os.Stderr, "wrote into a root-only directory")
		return 4
	}
	return 0
}
