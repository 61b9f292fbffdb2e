package sst

import (
	"context"
	"net"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
)

// acceptStage waits for the donor's connection of a stage, within
// sst-idle-timeout (the donor connects at once when it starts a stage).
func (s *session) acceptStage(ctx context.Context, ln *stream.Listener, stage string) (net.Conn, error) {
	actx := ctx
	if t := s.cfg.IdleTimeout; t > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(ctx, t, fail.Errorf(fail.Stalled,
			"the donor did not open the %s stage within sst-idle-timeout=%ds: check the donor's error log and mariabackup.backup.log (raise [sst] sst-idle-timeout, or 0 to wait for ever)", stage, int(t.Seconds())))
		defer cancel()
	}
	conn, err := ln.Accept(actx)
	if err != nil {
		return nil, failure(actx, fail.Transfer, "accept the donor's "+stage+" stage", err)
	}
	return conn, nil
}

// stallContext returns ctx cancelled by a stall watchdog of
// sst-idle-timeout (nil watchdog when it is 0): the cause names the option
// and what stalled. Call release when done with ctx; Stop the watchdog
// once the transfer is over.
func (s *session) stallContext(ctx context.Context, peer string) (_ context.Context, _ *pipe.Watchdog, release func()) {
	t := s.cfg.IdleTimeout
	if t <= 0 {
		return ctx, nil, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	w := pipe.StartWatchdog(ctx, t, func(e *pipe.StallError) {
		cancel(fail.Errorf(fail.Stalled, "the SST stalled: %v (sst-idle-timeout=%ds): check the %s's error log and mariabackup.backup.log on the donor; raise [sst] sst-idle-timeout for slower links, 0 turns the watchdog off", e, int(t.Seconds()), peer))
	})
	return ctx, w, func() { w.Stop(); cancel(nil) }
}
