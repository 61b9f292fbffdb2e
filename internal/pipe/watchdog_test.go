package pipe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// stalls starts a watchdog whose stall cancels the returned context.
func stalls(t *testing.T, timeout time.Duration) (*Watchdog, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(t.Context())
	t.Cleanup(func() { cancel(nil) })
	w := StartWatchdog(ctx, timeout, func(e *StallError) { cancel(e) })
	t.Cleanup(w.Stop)
	return w, ctx
}

func TestWatchdogNil(t *testing.T) {
	w := StartWatchdog(t.Context(), 0, func(*StallError) { t.Error("stall reported by a disabled watchdog") })
	if w != nil {
		t.Fatalf("timeout 0 gave a watchdog")
	}
	r := strings.NewReader("x")
	if got := w.Reader("r", r); got != io.Reader(r) {
		t.Errorf("nil Watchdog wrapped a reader")
	}
	var buf bytes.Buffer
	if got := w.Writer("w", &buf); got != io.Writer(&buf) {
		t.Errorf("nil Watchdog wrapped a writer")
	}
	w.Stop()
}

// TestWatchdogBlockedRead: a Read that never returns is reported, with the
// stage's name, within a few ticks of the timeout.
func TestWatchdogBlockedRead(t *testing.T) {
	w, ctx := stalls(t, 100*time.Millisecond)
	pr, pw := io.Pipe()
	defer pw.Close()
	r := w.Reader("no data received from the donor", pr)
	context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	start := time.Now()
	_, err := r.Read(make([]byte, 10))
	se := wantStall(t, err, "no data received from the donor")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("stall reported after %v, before the timeout", d)
	}
	if !strings.Contains(se.Error(), "100ms") {
		t.Errorf("message %q does not name the timeout", se.Error())
	}
}

// TestWatchdogBlockedWrite: a writer whose peer does not read is reported.
func TestWatchdogBlockedWrite(t *testing.T) {
	w, ctx := stalls(t, 100*time.Millisecond)
	pr, pw := io.Pipe()
	defer pr.Close()
	wr := w.Writer("the joiner accepted no data", pw)
	context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	_, err := wr.Write(make([]byte, 10))
	wantStall(t, err, "the joiner accepted no data")
}

// slowReader returns one byte per call after a pause.
type slowReader struct {
	pause time.Duration
	left  int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	s.left--
	p[0] = 'x'
	return 1, nil
}

// TestWatchdogProgress: a stage that is slow but keeps moving, and time
// spent between calls, are not stalls.
func TestWatchdogProgress(t *testing.T) {
	w, ctx := stalls(t, 200*time.Millisecond)
	r := w.Reader("slow", &slowReader{pause: 20 * time.Millisecond, left: 20})
	buf := make([]byte, 1)
	for i := 0; ; i++ {
		_, err := r.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			// Busy between calls (a receiver writing to disk) for
			// longer than the timeout: not a stall of the reader.
			time.Sleep(300 * time.Millisecond)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("stall reported for a moving stage: %v", context.Cause(ctx))
	}
}

// TestWatchdogSplitsWrites: a big Write reaches the writer in pieces, so a
// slow link that keeps moving is not a stall.
func TestWatchdogSplitsWrites(t *testing.T) {
	w, _ := stalls(t, time.Minute)
	var sizes []int
	rec := writerFunc(func(p []byte) (int, error) { sizes = append(sizes, len(p)); return len(p), nil })
	n, err := w.Writer("w", rec).Write(make([]byte, 3*maxWatchedWrite+5))
	if err != nil || n != 3*maxWatchedWrite+5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if len(sizes) != 4 || sizes[3] != 5 {
		t.Errorf("pieces %v, want 3 x %d and 5", sizes, maxWatchedWrite)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// wantStall checks that err is the stall of the stage what, and returns it.
func wantStall(t *testing.T, err error, what string) *StallError {
	t.Helper()
	var se *StallError
	if !errors.As(err, &se) || se.What != what {
		t.Fatalf("err = %v, want the stall of %q", err, what)
	}
	return se
}
