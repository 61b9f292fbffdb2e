package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/pipe"
)

// TestExitCode is the table of README's "Exit codes": each class, as
// the packages below give it, to the script's code.
func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"invalid config", fmt.Errorf("x: %w", config.ErrInvalid), 22},
		{"port conflict", fmt.Errorf("x: %w", config.ErrPortConflict), 2},
		{"option file", fmt.Errorf("x: %w", config.ErrFile), 2},
		{"unsafe value (safe())", fmt.Errorf("x: %w", config.ErrUnsafe), 21},
		{"coded", fail.Errorf(fail.Busy, "busy"), 114},
		{"wrapped coded", fmt.Errorf("outer: %w", fail.Errorf(fail.TooOld, "old")), 93},
		{"sigterm", &fail.SignalError{Signal: syscall.SIGTERM}, 3},
		{"sigint", fmt.Errorf("x: %w", &fail.SignalError{Signal: syscall.SIGINT}), 3},
		{"sighup", &fail.SignalError{Signal: syscall.SIGHUP}, 32},
		{"sigpipe", &fail.SignalError{Signal: syscall.SIGPIPE}, 32},
		{"timeout", context.DeadlineExceeded, 32},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), 32},
		{"untrusted certificate", &pipe.HandshakeError{Peer: "donor", Err: x509.UnknownAuthorityError{}}, 22},
		{"handshake cut", fmt.Errorf("accept: %w", &pipe.HandshakeError{Peer: "donor", Err: io.ErrUnexpectedEOF}), 32},
		{"pipe configuration", fmt.Errorf("x: %w", pipe.ErrConfig), 22},
		{"no space", fail.Errorf(fail.NoSpace, "full"), 28},
		{"stalled", fail.Errorf(fail.Stalled, "silent"), 110},
		{"key config", fail.Errorf(fail.KeyConfig, "no key"), 3},
		{"mount point", fail.Errorf(fail.CrossDevice, "mount"), 18},
		{"unmovable", fail.Errorf(fail.Access, "perm"), 13},
		{"missing", fail.Errorf(fail.Missing, "gone"), 2},
		{"classed twice: the outer class wins", fail.Wrap(fail.Invalid, fail.Errorf(fail.Transfer, "x")), 22},
		{"two wrapped, the first classed", fmt.Errorf("%w; %w", errors.New("plain"), fail.Errorf(fail.Stalled, "x")), 110},
		{"unexpected", fail.Errorf(fail.Unexpected, "bug"), 1},
		{"other", errors.New("boom"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
