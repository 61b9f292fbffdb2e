package galeratest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Reconfigure changes the node's configuration and rewrites its option
// file at once: a running donor's SST program reads the new [sst] lines at
// its next transfer; mariadbd's own options take effect at the next Start.
func (n *Node) Reconfigure(change func(*NodeConfig)) error {
	change(&n.cfg)
	if err := n.writeConfig(); err != nil {
		return fmt.Errorf("galeratest: reconfigure %s: %w", n.name, err)
	}
	return nil
}

// WaitExit waits until the node's mariadbd exits by itself (a joiner whose
// SST failed aborts), or ctx ends.
func (n *Node) WaitExit(ctx context.Context) error {
	if n.p == nil {
		return nil
	}
	select {
	case <-n.p.Done():
		n.reap()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("galeratest: %s did not exit: %w", n.name, ctx.Err())
	}
}

// sstFailedMarks are what a joiner's mariadbd logs once it has its SST
// program's failure, before it aborts.
var sstFailedMarks = []string{"SST failed", "Will never receive state", "[ERROR] Aborting"}

// HungAfterSSTFailure is how long WaitFailedJoin lets a joiner's mariadbd
// take to exit once it has logged that its SST failed and its SST program
// is gone.
const HungAfterSSTFailure = 30 * time.Second

// WaitFailedJoin waits until a joiner whose SST fails has exited, like
// WaitExit, with one difference: a mariadbd that has logged the SST's
// failure and has no SST program left, but has not exited
// HungAfterSSTFailure later, is killed, and hung is true. mariadbd 10.11
// and Galera 4 sometimes hang in their abort after "Will never receive
// state. Need to abort" (1 run in 20 of the kill tests): the SST program
// has done its part by then, and the verdict on it is in the log, so a test
// of the SST program must not fail on that hang.
func (n *Node) WaitFailedJoin(ctx context.Context) (hung bool, err error) {
	if n.p == nil {
		return false, nil
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var failedAt time.Time
	for {
		select {
		case <-n.p.Done():
			n.reap()
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("galeratest: %s did not exit: %w", n.name, ctx.Err())
		case <-tick.C:
		}
		if failedAt.IsZero() {
			if n.loggedSSTFailure() {
				failedAt = time.Now()
			}
			continue
		}
		if time.Since(failedAt) < HungAfterSSTFailure {
			continue
		}
		left, err := n.SSTProcesses("joiner")
		if err != nil || len(left) > 0 {
			failedAt = time.Now() // its SST program still runs: not a hang yet
			continue
		}
		n.c.log("%s: mariadbd logged its SST's failure %v ago and has not exited (a Galera abort hang): killing it", n.name, HungAfterSSTFailure)
		return true, n.Kill()
	}
}

func (n *Node) loggedSSTFailure() bool {
	log, err := n.LogSinceStart()
	if err != nil {
		return false
	}
	for _, m := range sstFailedMarks {
		if strings.Contains(log, m) {
			return true
		}
	}
	return false
}

// SSTProcesses returns the pids of the node's SST program running in role
// ("donor" or "joiner"): processes of the node's process group whose
// argv[0] is wsrep_sst_<method> and whose argv says --role role.
func (n *Node) SSTProcesses(role string) ([]int, error) {
	if n.p == nil {
		return nil, nil
	}
	return groupProcesses(n.p.Pid(), func(argv []string) bool {
		if len(argv) == 0 || filepath.Base(argv[0]) != "wsrep_sst_"+n.c.method {
			return false
		}
		for i := 0; i+1 < len(argv); i++ {
			if argv[i] == "--role" && argv[i+1] == role {
				return true
			}
		}
		return false
	})
}

// GroupProcesses returns the pids of every process left in the node's
// process group other than mariadbd itself (SST programs, mariadb-backup).
func (n *Node) GroupProcesses() ([]int, error) {
	if n.p == nil {
		return nil, nil
	}
	self := n.p.Pid()
	pids, err := groupProcesses(self, func([]string) bool { return true })
	var out []int
	for _, p := range pids {
		if p != self {
			out = append(out, p)
		}
	}
	return out, err
}

// groupProcesses scans /proc for processes of process group pgid whose
// argv matches.
func groupProcesses(pgid int, match func(argv []string) bool) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("galeratest: %w", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		g, err := syscall.Getpgid(pid)
		if err != nil || g != pgid {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// ContentSums returns the SHA-256 of every regular file under dir, keyed
// by its path relative to dir, skipping the relative paths skip says to
// (files mariadbd or the SST program rewrite on every start).
func ContentSums(dir string, skip func(rel string) bool) (map[string]string, error) {
	sums := map[string]string{}
	err := WalkFiles(dir, skip, func(rel string, f *os.File) error {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		sums[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("galeratest: checksum %s: %w", dir, err)
	}
	return sums, nil
}

// WalkFiles calls fn for every regular file under dir with its path
// relative to dir and the file open for reading, which WalkFiles closes
// after. It leaves out the relative paths skip (if not nil) says to, a
// directory with everything below it. It returns the first error of the
// walk or of fn.
func WalkFiles(dir string, skip func(rel string) bool, fn func(rel string, f *os.File) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." && skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return fn(rel, f)
	})
}

// DiffSums lists the differences between two ContentSums results.
func DiffSums(want, got map[string]string) []string {
	var d []string
	for k, v := range want {
		switch g, ok := got[k]; {
		case !ok:
			d = append(d, "missing "+k)
		case g != v:
			d = append(d, "changed "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "new "+k)
		}
	}
	sort.Strings(d)
	return d
}
