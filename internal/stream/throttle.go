package stream

import (
	"context"
	"io"
	"time"
)

// throttleBurst is how much transfer time the limiter lets through at once
// after an idle period, and the largest piece a write is cut into: a tenth
// of a second keeps short-term rate errors small, and the long-term average
// is exact.
const throttleBurst = 100 * time.Millisecond

// clock is the time source of the limiter, replaced in tests.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning context.Cause(ctx)
	// in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// limiter is a token bucket in the "theoretical arrival time" form: tat is
// when the bytes let through so far would have finished at exactly the
// rate. A piece may pass once tat, advanced by its own transfer time, is at
// most throttleBurst ahead of now.
type limiter struct {
	ctx   context.Context
	clk   clock
	rate  float64 // bytes per second
	chunk int     // largest piece, throttleBurst worth of bytes
	tat   time.Time
}

func newLimiter(ctx context.Context, bytesPerSec int64, clk clock) *limiter {
	chunk := int(min(max(bytesPerSec/int64(time.Second/throttleBurst), 1), 1<<30))
	return &limiter{ctx: ctx, clk: clk, rate: float64(bytesPerSec), chunk: chunk, tat: clk.Now()}
}

// wait blocks until n more bytes may pass.
func (l *limiter) wait(n int) error {
	if err := l.ctx.Err(); err != nil {
		return context.Cause(l.ctx)
	}
	now := l.clk.Now()
	if l.tat.Before(now) {
		l.tat = now
	}
	l.tat = l.tat.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	if d := l.tat.Sub(now) - throttleBurst; d > 0 {
		return l.clk.Sleep(l.ctx, d)
	}
	return nil
}

// throttledWriter limits the rate of writes to an underlying writer, like
// pv -L in the script's donor pipeline.
type throttledWriter struct {
	w io.Writer
	l *limiter
}

// NewThrottledWriter returns a writer that passes writes to w at no more
// than bytesPerSec on average, cutting large writes into pieces of a tenth
// of a second's worth. While waiting it honours ctx: Write returns
// context.Cause(ctx) once ctx is done. With bytesPerSec <= 0 it returns w
// itself. Not safe for concurrent use.
func NewThrottledWriter(ctx context.Context, w io.Writer, bytesPerSec int64) io.Writer {
	if bytesPerSec <= 0 {
		return w
	}
	return newThrottledWriter(ctx, w, bytesPerSec, realClock{})
}

func newThrottledWriter(ctx context.Context, w io.Writer, bytesPerSec int64, clk clock) *throttledWriter {
	return &throttledWriter{w: w, l: newLimiter(ctx, bytesPerSec, clk)}
}

// Write writes p to the underlying writer, waiting as the rate requires
// before each piece.
func (t *throttledWriter) Write(p []byte) (int, error) {
	var written int
	for len(p) > 0 {
		piece := p[:min(len(p), t.l.chunk)]
		if err := t.l.wait(len(piece)); err != nil {
			return written, err
		}
		n, err := t.w.Write(piece)
		written += n
		if err != nil {
			return written, err
		}
		if n != len(piece) {
			return written, io.ErrShortWrite
		}
		p = p[n:]
	}
	return written, nil
}
