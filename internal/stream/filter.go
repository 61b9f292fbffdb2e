package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/proc"
)

// FilterConfig describes an external filter process, such as an [sst]
// compressor that is not lz4.
type FilterConfig struct {
	// Command is run as `sh -c Command`, exactly like the script's shell
	// pipe, so it may itself contain pipes and redirections.
	Command string
	// Env is the child's environment; nil means the current process's.
	Env []string
	// Stderr, if not nil, receives the child's standard error as it is
	// written. Its last lines are quoted in the error in any case.
	Stderr io.Writer
	// KillDelay bounds how long a child may take to exit after SIGTERM
	// before its process group gets SIGKILL, and how long Close waits for
	// the child's output to drain after it exits. Default 5 s.
	KillDelay time.Duration
}

const defaultKillDelay = 5 * time.Second

// filter is the process part shared by FilterWriter and FilterReader.
type filter struct {
	ctx context.Context
	cfg FilterConfig
	p   *proc.Process

	mu      sync.Mutex
	stopped bool // we stopped it ourselves (Close before the end)
}

// startFilter starts `sh -c cfg.Command` through proc, with stdin and
// stdout as given; its stderr goes to cfg.Stderr, and its tail into the
// error. When ctx is done proc stops the child's process group.
func startFilter(ctx context.Context, cfg FilterConfig, stdin io.Reader, stdout io.Writer) (*filter, error) {
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, errors.New("start filter: empty command")
	}
	if cfg.KillDelay <= 0 {
		cfg.KillDelay = defaultKillDelay
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	p, err := proc.Start(ctx, proc.Cmd{
		Name: cfg.Command, Path: "sh", Args: []string{"-c", cfg.Command}, Env: env,
		Stdin: stdin, Stdout: stdout, Stderr: cfg.Stderr, WaitDelay: cfg.KillDelay,
	})
	if err != nil {
		return nil, err
	}
	return &filter{ctx: ctx, cfg: cfg, p: p}, nil
}

// stop terminates the child unless it has finished, marking the stop as
// ours so that the resulting exit status is not reported.
func (f *filter) stop() {
	stopped := f.p.Stop()
	f.mu.Lock()
	f.stopped = stopped
	f.mu.Unlock()
}

// wait waits for the child and returns its error: the context's cause if
// ctx ended it, ioErr (a failure copying our side of the stream, wrapped by
// the caller) if not nil, a *proc.ExitError if the child failed, nil
// otherwise.
func (f *filter) wait(ioErr error) error {
	err := f.p.Wait()
	if err == nil && ioErr == nil {
		return nil
	}
	if f.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", f.cfg.Command, context.Cause(f.ctx))
	}
	if ioErr != nil {
		return ioErr
	}
	f.mu.Lock()
	stopped := f.stopped
	f.mu.Unlock()
	if stopped {
		return nil
	}
	return err
}

// FilterWriter is an external filter fed by Write, whose output goes to the
// writer given to StartFilterWriter. It is not safe for concurrent use.
type FilterWriter struct {
	f       *filter
	stdin   *os.File
	copied  chan struct{} // closed when the output copy has ended
	copyErr error         // write error on the downstream writer
	once    sync.Once
	err     error
}

// StartFilterWriter starts cfg.Command and returns a writer to its
// standard input; a goroutine copies its standard output to w. The caller
// must Close it. When ctx is done the child's process group is sent
// SIGTERM, then SIGKILL after cfg.KillDelay.
//
// A Write to w that blocks (a stalled network peer) cannot be interrupted:
// close w on cancellation (CloseOnCancel) so that Close returns.
func StartFilterWriter(ctx context.Context, cfg FilterConfig, w io.Writer) (*FilterWriter, error) {
	// Our own pipe and copy rather than cmd.Stdout = w: os/exec would give
	// up on the copy WaitDelay after the child exits, losing the end of
	// the output when w is slow (throttled).
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Command, err)
	}
	inR, stdin, err := os.Pipe()
	if err != nil {
		_ = pr.Close()
		_ = pw.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.Command, err)
	}
	f, err := startFilter(ctx, cfg, inR, pw)
	_ = pw.Close() // the child has its own copies
	_ = inR.Close()
	if err != nil {
		_ = pr.Close()
		_ = stdin.Close()
		return nil, err
	}
	fw := &FilterWriter{f: f, stdin: stdin, copied: make(chan struct{})}
	go func() {
		defer close(fw.copied)
		// Closing pr on a write error makes the child fail with EPIPE
		// instead of blocking on a full pipe.
		defer pr.Close()
		if _, err := io.Copy(w, pr); err != nil {
			fw.copyErr = fmt.Errorf("write output of %s: %w", cfg.Command, err)
		}
	}()
	return fw, nil
}

// Write writes p to the child's standard input. If the child has gone
// away, Write waits for it and returns its error (which names the command
// and quotes its stderr) rather than "broken pipe".
func (w *FilterWriter) Write(p []byte) (int, error) {
	n, err := w.stdin.Write(p)
	if err != nil {
		if cerr := w.Close(); cerr != nil {
			return n, cerr
		}
		return n, fmt.Errorf("write to %s: %w", w.f.cfg.Command, err)
	}
	return n, nil
}

