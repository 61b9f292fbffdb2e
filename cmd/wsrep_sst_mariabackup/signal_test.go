package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

// TestSignalContext: a caught signal cancels the root context with a
// cause that maps to the script's exit code (HUP: 32).
func TestSignalContext(t *testing.T) {
	ctx, stop := signalContext(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not cancel the context")
	}
	var se *fail.SignalError
	if cause := context.Cause(ctx); !errors.As(cause, &se) || se.Signal != syscall.SIGHUP || fail.ClassOf(cause) != fail.Transfer {
		t.Errorf("cause = %v (class %v), want SIGHUP (class %v)", cause, fail.ClassOf(cause), fail.Transfer)
	}
}
