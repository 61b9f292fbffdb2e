// Package fail classifies errors by what went wrong, where it went wrong:
// a missing file, an invalid option, a full filesystem, a broken
// transfer, a stall. The one place that turns an error into the exit code
// mysqld sees (cmd's exitCode) maps classes to the script's codes; no
// package below it picks a number.
//
// An error gets its class once, at the place that knows what happened
// (Errorf, Wrap, New for a sentinel); wrapping it with fmt.Errorf's %w
// keeps the class, and ClassOf finds the outermost one. An error without
// a class is Unexpected.
package fail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Class is what kind of failure an error is.
type Class uint8

// The classes, one per cause mysqld and the DBA must tell apart. Each
// maps to one of the script's exit codes (README, "Exit codes").
const (
	Unexpected  Class = iota // a failure no class describes
	Missing                  // a program, file or directory is missing; --port disagrees with --address
	Interrupted              // SIGINT, SIGQUIT or SIGTERM
	KeyConfig                // encrypt=1 without an algorithm or key
	Unsafe                   // a value safe() in wsrep_sst_common refuses
	Access                   // an entry mysqld's user may not move aside (keep-datadir=1)
	CrossDevice              // a mount point among the entries to move aside (keep-datadir=1)
	Invalid                  // an invalid argument or option; mariadb-backup failed
	NoSpace                  // a filesystem the joiner writes to is, or would be, full
	Transfer                 // the transfer failed; the peer or the parent is gone; SIGHUP, SIGPIPE
	TooOld                   // the joiner sent no sst_ver
	Stalled                  // no byte moved for sst-idle-timeout
	Busy                     // an SST is already running on this datadir
)

var names = [...]string{"unexpected", "missing", "interrupted", "key-config", "unsafe", "access",
	"cross-device", "invalid", "no-space", "transfer", "too-old", "stalled", "busy"}

func (c Class) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Error is an error with its class.
type Error struct {
	class Class
	err   error
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// Class is the error's class.
func (e *Error) Class() Class { return e.class }

// Wrap returns err with class c, or nil for a nil err.
func Wrap(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{class: c, err: err}
}

// Errorf is fmt.Errorf with class c.
func Errorf(c Class, format string, args ...any) error {
	return &Error{class: c, err: fmt.Errorf(format, args...)}
}

// New returns a sentinel error with class c: errors.Is finds it, and
// ClassOf gives c to every error that wraps it.
func New(c Class, text string) error {
	return &Error{class: c, err: errors.New(text)}
}

// Classer is an error that knows its class: an Error, or a type of its
// own (a TLS handshake's failure is Invalid or Transfer depending on why
// it failed).
type Classer interface {
	error
	Class() Class
}

// ClassOf returns the class of err: that of the first Classer in its
// chain (errors.As's order: the outermost); a broken pipe or a passed
// deadline is Transfer; anything else, and nil, Unexpected.
func ClassOf(err error) Class {
	var c Classer
	if errors.As(err, &c) {
		return c.Class()
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) {
		return Transfer
	}
	return Unexpected
}

// Has reports whether err has a class of its own: a Classer in its chain.
func Has(err error) bool {
	var c Classer
	return errors.As(err, &c)
}

// SignalError is the cancellation cause when a signal stops the program.
// Its class is the script's trap: SIGHUP and SIGPIPE are Transfer (trap
// 'exit 32'), the others Interrupted (trap 'exit 3').
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return fmt.Sprintf("interrupted by signal %v", e.Signal) }

// Class is Transfer for SIGHUP and SIGPIPE, else Interrupted.
func (e *SignalError) Class() Class {
	if e.Signal == syscall.SIGHUP || e.Signal == syscall.SIGPIPE {
		return Transfer
	}
	return Interrupted
}
