package sst

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

func TestAcquireLock(t *testing.T) {
	log := slog.New(NewLogHandler(&bytes.Buffer{}, slog.LevelInfo))
	lp := lockParams{Tries: 2, Interval: 10 * time.Millisecond}
	t.Run("stale dead pid is taken over", func(t *testing.T) {
		d := t.TempDir()
		dead := exec.Command("true")
		if err := dead.Run(); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(d, "wsrep_sst.pid"), strconv.Itoa(dead.Process.Pid))
		var logs bytes.Buffer
		l, err := acquireLock(t.Context(), slog.New(NewLogHandler(&logs, slog.LevelInfo)), d, lp)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Taking over stale SST pid file %s/wsrep_sst.pid (PID %d is not a running SST)", d, dead.Process.Pid); !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
		if pid, err := readPid(filepath.Join(d, "wsrep_sst.pid")); err != nil || pid != os.Getpid() {
			t.Errorf("pid file holds %d, %v; want %d", pid, err, os.Getpid())
		}
		l.release()
		if _, err := os.Stat(filepath.Join(d, "wsrep_sst.pid")); err == nil {
			t.Error("pid file not removed by release")
		}
	})
	t.Run("live foreign process is stale", func(t *testing.T) {
		d := t.TempDir()
		p := exec.Command("sleep", "30")
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Wait()
		defer p.Process.Kill()
		writeTestFile(t, filepath.Join(d, "wsrep_sst.pid"), strconv.Itoa(p.Process.Pid))
		l, err := acquireLock(t.Context(), log, d, lp)
		if err != nil {
			t.Fatal(err)
		}
		l.release()
	})
	t.Run("running SST blocks with EALREADY", func(t *testing.T) {
		d := t.TempDir()
		// A process whose command line names wsrep_sst_: exec -a sets argv[0].
		p := exec.Command("bash", "-c", "exec -a wsrep_sst_other sleep 30")
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Wait()
		defer p.Process.Kill()
		pidfile := filepath.Join(d, "wsrep_sst.pid")
		writeTestFile(t, pidfile, strconv.Itoa(p.Process.Pid))
		deadline := time.Now().Add(5 * time.Second)
		for !isSSTProcess(p.Process.Pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // wait for exec -a to happen
		}
		_, err := acquireLock(t.Context(), log, d, lp)
		if got := fail.ClassOf(err); got != fail.Busy {
			t.Errorf("class = %v (%v), want %v", got, err, fail.Busy)
		}
	})
	t.Run("held lock blocks with EALREADY", func(t *testing.T) {
		d := t.TempDir()
		l, err := acquireLock(t.Context(), log, d, lp)
		if err != nil {
			t.Fatal(err)
		}
		defer l.release()
		_, err = acquireLock(t.Context(), log, d, lp)
		if got := fail.ClassOf(err); got != fail.Busy {
			t.Fatalf("class = %v (%v), want %v", got, err, fail.Busy)
		}
		if want := fmt.Sprintf("previous SST (PID %d, %s/wsrep_sst.pid) is still running", os.Getpid(), d); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	})
	t.Run("released lock is free again", func(t *testing.T) {
		d := t.TempDir()
		for range 3 {
			l, err := acquireLock(t.Context(), log, d, lp)
			if err != nil {
				t.Fatal(err)
			}
			l.release()
		}
	})
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAcquireLockGoroutines starts many acquirers at once in one process
// (each opens the file itself, as separate processes do): exactly one may
// win while the winner holds the lock.
func TestAcquireLockGoroutines(t *testing.T) {
	log := slog.New(NewLogHandler(io.Discard, slog.LevelInfo))
	d := t.TempDir()
	const n = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []*pidLock
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			l, err := acquireLock(t.Context(), log, d, lockParams{Tries: 1, Interval: time.Millisecond})
			if err != nil {
				if fail.ClassOf(err) != fail.Busy {
					t.Errorf("acquireLock: %v, want EALREADY", err)
				}
				return
			}
			mu.Lock()
			won = append(won, l)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Errorf("%d acquirers won the lock, want 1", len(won))
	}
	for _, l := range won {
		l.release()
	}
}

// TestAcquireLockProcesses starts several processes (the test binary,
// TestLockHelperProcess) that try the lock at the same moment; exactly one
// may say it won. Each holds what it won until its stdin closes.
func TestAcquireLockProcesses(t *testing.T) {
	d := t.TempDir()
	const n = 6
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var kids []child
	for range n {
		// The extra argument puts "wsrep_sst" in the command line, so that
		// a pid in the file counts as a running SST (isSSTProcess).
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "--", "wsrep_sst_lock_helper")
		cmd.Env = append(os.Environ(), "SST_LOCK_HELPER_DIR="+d)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k := child{cmd, stdin, bufio.NewReader(stdout)}
		kids = append(kids, k)
		t.Cleanup(func() { k.stdin.Close(); k.cmd.Wait() })
	}
	line := func(k child) string {
		s, err := k.out.ReadString('\n')
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		return strings.TrimSpace(s)
	}
	for _, k := range kids {
		if got := line(k); got != "ready" {
			t.Fatalf("helper said %q, want ready", got)
		}
	}
	for _, k := range kids {
		if _, err := io.WriteString(k.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	won := 0
	for _, k := range kids {
		switch got := line(k); got {
		case "won":
			won++
		case "lost busy":
		default:
			t.Errorf("helper said %q, want won or lost busy", got)
		}
	}
	if won != 1 {
		t.Errorf("%d processes won the lock, want 1", won)
	}
}

// TestLockHelperProcess is one acquirer of TestAcquireLockProcesses, not a
// test: it says "ready", waits for a line on stdin, tries the lock and says
// "won" (then holds it until stdin closes) or "lost CLASS".
func TestLockHelperProcess(t *testing.T) {
	d := os.Getenv("SST_LOCK_HELPER_DIR")
	if d == "" {
		t.Skip("helper process for TestAcquireLockProcesses")
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		os.Exit(2)
	}
	log := slog.New(NewLogHandler(io.Discard, slog.LevelInfo))
	l, err := acquireLock(t.Context(), log, d, lockParams{Tries: 2, Interval: 5 * time.Millisecond})
	if err != nil {
		fmt.Println("lost", fail.ClassOf(err))
		os.Exit(0)
	}
	fmt.Println("won")
	io.Copy(io.Discard, in)
	l.release()
	os.Exit(0)
}
