package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// DefaultWaitDelay is the wait delay of a Cmd that sets none.
const DefaultWaitDelay = 10 * time.Second

// Cmd describes a child process.
type Cmd struct {
	// Name names the child in errors; default the base name of Path.
	Name string
	// Path is the program; without a slash it is looked up in PATH.
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Dir is the working directory; "" means ours.
	Dir string
	// Env is the child's whole environment. Nothing is inherited: nil
	// means an empty environment.
	Env []string
	// Stdin, Stdout and Stderr are as in os/exec: nil means /dev/null,
	// an *os.File is handed to the child, any other value is copied by a
	// goroutine. Stderr is also teed into the tail an *ExitError quotes,
	// unless it is an *os.File (name that file in LogFile instead).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LogFile, if set, is the file the child's output goes to: an
	// *ExitError names it and quotes its last lines.
	LogFile string
	// WaitDelay is how long the child has after SIGTERM before its
	// process group gets SIGKILL, and how long Wait waits for output
	// copies after the child has exited. Default DefaultWaitDelay.
	WaitDelay time.Duration
}

// Process is a started child. Its methods are safe for concurrent use.
type Process struct {
	name    string
	logFile string
	delay   time.Duration
	cmd     *exec.Cmd
	tail    *tailBuffer // nil when stderr goes to a file
	onKill  func()      // run when the kill timer fires (Reader closes its pipe)

	done chan struct{} // closed once the child has been waited for
	err  error         // Wait's result, valid after done

	mu      sync.Mutex
	exited  bool // Wait has returned: the group may be gone or reused
	stopped bool // Stop was called before the child exited
}

// Start starts c. When ctx is done the child is stopped as by Stop. The
// caller must call Wait (or Close the Reader) to release the process.
func Start(ctx context.Context, c Cmd) (*Process, error) {
	return start(ctx, c, nil)
}

// Run starts c and waits for it. It returns nil, a start error, or an
// *ExitError.
func Run(ctx context.Context, c Cmd) error {
	p, err := Start(ctx, c)
	if err != nil {
		return err
	}
	return p.Wait()
}

