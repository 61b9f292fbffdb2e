package sst

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/sstdir"
)

// pidLock is the wsrep_sst.pid file of wait_previous_sst, held with an
// exclusive flock for as long as the SST runs.
type pidLock struct {
	path string
	pid  int
	f    *os.File // open on path, flock held
}

// lockParams tune acquireLock; zero values mean the script's 30 × 1 s.
type lockParams struct {
	Tries    int
	Interval time.Duration
}

// errLocked means another process holds the flock on the pid file.
var errLocked = errors.New("pid file locked")

// acquireLock mirrors wait_previous_sst: while another SST holds the pid
// file, wait (up to 30 s), then give up with EALREADY (114).
//
// The script reads the file, then writes its own pid: two SSTs started at
// once may both go ahead. Here the file is held with an exclusive flock
// (close-on-exec, so children do not inherit it), taken before the file is
// read, so exactly one wins; a process that dies loses its flock with it.
// Once the flock is ours the pid in the file is checked as the script
// does: a live SST process that holds no flock (a stock script on the same
// datadir) is waited for; a pid naming a dead process, or a live process
// that is not an SST program (pid reuse after a crash), is stale and taken
// over.
func acquireLock(ctx context.Context, log *slog.Logger, datadir string, lp lockParams) (*pidLock, error) {
	if lp.Tries <= 0 {
		lp.Tries = 30
	}
	if lp.Interval <= 0 {
		lp.Interval = time.Second
	}
	path := filepath.Join(datadir, sstdir.PidFile)
	self := os.Getpid()
	for round := 0; ; round++ {
		f, err := tryLock(path)
		var holder int
		switch {
		case err == nil:
			other, rerr := readPidFile(f, path)
			if rerr != nil || other == self || !isSSTProcess(other) {
				if rerr == nil && other != self {
					log.Info(fmt.Sprintf("Taking over stale SST pid file %s (PID %d is not a running SST)", path, other))
				}
				if err := writePid(f, self); err != nil {
					f.Close()
					return nil, fail.Errorf(fail.Missing, "write SST pid file %s: %w", path, err)
				}
				return &pidLock{path: path, pid: self, f: f}, nil
			}
			// A live SST that does not lock: wait for it, as the script.
			f.Close()
			holder = other
		case errors.Is(err, errLocked):
			holder, _ = readPid(path) // 0 if the holder has not written it yet
		default:
			return nil, fail.Errorf(fail.Missing, "lock SST pid file: %w", err)
		}
		if round == lp.Tries {
			who := "PID " + strconv.Itoa(holder)
			if holder == 0 {
				who = "PID unknown"
			}
			return nil, fail.Errorf(fail.Busy, "previous SST (%s, %s) is still running; stop it or remove the pid file if it is not an SST", who, path)
		}
		log.Info("Previous SST is not completed, waiting for it to exit")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lp.Interval):
		}
	}
}

// tryLock opens path, creating it, and takes an exclusive flock without
// waiting; errLocked means another holds it. The file must still be the
// one at path once locked: a holder removes it before letting go, so a
// lock won on a removed file is worth nothing, and the open is retried.
func tryLock(path string) (*os.File, error) {
	for {
		// O_NOFOLLOW: a symbolic link planted at the pid file's path
		// (the datadir belongs to mysqld's user; a manual receive may run
		// as root) fails the lock instead of truncating its target.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errLocked
			}
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		now, err := os.Stat(path)
		if err == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
}

// writePid replaces the content of f with pid and a newline, which the
// stock script's wait_previous_sst reads.
func writePid(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// release removes the pid file if it still names us, then lets go of the
// flock. The file goes first: a process that opened it meanwhile notices
// in tryLock that its lock is on a removed file.
func (l *pidLock) release() {
	if l == nil {
		return
	}
	if pid, err := readPidFile(l.f, l.path); err == nil && pid == l.pid {
		_ = os.Remove(l.path)
	}
	l.f.Close()
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parsePid(b, path)
}

func readPidFile(f *os.File, path string) (int, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return 0, err
	}
	return parsePid(b, path)
}

func parsePid(b []byte, path string) (int, error) {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, errors.New("no pid in " + path)
	}
	return pid, nil
}

// isSSTProcess reports whether pid is alive and looks like an SST program
// (its command line names wsrep_sst_), so that a recycled pid of some
// unrelated process does not block the SST for 30 s.
func isSSTProcess(pid int) bool {
	if !processAlive(pid) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return true // cannot tell: be careful, treat it as running
	}
	return strings.Contains(string(b), "wsrep_sst")
}
