package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary play a child (the helper-process pattern
// of os/exec's tests): with PROC_HELPER set it runs helper instead of the
// tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROC_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	switch mode {
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return 0
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		// Not select{}: without -race, the runtime would find every
		// goroutine asleep and exit 2 before the test's SIGKILL.
		time.Sleep(time.Hour)
	case "spawn":
		// Start a sleeping grandchild through proc, report its pid, and
		// wait to be killed.
		p, err := Start(context.Background(), Cmd{Path: "sleep", Args: []string{"1000"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p.Pid())
		time.Sleep(time.Hour) // not select{}: see ignore-term
	}
	return 2
}

// self is a Cmd running this test binary as helper mode.
func self(t *testing.T, mode string, env ...string) Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Cmd{Path: exe, Env: append([]string{"PROC_HELPER=" + mode}, env...)}
}

// gone waits until no process of group pgid is left. Wait has reaped the
// leader; the rest may need a moment to be reaped by init.
func gone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has processes", pgid)
		}
		time.Sleep(10 * time.Millisecond) // polling the OS, not timing the code
	}
}

// pathEnv is an environment with only our PATH.
func pathEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

// within fails the test if f does not return within a generous bound: the
// guard against a hang, not a measurement.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still blocked after 30 s", what)
		panic("unreachable")
	}
}

func exitError(t *testing.T, err error) *ExitError {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T), want *ExitError", err, err)
	}
	return ee
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name     string
		cmd      Cmd
		code     int
		msg      string
		wantTail string
	}{
		{"true", Cmd{Path: "true"}, 0, "", ""},
		{"false", Cmd{Path: "false"}, 1, "false finished with error: exit status 1", ""},
		{"named", Cmd{Name: "mariadb-backup", Path: "sh", Args: []string{"-c", "echo one >&2; echo two >&2; echo three >&2; echo Access denied >&2; exit 3"}},
			3, "mariadb-backup finished with error: exit status 3: two; three; Access denied", "two; three; Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), tt.cmd)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			ee := exitError(t, err)
			if ee.Code != tt.code || ee.Signal != 0 {
				t.Errorf("code %d signal %v, want %d and none", ee.Code, ee.Signal, tt.code)
			}
			if ee.Error() != tt.msg {
				t.Errorf("message %q, want %q", ee.Error(), tt.msg)
			}
			if ee.Stderr != tt.wantTail {
				t.Errorf("stderr tail %q, want %q", ee.Stderr, tt.wantTail)
			}
			var xe *exec.ExitError
			if !errors.As(err, &xe) {
				t.Error("error does not wrap *exec.ExitError")
			}
		})
	}
}

func TestRunLogFile(t *testing.T) {
	log := t.TempDir() + "/backup.log"
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = Run(t.Context(), Cmd{Name: "mariadb-backup", Path: "sh", Args: []string{"-c", "echo fine; echo InnoDB: error 5 >&2; exit 1"},
		Stdout: f, Stderr: f, LogFile: log})
	want := "mariadb-backup finished with error: exit status 1: fine; InnoDB: error 5. Check '" + log + "' for details"
	if ee := exitError(t, err); ee.Error() != want {
		t.Errorf("message %q, want %q", ee.Error(), want)
	}
}

func TestStartError(t *testing.T) {
	_, err := Start(t.Context(), Cmd{Name: "zstd -d", Path: "no-such-program-xyz"})
	if err == nil || !strings.HasPrefix(err.Error(), "start zstd -d: ") || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Start: %v, want a start error naming the child", err)
	}
}

func TestStopSignals(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(t *testing.T) Cmd
		sig  syscall.Signal
	}{
		{"sleep gets TERM", func(*testing.T) Cmd { return Cmd{Path: "sleep", Args: []string{"1000"}} }, syscall.SIGTERM},
		// A child that ignores SIGTERM gets SIGKILL after the delay.
		{"ignores TERM", func(t *testing.T) Cmd { return self(t, "ignore-term") }, syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cmd(t)
			c.WaitDelay = 100 * time.Millisecond
			r, err := StartReader(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != "sleep" {
				// Wait until it has ignored TERM.
				if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			p := r.Process()
			if !p.Stop() {
				t.Error("Stop of a running child reported false")
			}
			err = within(t, "Wait", p.Wait)
			ee := exitError(t, err)
			if ee.Code != -1 || ee.Signal != tt.sig {
				t.Errorf("code %d signal %v, want -1 and %v", ee.Code, ee.Signal, tt.sig)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close after Stop: %v, want nil", err)
			}
			gone(t, p.Pid())
		})
	}
}

func TestContextStopsGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	// The grandchild ignores TERM as well: the group's SIGKILL gets it.
	r, err := StartReader(ctx, Cmd{Path: "sh", Args: []string{"-c", "trap '' TERM; sleep 1000 & echo ready; wait"}, WaitDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p := r.Process()
	cancel()
	if ee := exitError(t, within(t, "Wait", p.Wait)); ee.Signal != syscall.SIGKILL {
		t.Errorf("signal %v, want SIGKILL", ee.Signal)
	}
	r.Close()
	gone(t, p.Pid())
}

func TestReader(t *testing.T) {
	r, err := StartReader(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "echo hello"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello\n" {
		t.Errorf("ReadAll = %q, %v; want hello", b, err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReaderFailure(t *testing.T) {
	r, err := StartReader(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "echo partial; echo bad magic >&2; exit 2"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if string(b) != "partial\n" {
		t.Errorf("read %q, want partial", b)
	}
	if ee := exitError(t, err); ee.Code != 2 || ee.Stderr != "bad magic" {
		t.Errorf("Read error code %d stderr %q, want 2 and bad magic", ee.Code, ee.Stderr)
	}
	if ee := exitError(t, r.Close()); ee.Code != 2 {
		t.Errorf("Close code %d, want 2", ee.Code)
	}
}

func TestReaderGrandchildHoldsStdout(t *testing.T) {
	// The child exits at once; the grandchild it leaves behind holds
	// stdout open. The group's SIGKILL after the child's exit ends it, so
	// the output ends too.
	r, err := StartReader(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "sleep 1000 & echo started"}})
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		b   []byte
		err error
	}
	got := within(t, "ReadAll", func() res { b, err := io.ReadAll(r); return res{b, err} })
	if got.err != nil || string(got.b) != "started\n" {
		t.Errorf("ReadAll = %q, %v; want started", got.b, got.err)
	}
	if err := within(t, "Close", r.Close); err != nil {
		t.Errorf("Close: %v", err)
	}
	gone(t, r.Process().Pid())
}

func TestReaderCloseEarly(t *testing.T) {
	// Close before the end, with child and grandchild ignoring SIGTERM
	// and the grandchild holding stdout: SIGKILL after the delay.
	r, err := StartReader(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "trap '' TERM; sleep 1000 & echo started; wait"}, WaitDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "Close", r.Close); err != nil {
		t.Errorf("Close: %v, want nil for a child it stopped", err)
	}
	gone(t, r.Process().Pid())
}

func TestReaderCancelUnblocksRead(t *testing.T) {
	// A process outside the child's group (setsid) holds the pipe and
	// survives the group's SIGKILL: the delay after the stop the pipe is
	// closed, so a blocked Read returns.
	ctx, cancel := context.WithCancel(t.Context())
	r, err := StartReader(ctx, Cmd{Path: "sh", Args: []string{"-c", "setsid sh -c 'echo $$; exec sleep 1000' & wait"}, Env: pathEnv(), WaitDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	}
	cancel()
	if err := within(t, "Read", func() error { _, err := io.ReadAll(br); return err }); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read: %v, want the closed pipe", err)
	}
	if err := within(t, "Close", r.Close); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestWaitDelayBoundsOutputCopy(t *testing.T) {
	// Stdout is not a file, so it is copied; a process outside the group
	// holding it cannot keep Wait blocked past the delay.
	// The child exits once the detached process has written its pid.
	var out bytes.Buffer
	fifo := t.TempDir() + "/ready"
	script := "mkfifo $1; setsid sh -c 'echo $$; echo > $1; exec sleep 1000' sh $1 & read x < $1"
	p, err := Start(t.Context(), Cmd{Path: "sh", Args: []string{"-c", script, "sh", fifo}, Env: pathEnv(), Stdout: &out, WaitDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = within(t, "Wait", p.Wait)
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("Wait: %v, want exec.ErrWaitDelay", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("output %q, want a pid", out.String())
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func TestGrandchildHoldsStderr(t *testing.T) {
	// Stderr is copied (for the tail); a grandchild in the group holding
	// it dies with the group once the child exits, so Wait returns at
	// once, not after the (long) delay.
	p, err := Start(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "sleep 1000 & echo bye >&2; exit 4"}, WaitDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ee := exitError(t, within(t, "Wait", p.Wait))
	if ee.Code != 4 || ee.Stderr != "bye" {
		t.Errorf("code %d stderr %q, want 4 and bye", ee.Code, ee.Stderr)
	}
	gone(t, p.Pid())
}

func TestEnvExplicit(t *testing.T) {
	t.Setenv("PROC_TEST_INHERITED", "leak")
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"nil is empty", nil, nil},
		{"given", []string{"A=1", "B=2"}, []string{"A=1", "B=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := self(t, "env")
			c.Env = append(c.Env, tt.env...)
			var out bytes.Buffer
			c.Stdout = &out
			if err := Run(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			got := strings.Fields(out.String())
			want := append([]string{"PROC_HELPER=env"}, tt.want...)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("child environment %q, want %q", got, want)
			}
		})
	}
}

func TestSameWriterForStdoutAndStderr(t *testing.T) {
	// One writer for both must be written by one goroutine: -race
	// catches two.
	var out bytes.Buffer
	err := Run(t.Context(), Cmd{Path: "sh", Args: []string{"-c", "for i in 1 2 3 4 5; do echo o$i; echo e$i >&2; done"}, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 10 {
		t.Errorf("%d lines, want 10: %q", n, out.String())
	}
}

func TestTail(t *testing.T) {
	var tb tailBuffer
	io.WriteString(&tb, strings.Repeat("x", 3000)+"\n")
	io.WriteString(&tb, "line one\r\n\nline two\nline three\nline four\n")
	if got, want := tb.String(), "line two; line three; line four"; got != want {
		t.Errorf("tail %q, want %q", got, want)
	}
	io.WriteString(&tb, strings.Repeat("y", 3000))
	if got := tb.String(); len(got) != tailBytes {
		t.Errorf("tail of one long line has %d bytes, want %d", len(got), tailBytes)
	}
}
