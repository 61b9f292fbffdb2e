package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SchemaVersion is the "version" member of every document; it changes
// only when a member is removed or changes meaning.
const SchemaVersion = 1

// Stage names, in the order a transfer goes through them. Stage accepts
// any name; these are the ones the SST program uses.
const (
	StageListening = "listening"
	StageGTID      = "gtid"
	StageReceiving = "receiving"
	StagePreparing = "preparing"
	StageSwapping  = "swapping"
	StageDone      = "done"
	StageFailed    = "failed"
)

// stamp is the layout of every time in the document: RFC 3339, UTC, ms.
const stamp = "2006-01-02T15:04:05.000Z07:00"

// DefaultInterval is how often the file is rewritten while alive.
const DefaultInterval = time.Second

// rateWindow is the span the rate is averaged over.
const rateWindow = 10 * time.Second

// Fields are the inputs of Start.
type Fields struct {
	// Role names the side of the transfer ("donor", "joiner").
	Role string
	// Peer is the other side's address, if known (see Writer.SetPeer).
	Peer string
	// Interval is the rewrite period; 0 means DefaultInterval.
	Interval time.Duration
	// Log, if set, receives one warning on the first failed write. A
	// status file never fails the transfer it describes.
	Log *slog.Logger
	// Redact, if set, scrubs every text member (error, peer, role, stage
	// names) at every write, so that a secret learnt after Start never
	// reaches the file either; the log's scrubber (logx.Handler.Redact).
	// It must be safe for concurrent use.
	Redact func(string) string
}

// Document is the JSON written to the file.
type Document struct {
	Version int    `json:"version"`
	Role    string `json:"role"`
	// Stage is the current stage; Stages lists every stage entered, in
	// order, with the time it began.
	Stage  string       `json:"stage"`
	Stages []StageEntry `json:"stages"`
	// BytesDone and BytesTotal count the payload; BytesTotal is null when
	// unknown.
	BytesDone  int64  `json:"bytes_done"`
	BytesTotal *int64 `json:"bytes_total"`
	// Rate is bytes per second over the last ten seconds; ETASeconds is
	// null unless both the total and a non-zero rate are known.
	Rate       int64  `json:"rate_bytes_per_second"`
	ETASeconds *int64 `json:"eta_seconds"`
	Peer       string `json:"peer"`
	PID        int    `json:"pid"`
	Started    string `json:"started"` // RFC 3339 UTC with ms, as every time here
	Updated    string `json:"updated"`
	// Error is the failure, with stage "failed"; omitted otherwise.
	Error string `json:"error,omitempty"`
}

// StageEntry is one stage and when it began.
type StageEntry struct {
	Name    string `json:"name"`
	Started string `json:"started"`
}

// Writer keeps the status file up to date. Its methods are safe for
// concurrent use, and a nil *Writer (Start with an empty path) does
// nothing, so callers need not check.
type Writer struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	redact   func(string) string
	now      func() time.Time

	writeMu sync.Mutex // serialises file writes, so renames land in order

	mu       sync.Mutex
	doc      Document
	bytes    func() (done, total int64)
	samples  []sample
	final    string // the final stage, once entered
	explicit bool   // Done or Fail was called
	warned   bool

	stop chan struct{} // closed by the first Done or Fail
	done chan struct{} // closed when the ticker goroutine returns
	// wrote, when set by tests, receives after every file write.
	wrote chan<- struct{}
}

type sample struct {
	t    time.Time
	done int64
}

// Start writes the first document (stage empty until the first Stage
// call, pid and start time set) and rewrites it every Interval until
// Done, Fail or the end of ctx. When ctx ends first, a last document with
// stage "failed" and the context's error is written; a later Done or Fail
// still replaces it. An empty path returns nil.
func Start(ctx context.Context, path string, f Fields) *Writer {
	return start(ctx, path, f, time.Now, nil)
}

func start(ctx context.Context, path string, f Fields, now func() time.Time, wrote chan<- struct{}) *Writer {
	if path == "" {
		return nil
	}
	if f.Interval <= 0 {
		f.Interval = DefaultInterval
	}
	t := now()
	w := &Writer{
		path:     path,
		interval: f.Interval,
		log:      f.Log,
		redact:   f.Redact,
		now:      now,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		wrote:    wrote,
		doc: Document{
			Version: SchemaVersion,
			Role:    f.Role,
			Stages:  []StageEntry{},
			Peer:    f.Peer,
			PID:     os.Getpid(),
			Started: t.UTC().Format(stamp),
		},
	}
	w.update(true)
	go w.loop(ctx)
	return w
}

func (w *Writer) loop(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			w.finish(StageFailed, fmt.Errorf("interrupted: %w", context.Cause(ctx)), false)
			return
		case <-tick.C:
			w.update(false)
		}
	}
}

// Stage enters stage name and rewrites the file at once.
func (w *Writer) Stage(name string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.final != "" {
		w.mu.Unlock()
		return
	}
	w.setStage(name)
	w.mu.Unlock()
	w.update(true)
}

// setStage is called with w.mu held.
func (w *Writer) setStage(name string) {
	w.doc.Stage = name
	w.doc.Stages = append(w.doc.Stages, StageEntry{Name: name, Started: w.now().UTC().Format(stamp)})
}

