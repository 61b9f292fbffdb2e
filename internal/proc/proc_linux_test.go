package proc

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func TestPdeathsig(t *testing.T) {
	// The helper starts a grandchild through proc and is then killed:
	// the grandchild, in a group of its own, must die with it.
	r, err := StartReader(t.Context(), self(t, "spawn", "PATH="+os.Getenv("PATH")))
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := r.Process().Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.Close()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived its killed parent", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling the OS
	}
}

func TestPdeathsigNotFiredByCallerThread(t *testing.T) {
	// Start is called from a goroutine locked to its thread that then
	// exits, which ends the thread. The child must not get the Pdeathsig
	// SIGKILL: proc starts it from a thread of its own.
	type started struct {
		p   *Process
		tid int
		err error
	}
	ch := make(chan started, 1)
	var s started
	for s.p == nil {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with us
			if syscall.Gettid() == os.Getpid() {
				// The main thread never exits (the runtime parks
				// it instead): try again on another.
				runtime.UnlockOSThread()
				ch <- started{}
				return
			}
			p, err := Start(t.Context(), Cmd{Path: "sleep", Args: []string{"1000"}})
			ch <- started{p, syscall.Gettid(), err}
		}()
		if s = <-ch; s.err != nil {
			t.Fatal(s.err)
		}
	}
	// Once the thread is gone, any parent-death signal has been sent.
	task := fmt.Sprintf("/proc/self/task/%d", s.tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the locked thread did not exit")
		}
		time.Sleep(10 * time.Millisecond) // polling the OS
	}
	s.p.Stop()
	if ee := exitError(t, s.p.Wait()); ee.Signal != syscall.SIGTERM {
		t.Errorf("child died of %v, want our SIGTERM (SIGKILL means Pdeathsig fired)", ee.Signal)
	}
}