func start(ctx context.Context, c Cmd, onKill func()) (*Process, error) {
	p := &Process{name: c.Name, logFile: c.LogFile, delay: c.WaitDelay, onKill: onKill, done: make(chan struct{})}
	if p.name == "" {
		p.name = filepath.Base(c.Path)
	}
	if p.delay <= 0 {
		p.delay = DefaultWaitDelay
	}
	cmd := exec.Command(c.Path, c.Args...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, cmd.Err)
	}
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would make os/exec inherit ours
	}
	cmd.Stdin = c.Stdin
	stdout, stderr := c.Stdout, c.Stderr
	if _, isFile := stderr.(*os.File); !isFile {
		p.tail = &tailBuffer{}
		w := io.Writer(p.tail)
		if stderr != nil {
			w = io.MultiWriter(p.tail, stderr)
		}
		if stderr != nil && sameWriter(stdout, stderr) {
			stdout = w // one pipe for both, as os/exec does
		}
		stderr = w
	}
	var copies []*outputCopy
	var err error
	if cmd.Stdout, err = p.output(stdout, &copies); err == nil {
		if sameWriter(stdout, stderr) {
			cmd.Stderr = cmd.Stdout
		} else {
			cmd.Stderr, err = p.output(stderr, &copies)
		}
	}
	closeChildEnds := func() {
		for _, oc := range copies {
			_ = oc.pw.Close()
		}
	}
	if err != nil {
		closeChildEnds()
		for _, oc := range copies {
			_ = oc.pr.Close()
		}
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = p.delay // bounds os/exec's copy of a non-file Stdin
	p.cmd = cmd

	started := make(chan error, 1)
	go func() {
		// See the package note: this thread must outlive the child.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		closeChildEnds()
		if err != nil {
			for _, oc := range copies {
				_ = oc.pr.Close()
			}
			started <- err
			return
		}
		for _, oc := range copies {
			go oc.run()
		}
		started <- nil
		err = cmd.Wait()
		p.mu.Lock()
		// Nothing of the group may outlive the child. The pgid cannot
		// be reused while a member is left, so this signals no stranger.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		p.exited = true
		p.mu.Unlock()
		if cerr := awaitCopies(copies, p.delay); err == nil {
			err = cerr
		}
		p.err = p.result(err)
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	stop := context.AfterFunc(ctx, func() { p.Stop() })
	go func() {
		<-p.done
		stop()
	}()
	return p, nil
}

// outputCopy copies one of the child's outputs to a writer that is not a
// file. Our own pipe rather than os/exec's, so that Wait can kill what is
// left of the group as soon as the child has exited, before it waits for
// the copy.
type outputCopy struct {
	w      io.Writer
	pr, pw *os.File
	done   chan error
}

// output returns what the child gets for w, adding a copy if one is needed.
func (p *Process) output(w io.Writer, copies *[]*outputCopy) (io.Writer, error) {
	if w == nil {
		return nil, nil
	}
	if _, isFile := w.(*os.File); isFile {
		return w, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*copies = append(*copies, &outputCopy{w: w, pr: pr, pw: pw, done: make(chan error, 1)})
	return pw, nil
}

func (oc *outputCopy) run() {
	_, err := io.Copy(oc.w, oc.pr)
	_ = oc.pr.Close()
	oc.done <- err
}

// awaitCopies waits for the copies, at most delay: then it closes their
// pipes, ending copies that a process outside the group keeps open, and
// returns exec.ErrWaitDelay. Otherwise it returns the first copy error.
func awaitCopies(copies []*outputCopy, delay time.Duration) error {
	if len(copies) == 0 {
		return nil
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var first error
	for _, oc := range copies {
		select {
		case err := <-oc.done:
			if first == nil && err != nil {
				first = err
			}
		case <-timer.C:
			for _, oc := range copies {
				_ = oc.pr.Close()
			}
			for _, oc := range copies {
				<-oc.done
			}
			return exec.ErrWaitDelay
		}
	}
	return first
}

// sameWriter reports whether a and b are the same writer, without
// panicking on incomparable dynamic types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// Pid returns the child's process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done returns a channel closed once the child has been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the child to exit and for its output to be copied (at
// most the wait delay after it exits), and returns nil or an *ExitError.
// It may be called more than once; each call returns the same result. A
// child stopped by Stop or by its context usually fails with the signal:
// callers that stopped it decide whether that is an error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM to the child's process group, and SIGKILL the wait
// delay later if the child has not exited by then. It reports whether the
// child was stopped (now or by an earlier Stop or its context) before it
// exited, in which case its exit status is an effect of the stop.
// Stopping an exited child does nothing.
func (p *Process) Stop() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return true
	}
	if p.exited {
		return false
	}
	p.stopped = true
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	time.AfterFunc(p.delay, p.killTimer)
	return true
}

func (p *Process) killTimer() {
	p.mu.Lock()
	if !p.exited {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	if p.onKill != nil {
		p.onKill()
	}
}

// Signal sends sig to the child alone, not its group. It returns
// os.ErrProcessDone if the child has exited.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the child's whole process group now.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// result turns os/exec's Wait error into an *ExitError.
func (p *Process) result(err error) error {
	if err == nil {
		return nil
	}
	e := &ExitError{Name: p.name, Code: -1, LogFile: p.logFile, Err: err}
	if st := p.cmd.ProcessState; st != nil {
		e.Code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		}
	}
	switch {
	case p.tail != nil:
		e.Stderr = p.tail.String()
	case p.logFile != "":
		e.Stderr = fileTail(p.logFile)
	}
	return e
}

// ErrStdout is returned by StartReader for a Cmd whose Stdout is set.
var ErrStdout = errors.New("proc: StartReader: Stdout already set")
