package proc

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// Reader is a child's standard output. It is not safe for concurrent use,
// except that Close may be called while a Read is blocked.
type Reader struct {
	p    *Process
	f    *os.File
	eof  bool
	once sync.Once
	err  error
}

// StartReader starts c with its standard output connected to the returned
// Reader; c.Stdout must be nil. The caller must Close the Reader. When ctx
// is done the child is stopped as by Process.Stop, and the wait delay
// later the pipe is closed, ending a Read that an escaped holder of the
// pipe would otherwise keep blocked.
func StartReader(ctx context.Context, c Cmd) (*Reader, error) {
	if c.Stdout != nil {
		return nil, ErrStdout
	}
	// Our own pipe rather than cmd.StdoutPipe: Wait, which runs as soon
	// as the child exits, would close it while output is still buffered.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	c.Stdout = pw
	p, err := start(ctx, c, func() { _ = pr.Close() })
	_ = pw.Close() // the child has its own copy
	if err != nil {
		_ = pr.Close()
		return nil, err
	}
	return &Reader{p: p, f: pr}, nil
}

// Process returns the child.
func (r *Reader) Process() *Process { return r.p }

// Read reads the child's standard output. At the end of the output it
// waits for the child and returns its *ExitError instead of io.EOF if it
// failed, so that a truncated stream is not taken for a complete one.
func (r *Reader) Read(b []byte) (int, error) {
	if r.eof {
		if err := r.p.Wait(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	n, err := r.f.Read(b)
	if err == io.EOF {
		r.eof = true
		if werr := r.p.Wait(); werr != nil {
			return n, werr
		}
		return n, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("read output of %s: %w", r.p.name, err)
	}
	return n, nil
}

// Close stops the child if its output has not been read to the end (see
// Process.Stop), closes the pipe, waits for the child and returns its
// error: nil if it succeeded or if it was still running when Close (or
// its context) stopped it, else its *ExitError. Close is bounded by about
// twice the wait delay. It is idempotent.
func (r *Reader) Close() error {
	r.once.Do(func() {
		stopped := false
		if !r.eof {
			stopped = r.p.Stop()
		}
		_ = r.f.Close()
		r.err = r.p.Wait()
		if stopped {
			r.err = nil
		}
	})
	return r.err
}
