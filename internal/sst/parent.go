package sst

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

// watchParent cancels ctx with an exit-32 cause when process pid (mysqld)
// is gone or a zombie, checked every poll interval, as monitor_process does
// with "ps -p $PARENT" every 0.1 s — but during every stage, not only while
// the data stream runs. The returned stop ends the watch.
func watchParent(ctx context.Context, pid int, poll time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if !processAlive(pid) {
					cancel(fail.Errorf(fail.Transfer, "parent mysqld process (PID: %d) terminated unexpectedly", pid))
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// No procfs: trust kill(0).
		return true
	}
	// The state follows the ")" that closes the command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
