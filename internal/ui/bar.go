package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressBar draws a one-line progress bar with rate and ETA on a
// terminal, from a total (SetTotal) and the bytes done so far (Update),
// e.g. an SST's progress reports (about once a second). It is also the terminal's writer for log
// lines: each one clears the bar and is written whole; the next update
// draws the bar below it. Safe for concurrent use.
type ProgressBar struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	total   int64
	done    int64
	shown   bool        // the bar is on the screen (no newline after it)
	samples []barSample // recent (time, bytes), for the rate
	last    time.Time   // when the bar was last drawn
}

type barSample struct {
	t time.Time
	n int64
}

// barWindow is how far back the rate looks; barWidth is the bar's width
// in cells.
const (
	barWindow = 5 * time.Second
	barWidth  = 30
)

// NewProgressBar returns a bar drawing on w (a terminal).
func NewProgressBar(w io.Writer) *ProgressBar {
	return &ProgressBar{w: w, now: time.Now}
}

// Write writes log lines above the bar.
func (b *ProgressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		// The next update draws the bar again below the line; one
		// that has stopped (the stream is over) is not drawn again.
		fmt.Fprint(b.w, "\r\033[K")
		b.shown = false
	}
	return b.w.Write(p)
}

// SetTotal sets the size the bar fills up to, in bytes; 0 or less draws
// no bar, only the bytes done and the rate.
func (b *ProgressBar) SetTotal(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = n
}

// Update sets the bytes done and redraws the bar (at most five times a
// second, and at once after a log line).
func (b *ProgressBar) Update(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	b.done = done
	b.samples = append(b.samples, barSample{t, done})
	for len(b.samples) > 2 && t.Sub(b.samples[0].t) > barWindow {
		b.samples = b.samples[1:]
	}
	if b.shown && t.Sub(b.last) < 200*time.Millisecond {
		return
	}
	b.last = t
	fmt.Fprint(b.w, "\r\033[K"+b.line())
	b.shown = true
}

// Finish ends the bar's line, leaving its last state on the screen.
func (b *ProgressBar) Finish() {
	if b == nil { // no bar: nothing to end
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\r\033[K"+b.line()+"\n")
		b.shown = false
	}
}

// line renders the bar, e.g.
// "[=========>                    ]  31%  1.2 GiB / 3.9 GiB  85.3 MiB/s  ETA 0:32".
func (b *ProgressBar) line() string {
	var rate float64
	if n := len(b.samples); n >= 2 {
		first, last := b.samples[0], b.samples[n-1]
		if d := last.t.Sub(first.t).Seconds(); d > 0 {
			rate = float64(last.n-first.n) / d
		}
	}
	speed := "--"
	if rate > 0 {
		speed = Bytes(int64(rate))
	}
	if b.total <= 0 {
		return fmt.Sprintf("%s  %s/s", Bytes(b.done), speed)
	}
	frac := float64(b.done) / float64(b.total)
	if frac > 1 {
		frac = 1 // the donor's total is an estimate
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	eta := "--:--"
	if rate > 0 && b.done < b.total {
		s := int(float64(b.total-b.done)/rate + 0.5)
		eta = fmt.Sprintf("%d:%02d", s/60, s%60)
		if s >= 3600 {
			eta = fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
		}
	}
	return fmt.Sprintf("[%s] %3d%%  %s / %s  %s/s  ETA %s", bar, int(frac*100), Bytes(b.done), Bytes(b.total), speed, eta)
}
