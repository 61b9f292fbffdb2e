package sst

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childWaitDelay bounds how long a child may take to exit after SIGTERM
// before it is killed, like cleanup_pid's TERM-then-KILL.
const childWaitDelay = 10 * time.Second

// cmdSpec describes one child process.
type cmdSpec struct {
	Path   string
	Args   []string
	Dir    string
	Env    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// childError is a child that failed: its name, exit status and the file
// holding its output, for the operator.
type childError struct {
	Name    string
	Code    int // exit status, -1 when killed by a signal
	LogFile string
	Err     error
}

func (e *childError) Error() string {
	msg := fmt.Sprintf("%s finished with error: %v", e.Name, e.Err)
	if e.LogFile != "" {
		msg += fmt.Sprintf(". Check '%s' for details", e.LogFile)
	}
	return msg
}

func (e *childError) Unwrap() error { return e.Err }

// newCmd builds an exec.Cmd whose child runs in its own process group, is
// SIGKILLed if we die (Pdeathsig), gets SIGTERM on the whole group when
// ctx is cancelled and SIGKILL childWaitDelay later. Go never exits the
// threads that start children unless they are locked, so Pdeathsig does
// not fire early (golang/go#27505 concerns locked threads only).
func newCmd(ctx context.Context, s cmdSpec) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Path, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	cmd.Stdin = s.Stdin
	cmd.Stdout = s.Stdout
	cmd.Stderr = s.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return signalGroup(cmd, syscall.SIGTERM)
	}
	cmd.WaitDelay = childWaitDelay
	return cmd
}

// signalGroup sends sig to the child's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// runChild starts and waits for a child; on failure the error is a
// *childError. After Wait the whole process group is SIGKILLed so no
// grandchild survives.
func runChild(ctx context.Context, name, logFile string, s cmdSpec) error {
	cmd := newCmd(ctx, s)
	if err := cmd.Start(); err != nil {
		return &childError{Name: name, Code: -1, LogFile: logFile, Err: fmt.Errorf("start: %w", err)}
	}
	err := cmd.Wait()
	_ = signalGroup(cmd, syscall.SIGKILL)
	return childResult(name, logFile, err)
}

func childResult(name, logFile string, err error) error {
	if err == nil {
		return nil
	}
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return &childError{Name: name, Code: code, LogFile: logFile, Err: err}
}

// childEnv returns base without any MYSQL_PWD, plus extra.
func childEnv(base []string, extra ...string) []string {
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if strings.HasPrefix(kv, "MYSQL_PWD=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// lookPath finds a program on PATH; a missing one is ENOENT (2) with the
// package to install.
func lookPath(prog, pkg string) (string, error) {
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", errorf(ExitNoEnt, "'%s' not found in PATH (%s): install %s", prog, os.Getenv("PATH"), pkg)
	}
	return p, nil
}
