package stream

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeTicker struct{ c chan time.Time }

func (f *fakeTicker) C() <-chan time.Time { return f.c }
func (f *fakeTicker) Stop()               {}

// progressHarness drives a Progress with a fake clock and ticker. Report
// lines arrive on lines; tick waits for the report it triggers.
type progressHarness struct {
	mu       sync.Mutex
	now      time.Time
	ticker   *fakeTicker
	lines    chan string
	complete []int64
	p        *Progress
}

func newProgressHarness(t *testing.T, ctx context.Context, cfg ProgressConfig) *progressHarness {
	t.Helper()
	h := &progressHarness{
		now:    time.Unix(1_700_000_000, 0),
		ticker: &fakeTicker{c: make(chan time.Time)},
		lines:  make(chan string, 10),
	}
	cfg.Report = func(line string) { h.lines <- line }
	cfg.Complete = func(done, total int64) {
		h.mu.Lock()
		h.complete = append(h.complete, done, total)
		h.mu.Unlock()
	}
	h.p = startProgress(ctx, cfg, h.clock, h.ticker)
	t.Cleanup(h.p.Done)
	return h
}

func (h *progressHarness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *progressHarness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *progressHarness) tick() string {
	h.ticker.c <- time.Time{}
	return <-h.lines
}

func TestProgressReports(t *testing.T) {
	h := newProgressHarness(t, t.Context(), ProgressConfig{Name: "donor", Total: 1000 << 20, Interval: 10 * time.Second})
	const mib = 1 << 20
	steps := []struct {
		add  int64
		wait time.Duration
		want string
	}{
		{100 * mib, 10 * time.Second, "    donor: => Rate:[10.0MiB/s] Avg:[10.0MiB/s] Elapsed:0:00:10 ETA 0:01:30 Bytes:  100MiB 10%"},
		{300 * mib, 10 * time.Second, "    donor: => Rate:[30.0MiB/s] Avg:[20.0MiB/s] Elapsed:0:00:20 ETA 0:00:30 Bytes:  400MiB 40%"},
		{0, 10 * time.Second, "    donor: => Rate:[0.00 B/s] Avg:[13.3MiB/s] Elapsed:0:00:30 ETA 0:00:45 Bytes:  400MiB 40%"},
	}
	for i, s := range steps {
		// Count through Writer (a little) and Add (the rest).
		h.p.Writer(io.Discard).Write(make([]byte, min(s.add, 1000)))
		h.p.Add(s.add - min(s.add, 1000))
		h.advance(s.wait)
		if got := h.tick(); got != s.want {
			t.Errorf("report %d:\n got %q\nwant %q", i, got, s.want)
		}
	}
	// Final report: no ETA; the count may pass the estimate.
	io.Copy(io.Discard, h.p.Reader(bytes.NewReader(make([]byte, 1000))))
	h.p.Add(700*mib - 1000)
	h.advance(20 * time.Second)
	h.p.Done()
	want := "    donor: => Rate:[35.0MiB/s] Avg:[22.0MiB/s] Elapsed:0:00:50  Bytes: 1.07GiB 110%"
	if got := <-h.lines; got != want {
		t.Errorf("final:\n got %q\nwant %q", got, want)
	}
	h.p.Done() // idempotent: no second report
	select {
	case l := <-h.lines:
		t.Errorf("second Done reported %q", l)
	default:
	}
	if got := h.p.N(); got != 1100*mib {
		t.Errorf("N() = %d, want %d", got, 1100*mib)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	wantComplete := []int64{100 * mib, 1000 * mib, 400 * mib, 1000 * mib, 400 * mib, 1000 * mib, 1100 * mib, 1000 * mib}
	if !slices.Equal(h.complete, wantComplete) {
		t.Errorf("Complete calls %v, want %v", h.complete, wantComplete)
	}
}

func TestProgressUnknownTotal(t *testing.T) {
	h := newProgressHarness(t, t.Context(), ProgressConfig{Name: "joiner"})
	h.p.Add(3000)
	h.advance(2 * time.Second)
	want := "   joiner: => Rate:[1.46KiB/s] Avg:[1.46KiB/s] Elapsed:0:00:02  Bytes: 2.93KiB"
	if got := h.tick(); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestProgressCancelled(t *testing.T) {
	// When ctx ends, periodic reports stop; Done still makes the final one.
	ctx, cancel := context.WithCancel(t.Context())
	h := newProgressHarness(t, ctx, ProgressConfig{Name: "donor", Interval: time.Second})
	h.p.Add(10)
	cancel()
	<-h.p.done // the reporting goroutine has exited
	h.advance(time.Hour)
	h.p.Done()
	if got := <-h.lines; !strings.Contains(got, "Elapsed:1:00:00") || !strings.HasSuffix(got, "Bytes: 10.0 B") {
		t.Errorf("final report %q", got)
	}
}

func TestProgressRealTicker(t *testing.T) {
	// StartProgress with the real clock: Done always reports once.
	var lines []string
	p := StartProgress(t.Context(), ProgressConfig{Name: "donor", Interval: time.Hour, Report: func(l string) { lines = append(lines, l) }})
	p.Add(5)
	p.Done()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "    donor: => Rate:[") {
		t.Errorf("lines %q", lines)
	}
}

func TestPVSize(t *testing.T) {
	// Expected strings are pv 1.6.20's output for the same byte counts.
	tests := map[float64]string{
		0:        "0.00 B",
		5:        "5.00 B",
		999:      " 999 B",
		1000:     "1000 B",
		1023:     "1023 B",
		1024:     "1.00KiB",
		10000:    "9.77KiB",
		1048575:  "1023KiB",
		99 << 20: "99.0MiB",
		3 << 40:  "3.00TiB",
	}
	for v, want := range tests {
		if got := pvSize(v); got != want {
			t.Errorf("pvSize(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPVDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                       "0:00:00",
		-time.Second:            "0:00:00",
		1500 * time.Millisecond: "0:00:01",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03",
		49 * time.Hour: "2:01:00:00",
	}
	for d, want := range tests {
		if got := pvDuration(d); got != want {
			t.Errorf("pvDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
