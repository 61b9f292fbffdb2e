package logx

import (
	"bytes"
	"strings"
	"sync"
)

// LineWriter is an io.WriteCloser that hands each line written to it,
// without its "\n" or "\r\n", to a function, however the writes are cut:
// the shape of a child's stderr going to a log. It buffers at most one
// unfinished line: once that reaches its bound, what it holds is handed
// on as a line, so a child that never ends a line cannot grow it. Close
// hands on an unterminated last line. Write never fails. It is safe for
// concurrent use; the function is called with the writer's lock held, one
// line at a time.
type LineWriter struct {
	mu  sync.Mutex
	fn  func(line string)
	max int
	buf []byte // an unfinished line
}

// NewLineWriter returns a LineWriter calling fn for each line; limit
// bounds an unfinished line (at least 1 byte).
func NewLineWriter(limit int, fn func(line string)) *LineWriter {
	return &LineWriter{fn: fn, max: max(limit, 1)}
}

// Write hands on every line p completes, and the unfinished rest once it
// reaches the bound.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	rest := w.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.emit(rest[:i])
		rest = rest[i+1:]
	}
	if len(rest) >= w.max {
		w.emit(rest)
		rest = nil
	}
	switch {
	case cap(w.buf) > 2*w.max:
		// One big write grew the buffer: do not keep it.
		w.buf = append([]byte(nil), rest...)
	default:
		w.buf = append(w.buf[:0], rest...)
	}
	return len(p), nil
}

// Close hands on what is left of an unterminated last line.
func (w *LineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
	}
	w.buf = nil
	return nil
}

func (w *LineWriter) emit(line []byte) {
	w.fn(strings.TrimSuffix(string(line), "\r"))
}
