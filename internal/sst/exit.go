package sst

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"wsrep_sst_mariabackup/internal/config"
)

// Exit codes. mysqld turns them into negative errno values, and on the
// donor they travel to the joiner ("State transfer to X failed: -22
// (Invalid argument)"), so each one is an errno that means what happened.
// This is the one table; README.md documents it.
const (
	ExitOK          = 0
	ExitGeneric     = 1   // unexpected failure
	ExitNoEnt       = 2   // ENOENT: missing program, file or datadir; --port/--address conflict
	ExitInterrupted = 3   // SIGINT/SIGQUIT/SIGTERM (trap 'exit 3')
	ExitKeyConfig   = 3   // encrypt=1 without algorithm or key (get_keys exits 3 too)
	ExitUnsafeUser  = 21  // EISDIR in errno terms: safe() in wsrep_sst_common exits 21 for an unsafe SST user, port, joiner host, LSN, sst_ver or remote user
	ExitAccess      = 13  // EACCES: keep-datadir=1 and an entry mysqld's user may not move aside
	ExitCrossDevice = 18  // EXDEV: keep-datadir=1 and a mount point among the entries to move aside
	ExitInvalid     = 22  // EINVAL: invalid argument or option, mariadb-backup failure
	ExitNoSpace     = 28  // ENOSPC: a filesystem the joiner writes to is (or would be) full
	ExitPipe        = 32  // EPIPE: transfer failed, peer or parent gone, SIGHUP/SIGPIPE
	ExitTooOld      = 93  // EPROTONOSUPPORT-ish: the joiner sent no sst_ver (script: "Upgrade joiner")
	ExitTimedOut    = 110 // ETIMEDOUT: no byte moved for sst-idle-timeout seconds
	ExitAlready     = 114 // EALREADY: a previous SST is still running on this datadir
)

// codeError attaches an exit code to an error.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// withCode returns err carrying code, or nil for a nil err.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codeError{code: code, err: err}
}

// errorf is fmt.Errorf plus an exit code.
func errorf(code int, format string, args ...any) error {
	return withCode(code, fmt.Errorf(format, args...))
}

// SignalError is the cancellation cause when a signal stops the program.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return fmt.Sprintf("interrupted by signal %v", e.Signal) }

// ExitCode maps an error returned by Run or config.Load to the exit code
// mysqld sees. nil maps to 0.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var sig *SignalError
	if errors.As(err, &sig) {
		switch sig.Signal {
		case syscall.SIGHUP, syscall.SIGPIPE:
			return ExitPipe // trap 'exit 32' HUP PIPE
		default:
			return ExitInterrupted // trap 'exit 3' INT QUIT TERM
		}
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	switch {
	case errors.Is(err, config.ErrPortConflict):
		return ExitNoEnt
	case errors.Is(err, config.ErrFile):
		return ExitNoEnt
	case errors.Is(err, config.ErrUnsafe):
		return ExitUnsafeUser
	case errors.Is(err, config.ErrInvalid):
		return ExitInvalid
	case errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded):
		return ExitPipe
	}
	return ExitGeneric
}
