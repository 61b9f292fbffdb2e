package stream

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultProgressInterval is the report interval of the script's
// user-configured progress output (pv -i 10).
const DefaultProgressInterval = 10 * time.Second

// ProgressConfig says what a Progress reports and where.
type ProgressConfig struct {
	// Name labels report lines, like pv -N (the script uses the SST role,
	// "donor" or "joiner").
	Name string
	// Total is the expected number of bytes (pv -s), e.g. the donor's
	// footprint estimate; 0 means unknown, and lines carry no ETA or
	// percentage. It is an estimate: the count may pass it.
	Total int64
	// Interval is the time between reports; 0 means
	// DefaultProgressInterval.
	Interval time.Duration
	// Report, if not nil, receives each report line in pv's format as the
	// script configures it
	// ('%N => Rate:%r Avg:%a Elapsed:%t %e Bytes: %b %p'), e.g.
	// "    donor: => Rate:[99.0MiB/s] Avg:[98.6MiB/s] Elapsed:0:00:10 ETA 0:01:20 Bytes: 1.02GiB 11%".
	Report func(line string)
	// Complete, if not nil, receives the byte count and Total at each
	// report, for the "complete N" lines of the SST progress protocol
	// (what the script gets from pv -n -b).
	Complete func(done, total int64)
}

// ticker is the part of time.Ticker a Progress uses, replaced in tests.
type ticker interface {
	C() <-chan time.Time
	Stop()
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Progress counts bytes and reports the count periodically from its own
// goroutine, like pv in the script's pipelines. Add, Writer, Reader and N
// are safe for concurrent use.
type Progress struct {
	cfg   ProgressConfig
	now   func() time.Time
	n     atomic.Int64
	start time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}

	// Used only by the reporting goroutine, then by Done after it exits.
	lastTime time.Time
	lastN    int64
}

// StartProgress starts counting and reporting every cfg.Interval until Done
// is called or ctx is done. The caller must call Done, which makes the
// final report.
func StartProgress(ctx context.Context, cfg ProgressConfig) *Progress {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultProgressInterval
	}
	t := time.NewTicker(cfg.Interval)
	return startProgress(ctx, cfg, time.Now, realTicker{t})
}

func startProgress(ctx context.Context, cfg ProgressConfig, now func() time.Time, t ticker) *Progress {
	p := &Progress{
		cfg:  cfg,
		now:  now,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	p.start = now()
	p.lastTime = p.start
	go p.run(ctx, t)
	return p
}

func (p *Progress) run(ctx context.Context, t ticker) {
	defer close(p.done)
	defer t.Stop()
	for {
		select {
		case <-t.C():
			p.report(false)
		case <-p.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Add adds n bytes to the count.
func (p *Progress) Add(n int64) { p.n.Add(n) }

// N returns the count so far.
func (p *Progress) N() int64 { return p.n.Load() }

// Writer returns a writer that writes to w and counts what was written.
func (p *Progress) Writer(w io.Writer) io.Writer { return progressWriter{w, p} }

// Reader returns a reader that reads from r and counts what was read.
func (p *Progress) Reader(r io.Reader) io.Reader { return progressReader{r, p} }

// counted adds the n bytes of a Read or Write to the count and passes its
// results on.
func (p *Progress) counted(n int, err error) (int, error) {
	p.Add(int64(n))
	return n, err
}

type progressWriter struct {
	w io.Writer
	p *Progress
}

func (w progressWriter) Write(b []byte) (int, error) { return w.p.counted(w.w.Write(b)) }

type progressReader struct {
	r io.Reader
	p *Progress
}

func (r progressReader) Read(b []byte) (int, error) { return r.p.counted(r.r.Read(b)) }

// Done stops the periodic reports, waits for the reporting goroutine, and
// makes the final report (even if ctx is done, so the operator sees how far
// the transfer got). Later calls do nothing.
func (p *Progress) Done() {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.report(true)
	})
}

// report emits one report: current rate over the time since the previous
// report, average rate since the start.
func (p *Progress) report(final bool) {
	now := p.now()
	n := p.n.Load()
	elapsed := now.Sub(p.start)
	var rate, avg float64
	if d := now.Sub(p.lastTime).Seconds(); d > 0 {
		rate = float64(n-p.lastN) / d
	}
	if s := elapsed.Seconds(); s > 0 {
		avg = float64(n) / s
	}
	if final && now.Sub(p.lastTime) < p.cfg.Interval/10 {
		// Too short a slice for a meaningful current rate (pv reports the
		// overall rate at the end, too).
		rate = avg
	}
	p.lastTime, p.lastN = now, n
	if p.cfg.Complete != nil {
		p.cfg.Complete(n, p.cfg.Total)
	}
	if p.cfg.Report != nil {
		p.cfg.Report(formatProgress(p.cfg.Name, n, p.cfg.Total, rate, avg, elapsed, final))
	}
}

// formatProgress renders a line like pv with the script's format
// '%N => Rate:%r Avg:%a Elapsed:%t %e Bytes: %b %p'. %N is the name padded
// to 9 characters plus ":"; %e ("ETA H:MM:SS") and %p (a percentage; pv
// draws a bar sized to the terminal, pointless in a log) are empty when the
// total is unknown, and %e also in the final line. Trailing blanks are
// trimmed.
func formatProgress(name string, n, total int64, rate, avg float64, elapsed time.Duration, final bool) string {
	var eta, pct string
	if total > 0 {
		pct = fmt.Sprintf("%d%%", n*100/total)
		if !final && avg > 0 {
			left := max(total-n, 0)
			eta = "ETA " + pvDuration(time.Duration(float64(left)/avg*float64(time.Second)))
		}
	}
	line := fmt.Sprintf("%9s: => Rate:[%s/s] Avg:[%s/s] Elapsed:%s %s Bytes: %s %s",
		name, pvSize(rate), pvSize(avg), pvDuration(elapsed), eta, pvSize(float64(n)), pct)
	return strings.TrimRight(line, " ")
}

// pvSize formats like pv: binary units once the value reaches 1024, three
// significant digits in a four-character field ("0.00 B", "1023 B",
// "9.77KiB", "99.0MiB", " 100MiB").
func pvSize(v float64) string {
	units := []string{" B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	switch {
	case v < 9.995:
		return fmt.Sprintf("%.2f%s", v, units[u])
	case v < 99.95:
		return fmt.Sprintf("%.1f%s", v, units[u])
	}
	// pv truncates here: 1048575 bytes is "1023KiB", not "1024KiB".
	return fmt.Sprintf("%4d%s", int64(max(v, 100)), units[u])
}

// pvDuration formats like pv's %t: H:MM:SS, or D:HH:MM:SS past a day.
func pvDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 86400 {
		return fmt.Sprintf("%d:%02d:%02d:%02d", s/86400, s/3600%24, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