// Bytes sets the function polled at every rewrite for the bytes done and
// the total (total <= 0: unknown). It must be cheap and safe to call from
// another goroutine, e.g. atomic counters. It replaces any earlier one.
func (w *Writer) Bytes(f func() (done, total int64)) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.bytes = f
	w.samples = nil
	w.mu.Unlock()
}

// SetPeer records the other side's address once it is known.
func (w *Writer) SetPeer(peer string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.doc.Peer = peer
	w.mu.Unlock()
}

// Done writes the final document with stage "done" and stops the
// rewrites; the file stays. Only the first Done or Fail counts.
func (w *Writer) Done() {
	if w == nil {
		return
	}
	w.finish(StageDone, nil, true)
	<-w.done
}

// Fail writes the final document with stage "failed" and err, and stops
// the rewrites; the file stays. Only the first Done or Fail counts; it
// replaces the document written when ctx ended.
func (w *Writer) Fail(err error) {
	if w == nil {
		return
	}
	if err == nil {
		err = errors.New("failed")
	}
	w.finish(StageFailed, err, true)
	<-w.done
}

// finish enters a final stage. explicit marks Done and Fail: the first of
// them wins, and replaces the "interrupted" document the ctx path writes.
func (w *Writer) finish(stage string, err error, explicit bool) {
	w.mu.Lock()
	switch {
	case explicit && w.explicit, !explicit && w.final != "":
		w.mu.Unlock()
		return
	case explicit && w.final != "":
		w.doc.Stages = w.doc.Stages[:len(w.doc.Stages)-1]
	}
	w.explicit = explicit
	w.final = stage
	w.setStage(stage)
	w.doc.Error = ""
	if err != nil {
		w.doc.Error = err.Error()
	}
	w.mu.Unlock()
	w.update(true)
	if explicit {
		close(w.stop)
	}
}

// update samples the byte counter and rewrites the file; sync also
// fsyncs the directory (at stage changes, not every tick).
func (w *Writer) update(sync bool) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	f := w.bytes
	w.mu.Unlock()
	var done, total int64
	if f != nil {
		done, total = f()
	}
	w.mu.Lock()
	t := w.now()
	w.sample(t, done, total, f != nil)
	w.doc.Updated = t.UTC().Format(stamp)
	b, err := json.MarshalIndent(w.redacted(), "", "  ")
	w.mu.Unlock()
	if err == nil {
		err = writeFile(w.path, append(b, '\n'), sync)
	}
	if err != nil {
		w.mu.Lock()
		warn := !w.warned && w.log != nil
		w.warned = true
		w.mu.Unlock()
		if warn {
			w.log.Warn(fmt.Sprintf("status file: %v: the transfer goes on without it; check that the directory of %s exists and is writable", err, w.path))
		}
	}
	if w.wrote != nil {
		w.wrote <- struct{}{}
	}
}

// redacted returns the document to write: a copy with every text member
// scrubbed when there is a scrubber; called with w.mu held.
func (w *Writer) redacted() *Document {
	if w.redact == nil {
		return &w.doc
	}
	d := w.doc
	d.Role = w.redact(d.Role)
	d.Stage = w.redact(d.Stage)
	d.Peer = w.redact(d.Peer)
	d.Error = w.redact(d.Error)
	d.Stages = make([]StageEntry, len(w.doc.Stages))
	for i, e := range w.doc.Stages {
		d.Stages[i] = StageEntry{Name: w.redact(e.Name), Started: e.Started}
	}
	return &d
}

// sample records the byte count at t and derives rate and ETA; called
// with w.mu held.
func (w *Writer) sample(t time.Time, done, total int64, have bool) {
	if !have {
		return
	}
	w.doc.BytesDone = done
	w.doc.BytesTotal = nil
	if total > 0 {
		w.doc.BytesTotal = &total
	}
	w.samples = append(w.samples, sample{t, done})
	// Keep one sample at or before the window's start, so the rate spans
	// the whole window once it has filled.
	for len(w.samples) > 2 && t.Sub(w.samples[1].t) >= rateWindow {
		w.samples = w.samples[1:]
	}
	w.doc.Rate = 0
	w.doc.ETASeconds = nil
	first := w.samples[0]
	if dt := t.Sub(first.t).Seconds(); dt > 0 && done > first.done {
		rate := float64(done-first.done) / dt
		w.doc.Rate = int64(rate)
		if total > 0 && done <= total {
			eta := int64((float64(total-done) / rate) + 0.5)
			w.doc.ETASeconds = &eta
		}
	}
}

// TempPattern is the filepath.Match pattern of the temporary files the
// writer creates beside a status file named base (they are renamed over
// it, or removed).
func TempPattern(base string) string { return "." + base + ".tmp*" }

// writeFile replaces path with b atomically: a temporary file in the
// same directory, written, fsynced, made world-readable (probes may run
// as another user), then renamed over path. With syncDir, the directory
// is fsynced too so the rename survives a crash.
func writeFile(path string, b []byte, syncDir bool) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPattern(base))
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !syncDir {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
