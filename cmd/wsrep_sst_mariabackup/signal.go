package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"wsrep_sst_mariabackup/internal/fail"
)

// signalContext is the root context of a run: cancelled, with an
// *fail.SignalError cause (its class gives the script's codes),
// by the first SIGHUP, SIGPIPE, SIGINT, SIGQUIT or SIGTERM. Catching
// SIGPIPE also turns a write to a closed stdout (mysqld gone) into an
// EPIPE error instead of killing the program before it cleans up. stop
// releases the signal handlers.
func signalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(&fail.SignalError{Signal: s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}
