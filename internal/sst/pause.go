package sst

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// pauseEnv is a test-only hook: it stops the SST program at a named step
// until it is killed, so that tests can crash either side at a known
// point instead of after a sleep or a byte count that a faster path
// outruns. Its value names one step; each role ignores the other's:
//
//   - a swap step of internal/swap (swap.Step*: "aside", "ready",
//     "committed", ...): the joiner, on reaching it, logs
//     `WSREP_SST_TEST_PAUSE_AT: paused at swap step "aside" until killed`
//     and waits forever.
//   - "donor-data:N" ("donor-data" alone means N=1): the donor, in its data
//     stage (the stock stream and transfer v2 alike), once it has passed N
//     bytes of mariadb-backup's stream on to the joiner, logs
//     `WSREP_SST_TEST_PAUSE_AT: paused at donor step "donor-data:N" after M bytes until killed`
//     and reads no more. It stops waiting only when its context ends
//     (SIGTERM, mysqld gone, or its own sst-idle-timeout: a paused donor
//     is a stalled one), so that a node with a paused donor still shuts
//     down.
//
// mysqld passes its environment on to the SST program, so the variable is
// set in mariadbd's environment (galeratest.NodeConfig.Env). Unset, the
// hooks are nil and cost one check per transfer.
const pauseEnv = "WSREP_SST_TEST_PAUSE_AT"

// pauseDonorData is the donor's step of pauseEnv.
const pauseDonorData = "donor-data"

// donorPauseAt parses a pauseEnv value for the donor: ok is false when v
// names no donor step, err reports a donor step with a bad byte count.
func donorPauseAt(v string) (n int64, ok bool, err error) {
	name, arg, hasArg := strings.Cut(v, ":")
	if name != pauseDonorData {
		return 0, false, nil
	}
	if !hasArg {
		return 1, true, nil
	}
	n, err = strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("%s=%s: want %s:BYTES with BYTES >= 0", pauseEnv, v, pauseDonorData)
	}
	return n, true, nil
}

// pauseHook is the joiner's side of the WSREP_SST_TEST_PAUSE_AT test hook
// for swap.Plan: nil when unset or naming a donor step.
func (s *session) pauseHook() func(string) {
	at := os.Getenv(pauseEnv)
	if _, donor, _ := donorPauseAt(at); at == "" || donor {
		return nil
	}
	return func(step string) {
		if step != at {
			return
		}
		s.log.Info(fmt.Sprintf("%s: paused at swap step %q until killed", pauseEnv, step))
		select {}
	}
}

// donorPause is the donor's side of the WSREP_SST_TEST_PAUSE_AT test hook:
// it returns r itself unless the variable names a donor step, else r
// wrapped to pause (see pauseEnv) once that many bytes were read from it.
// ctx ends the pause.
func (s *session) donorPause(ctx context.Context, r io.Reader) io.Reader {
	v := os.Getenv(pauseEnv)
	if v == "" {
		return r
	}
	at, ok, err := donorPauseAt(v)
	if !ok {
		return r
	}
	if err != nil {
		s.log.Warn(fmt.Sprintf("%v: not pausing", err))
		return r
	}
	return &pauseReader{ctx: ctx, r: r, at: at, paused: func(n int64) {
		s.log.Info(fmt.Sprintf("%s: paused at donor step %q after %d bytes until killed", pauseEnv, v, n))
	}}
}

// pauseReader reads r until at bytes were read; the Read after that, by
// when the consumer has passed those bytes on, calls paused once and
// blocks until ctx ends. It holds no lock while it waits.
type pauseReader struct {
	ctx    context.Context
	r      io.Reader
	n, at  int64
	paused func(n int64)
}

func (p *pauseReader) Read(b []byte) (int, error) {
	if p.n >= p.at {
		if p.paused != nil {
			p.paused(p.n)
			p.paused = nil
		}
		<-p.ctx.Done()
		return 0, context.Cause(p.ctx)
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}
