package pipe

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// maxWatchedWrite splits writes through the watchdog so that one Write
// call that blocks is a stall of the peer, not a big buffer draining slowly:
// a link that moves less than this in the timeout is treated as stalled.
const maxWatchedWrite = 64 << 10

// StallError is the cause a Watchdog reports: What made no progress for
// Timeout.
type StallError struct {
	What    string
	Timeout time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s for %v", e.What, e.Timeout)
}

// Watchdog fails a transfer in which a watched Read or Write has been
// blocked for longer than a timeout. Only blocked calls count: time spent
// between calls (a receiver busy writing to disk, a sender waiting for its
// own source through another watched stage) is not a stall of that stage.
//
// The zero of *Watchdog (nil) watches nothing: its wrappers return their
// input unchanged. A Watchdog is safe for concurrent use.
type Watchdog struct {
	timeout time.Duration
	stall   func(*StallError)
	once    sync.Once
	mu      sync.Mutex
	stages  []*watched
	cancel  context.CancelFunc
}

// watched is one wrapped stage: since is the start of the call now blocked
// in it, in Unix nanoseconds, 0 when none is.
type watched struct {
	what  string
	since atomic.Int64
}

// StartWatchdog starts a watchdog that calls stall once, from its own
// goroutine, when a watched call has been blocked for timeout. It stops when
// ctx is done or Stop is called. A timeout <= 0 returns nil (no watchdog).
func StartWatchdog(ctx context.Context, timeout time.Duration, stall func(*StallError)) *Watchdog {
	if timeout <= 0 {
		return nil
	}
	w := &Watchdog{timeout: timeout, stall: stall}
	tick := timeout / 10
	tick = max(min(tick, time.Second), time.Millisecond)
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx, tick)
	return w
}

// Stop ends the watchdog: after it returns, no new stall is detected (a
// report already under way may still complete). Stop on nil does nothing.
func (w *Watchdog) Stop() {
	if w != nil {
		w.cancel()
	}
}

func (w *Watchdog) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if s := w.stalled(now); s != nil {
				w.once.Do(func() { w.stall(&StallError{What: s.what, Timeout: w.timeout}) })
				return
			}
		}
	}
}

func (w *Watchdog) stalled(now time.Time) *watched {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.stages {
		if since := s.since.Load(); since != 0 && now.Sub(time.Unix(0, since)) >= w.timeout {
			return s
		}
	}
	return nil
}

func (w *Watchdog) add(what string) *watched {
	s := &watched{what: what}
	w.mu.Lock()
	w.stages = append(w.stages, s)
	w.mu.Unlock()
	return s
}

// Reader returns r watched: a Read blocked for the timeout is a stall
// reported as what (e.g. "no data received from the donor").
func (w *Watchdog) Reader(what string, r io.Reader) io.Reader {
	if w == nil {
		return r
	}
	return &watchedReader{r: r, s: w.add(what)}
}

// Writer returns wr watched: a Write blocked for the timeout is a stall.
// Writes are passed on in pieces of at most 64 KiB.
func (w *Watchdog) Writer(what string, wr io.Writer) io.Writer {
	if w == nil {
		return wr
	}
	return &watchedWriter{w: wr, s: w.add(what)}
}

type watchedReader struct {
	r io.Reader
	s *watched
}

func (r *watchedReader) Read(p []byte) (int, error) {
	r.s.since.Store(time.Now().UnixNano())
	n, err := r.r.Read(p)
	r.s.since.Store(0)
	return n, err
}

type watchedWriter struct {
	w io.Writer
	s *watched
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	var done int
	for len(p) > 0 {
		piece := p[:min(len(p), maxWatchedWrite)]
		w.s.since.Store(time.Now().UnixNano())
		n, err := w.w.Write(piece)
		w.s.since.Store(0)
		done += n
		if err != nil {
			return done, err
		}
		p = p[n:]
	}
	return done, nil
}