// Close closes the child's standard input, waits for it to exit and for
// its output to be copied, and returns the first failure: the context's
// cause, a write error on the downstream writer, or the child's
// *proc.ExitError. Close is idempotent; it does not close the downstream writer.
func (w *FilterWriter) Close() error {
	w.once.Do(func() {
		cerr := w.stdin.Close()
		<-w.f.p.Done()
		<-w.copied // ends once every process holding the pipe is gone
		w.err = w.f.wait(w.copyErr)
		if w.err == nil && cerr != nil && !errors.Is(cerr, syscall.EPIPE) && !errors.Is(cerr, os.ErrClosed) {
			w.err = fmt.Errorf("close input of %s: %w", w.f.cfg.Command, cerr)
		}
	})
	return w.err
}

// FilterReader is an external filter fed from the reader given to
// StartFilterReader, whose output is read with Read. It is not safe for
// concurrent use.
type FilterReader struct {
	f      *filter
	stdout *os.File
	input  *inputCopy // nil when the child reads an *os.File directly
	once   sync.Once
	eof    bool
	err    error
}

// inputCopy feeds the child's standard input from an io.Reader.
type inputCopy struct {
	pw   *os.File
	done chan struct{}
	err  error // read error on the upstream reader
}

// StartFilterReader starts cfg.Command with its standard input read from r
// and returns a reader of its standard output. The caller must Close it.
// When ctx is done the child's process group is sent SIGTERM, then SIGKILL
// after cfg.KillDelay.
//
// Unless r is an *os.File, which the child reads directly, a goroutine
// copies r to the child. A Read on r that blocks (a network connection)
// cannot be interrupted: Close waits for that goroutine at most KillDelay
// and leaves it to end when r's Read returns; close r on cancellation
// (CloseOnCancel) to end it at once.
func StartFilterReader(ctx context.Context, cfg FilterConfig, r io.Reader) (*FilterReader, error) {
	// Not cmd.StdoutPipe: Wait, which runs as soon as the child exits,
	// would close it while output is still buffered in the pipe.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Command, err)
	}
	var in *inputCopy
	var inR *os.File
	stdin, isFile := r.(*os.File)
	if !isFile {
		inR, in = startInputPipe(&err)
		if err != nil {
			_ = pr.Close()
			_ = pw.Close()
			return nil, fmt.Errorf("start %s: %w", cfg.Command, err)
		}
		stdin = inR
	}
	f, err := startFilter(ctx, cfg, stdin, pw)
	_ = pw.Close() // the child has its own copies
	if inR != nil {
		_ = inR.Close()
	}
	if err != nil {
		_ = pr.Close()
		if in != nil {
			_ = in.pw.Close()
		}
		return nil, err
	}
	if in != nil {
		go in.run(r, cfg.Command)
	}
	return &FilterReader{f: f, stdout: pr, input: in}, nil
}

func startInputPipe(errp *error) (*os.File, *inputCopy) {
	inR, inW, err := os.Pipe()
	if err != nil {
		*errp = err
		return nil, nil
	}
	return inR, &inputCopy{pw: inW, done: make(chan struct{})}
}

func (c *inputCopy) run(r io.Reader, command string) {
	defer close(c.done)
	defer c.pw.Close() // EOF for the child
	buf := make([]byte, copyBufferSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := c.pw.Write(buf[:n]); werr != nil {
				// The child closed its input (it exited or is being
				// stopped): its own status tells what happened.
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			c.err = fmt.Errorf("read input of %s: %w", command, err)
			return
		}
	}
}

// Read reads the child's standard output. At the end of the output it
// waits for the child and returns its error instead of io.EOF if it failed
// or its input could not be read, so a truncated stream is never mistaken
// for a complete one.
func (r *FilterReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, r.finish()
	}
	n, err := r.stdout.Read(p)
	if err == io.EOF {
		r.eof = true
		if werr := r.finish(); werr != nil {
			return n, werr
		}
		return n, io.EOF
	}
	if err != nil {
		if werr := r.finish(); werr != nil {
			return n, werr
		}
		return n, fmt.Errorf("read from %s: %w", r.f.cfg.Command, err)
	}
	return n, nil
}

// finish waits for the child after its output ended.
func (r *FilterReader) finish() error {
	r.once.Do(func() {
		<-r.f.p.Done()
		var inErr error
		if r.input != nil {
			// The child has exited, so a copy not blocked on r ends at
			// once with EPIPE; one blocked on r is left behind.
			_ = r.input.pw.Close()
			t := time.NewTimer(r.f.cfg.KillDelay)
			select {
			case <-r.input.done:
				inErr = r.input.err
			case <-t.C:
			}
			t.Stop()
		}
		r.err = r.f.wait(inErr)
	})
	return r.err
}

// Close stops the child if its output has not been read to the end
// (SIGTERM to its process group; an exit status caused by that is not
// reported), waits for it, and returns its error. It does not close the
// upstream reader.
func (r *FilterReader) Close() error {
	if !r.eof {
		r.f.stop()
	}
	_ = r.stdout.Close()
	return r.finish()
}
