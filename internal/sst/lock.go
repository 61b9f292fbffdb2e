package sst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// pidLock is the wsrep_sst.pid file of wait_previous_sst.
type pidLock struct {
	path string
	pid  int
}

// lockParams tune acquireLock; zero values mean the script's 30 × 1 s.
type lockParams struct {
	Tries    int
	Interval time.Duration
}

// acquireLock mirrors wait_previous_sst: while the pid file names a live
// SST process, wait (up to 30 s), then give up with EALREADY (114). A pid
// file naming a dead process, or a live process that is not an SST
// program (pid reuse after a crash), is stale and taken over.
func acquireLock(ctx context.Context, log *slog.Logger, datadir string, lp lockParams) (*pidLock, error) {
	if lp.Tries <= 0 {
		lp.Tries = 30
	}
	if lp.Interval <= 0 {
		lp.Interval = time.Second
	}
	path := datadir + "/wsrep_sst.pid"
	self := os.Getpid()
	for round := 0; ; round++ {
		other, err := readPid(path)
		if err != nil || other == self || !isSSTProcess(other) {
			if err == nil && other != self {
				log.Info(fmt.Sprintf("Taking over stale SST pid file %s (PID %d is not a running SST)", path, other))
			}
			break
		}
		if round == lp.Tries {
			return nil, errorf(ExitAlready, "previous SST (PID %d, %s) is still running; stop it or remove the pid file if it is not an SST", other, path)
		}
		log.Info("Previous SST is not completed, waiting for it to exit")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lp.Interval):
		}
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(self)+"\n"), 0o644); err != nil {
		return nil, errorf(ExitNoEnt, "write SST pid file: %w", err)
	}
	return &pidLock{path: path, pid: self}, nil
}

// release removes the pid file if it is still ours.
func (l *pidLock) release() {
	if l == nil {
		return
	}
	if pid, err := readPid(l.path); err == nil && pid == l.pid {
		_ = os.Remove(l.path)
	}
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
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
