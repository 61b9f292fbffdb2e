package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// fakeClock advances only when the limiter sleeps.
type fakeClock struct {
	now    time.Time
	slept  time.Duration
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		panic("non-positive sleep")
	}
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	return ctx.Err()
}

// pieceWriter records the size of each write it receives.
type pieceWriter struct {
	pieces []int
	n      int
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	w.pieces = append(w.pieces, len(p))
	w.n += len(p)
	return len(p), nil
}

func TestThrottledWriterRate(t *testing.T) {
	tests := []struct {
		rate      int64
		total     int
		writeSize int
	}{
		{1 << 20, 10 << 20, 64 << 10},   // many small writes
		{1 << 20, 10 << 20, 10 << 20},   // one huge write, cut into pieces
		{100 << 20, 1 << 30, 1 << 20},   // fast
		{10, 1000, 7},                   // tiny rate: 1-byte pieces
		{3 << 20, 5<<20 + 3, 128 << 10}, // uneven
	}
	for _, tt := range tests {
		clk := &fakeClock{now: time.Unix(1000, 0)}
		var out pieceWriter
		w := newThrottledWriter(t.Context(), &out, tt.rate, clk)
		buf := make([]byte, tt.writeSize)
		for left := tt.total; left > 0; left -= min(left, tt.writeSize) {
			if n, err := w.Write(buf[:min(left, tt.writeSize)]); err != nil || n != min(left, tt.writeSize) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if out.n != tt.total {
			t.Fatalf("wrote %d bytes, want %d", out.n, tt.total)
		}
		chunk := max(tt.rate/10, 1)
		for _, p := range out.pieces {
			if int64(p) > chunk {
				t.Fatalf("rate %d: a piece of %d bytes, want at most %d", tt.rate, p, chunk)
			}
		}
		// Everything but the initial burst waits: elapsed = total/rate - burst.
		want := time.Duration(float64(tt.total)/float64(tt.rate)*float64(time.Second)) - throttleBurst
		if diff := clk.slept - want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Errorf("rate %d, %d bytes: slept %v, want %v", tt.rate, tt.total, clk.slept, want)
		}
	}
}

func TestThrottledWriterIdleCredit(t *testing.T) {
	// After an idle period only one burst passes without waiting, not the
	// whole idle time's worth.
	clk := &fakeClock{now: time.Unix(1000, 0)}
	w := newThrottledWriter(t.Context(), io.Discard, 1000, clk)
	clk.now = clk.now.Add(time.Hour)
	if _, err := w.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if clk.sleeps != 0 {
		t.Errorf("first burst slept %v", clk.slept)
	}
	if _, err := w.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if clk.slept != time.Second {
		t.Errorf("slept %v, want 1s", clk.slept)
	}
}

func TestThrottleDisabled(t *testing.T) {
	var buf bytes.Buffer
	if w := NewThrottledWriter(t.Context(), &buf, 0); w != io.Writer(&buf) {
		t.Errorf("rate 0: got %T, want the writer itself", w)
	}
	if w := NewThrottledWriter(t.Context(), &buf, -1); w != io.Writer(&buf) {
		t.Errorf("rate -1: got %T, want the writer itself", w)
	}
}

func TestThrottleCancel(t *testing.T) {
	// A real clock and a rate that would take hours: cancellation must end
	// the wait.
	stop := errors.New("test stop")
	ctx, cancel := context.WithCancelCause(t.Context())
	w := NewThrottledWriter(ctx, io.Discard, 10)
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(make([]byte, 1<<20))
		done <- err
	}()
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Errorf("Write: %v, want the context cause", err)
	}
}

// TestThrottleAccuracy measures the real rate over a long transfer; set
// STREAM_THROTTLE_SECONDS (60 for the ±2% acceptance check) to run it.
func TestThrottleAccuracy(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("STREAM_THROTTLE_SECONDS"))
	if secs <= 0 {
		t.Skip("set STREAM_THROTTLE_SECONDS to measure throttle accuracy in real time")
	}
	const rate = 20 << 20
	total := int64(rate) * int64(secs)
	w := NewThrottledWriter(t.Context(), io.Discard, rate)
	buf := make([]byte, copyBufferSize)
	start := time.Now()
	for n := int64(0); n < total; n += int64(len(buf)) {
		if _, err := w.Write(buf[:min(int64(len(buf)), total-n)]); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	got := float64(total) / elapsed.Seconds()
	dev := (got - rate) / rate * 100
	t.Logf("%d bytes in %v: %.0f B/s, want %d B/s (%+.3f%%)", total, elapsed, got, rate, dev)
	if dev < -2 || dev > 2 {
		t.Errorf("rate off by %+.2f%%, want within ±2%%", dev)
	}
}
