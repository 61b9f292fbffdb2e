package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"wsrep_sst_mariabackup/internal/proc"
)

func TestFilterRoundTrip(t *testing.T) {
	data := mixedData(2<<20+7, 3)
	var out bytes.Buffer
	w, err := StartFilterWriter(t.Context(), FilterConfig{Command: "cat | cat"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	r, err := StartFilterReader(t.Context(), FilterConfig{Command: "cat"}, hideType(&out))
	if err != nil {
		t.Fatal(err)
	}
	readBack(t, r, data)
}

// hideType hides the *bytes.Buffer type so that os/exec copies
// through a goroutine, the path a network connection takes.
func hideType(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		cmd        string
		wantStatus string
		wantStderr string
	}{
		{"false", "exit status 1", ""},
		{"sh -c 'exit 3'", "exit status 3", ""},
		{"no-such-compressor-xyz -d", "exit status 127", "no-such-compressor-xyz: not found"},
		{"echo bad magic >&2; exit 2", "exit status 2", "bad magic"},
		{"zstd -d -c", "exit status 1", "zstd"}, // plain data is not zstd
	}
	for _, tt := range tests {
		check := func(t *testing.T, err error) {
			t.Helper()
			var ee *proc.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v (%T), want *proc.ExitError", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.cmd+" finished with error: "+tt.wantStatus) {
				t.Errorf("error %q, want prefix %q", msg, tt.cmd+" finished with error: "+tt.wantStatus)
			}
			if !strings.Contains(ee.Stderr, tt.wantStderr) {
				t.Errorf("stderr tail %q, want it to contain %q", ee.Stderr, tt.wantStderr)
			}
			var xe *exec.ExitError
			if !errors.As(err, &xe) {
				t.Errorf("error does not wrap *exec.ExitError")
			}
		}
		t.Run("writer/"+tt.cmd, func(t *testing.T) {
			w, err := StartFilterWriter(t.Context(), FilterConfig{Command: tt.cmd}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			// Enough to fill the pipe, so that Write meets the dead child.
			_, werr := w.Write(make([]byte, 1<<20))
			cerr := w.Close()
			if werr != nil {
				check(t, werr)
			}
			check(t, cerr)
		})
		t.Run("reader/"+tt.cmd, func(t *testing.T) {
			r, err := StartFilterReader(t.Context(), FilterConfig{Command: tt.cmd}, bytes.NewReader(make([]byte, 1<<20)))
			if err != nil {
				t.Fatal(err)
			}
			_, rerr := io.ReadAll(r)
			check(t, rerr)
			check(t, r.Close())
		})
	}
}

func TestFilterStderrForwarded(t *testing.T) {
	var log bytes.Buffer
	w, err := StartFilterWriter(t.Context(), FilterConfig{Command: "echo hello >&2; cat", Stderr: &log}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "hello\n" {
		t.Errorf("stderr %q, want %q", got, "hello\n")
	}
}

func TestFilterEnv(t *testing.T) {
	var out bytes.Buffer
	w, err := StartFilterWriter(t.Context(), FilterConfig{Command: `printf %s "$SST_TEST"`, Env: []string{"SST_TEST=x1"}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "x1" {
		t.Errorf("output %q, want %q", out.String(), "x1")
	}
}

// gone waits until no process of group pgid is left. Close has reaped the
// leader; its children may need a moment to be reaped by init.
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

func TestFilterCancel(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
	}{
		// Grandchildren in the same group must die too.
		{"group", "sleep 1000 & sleep 1000; wait"},
		// A child that ignores SIGTERM gets SIGKILL after KillDelay.
		{"ignores TERM", "trap '' TERM; sleep 1000"},
	}
	for _, tt := range tests {
		t.Run("writer/"+tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			w, err := StartFilterWriter(ctx, FilterConfig{Command: tt.cmd, KillDelay: 100 * time.Millisecond}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			pgid := w.f.p.Pid()
			stop := errors.New("test stop")
			cancel(stop)
			err = w.Close()
			if !errors.Is(err, stop) {
				t.Errorf("Close: %v, want the context cause", err)
			}
			gone(t, pgid)
		})
		t.Run("reader/"+tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			pr, pw, err := os.Pipe() // never written: the child's stdin blocks
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pr.Close(); pw.Close() })
			r, err := StartFilterReader(ctx, FilterConfig{Command: tt.cmd, KillDelay: 100 * time.Millisecond}, pr)
			if err != nil {
				t.Fatal(err)
			}
			pgid := r.f.p.Pid()
			stop := errors.New("test stop")
			done := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(r)
				done <- err
			}()
			cancel(stop)
			if err := <-done; !errors.Is(err, stop) {
				t.Errorf("Read: %v, want the context cause", err)
			}
			if err := r.Close(); !errors.Is(err, stop) {
				t.Errorf("Close: %v, want the context cause", err)
			}
			gone(t, pgid)
		})
	}
}

func TestFilterReaderEarlyClose(t *testing.T) {
	// The caller stops reading an endless filter: Close stops it and
	// does not report the SIGTERM/SIGPIPE it caused.
	r, err := StartFilterReader(t.Context(), FilterConfig{Command: "yes"}, bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	pgid := r.f.p.Pid()
	if _, err := io.ReadFull(r, make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	gone(t, pgid)
}

func TestFilterNoShell(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartFilterWriter(t.Context(), FilterConfig{Command: "cat"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "start cat") {
		t.Errorf("got %v, want a start error naming the command", err)
	}
	if _, err := StartFilterWriter(t.Context(), FilterConfig{Command: " "}, io.Discard); err == nil {
		t.Error("empty command: no error")
	}
}

func TestFilterReaderInputError(t *testing.T) {
	boom := errors.New("connection reset")
	in := io.MultiReader(bytes.NewReader(make([]byte, 300_000)), iotest.ErrReader(boom))
	r, err := StartFilterReader(t.Context(), FilterConfig{Command: "cat"}, in)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read input of cat") {
		t.Errorf("Read after %d bytes: %v, want the input error", n, err)
	}
	if err := r.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: %v, want the input error", err)
	}
}

func TestFilterWriterOutputError(t *testing.T) {
	w, err := StartFilterWriter(t.Context(), FilterConfig{Command: "cat"}, errWriter{io.ErrClosedPipe})
	if err != nil {
		t.Fatal(err)
	}
	_, werr := w.Write(make([]byte, 1<<20))
	cerr := w.Close()
	for _, err := range []error{werr, cerr} {
		if err != nil && (!errors.Is(err, io.ErrClosedPipe) || !strings.Contains(err.Error(), "write output of cat")) {
			t.Errorf("got %v, want the downstream error", err)
		}
	}
	if cerr == nil {
		t.Error("Close: no error")
	}
}

func TestFilterWriterSlowDownstream(t *testing.T) {
	// The child exits long before its output is drained into a slow
	// downstream writer; nothing may be cut off (os/exec's WaitDelay would
	// cut it off if it did the copy). The delay is far shorter than the
	// drain (half a MiB read a byte at a time), yet long enough for
	// os/exec's copy of the child's stderr to see its end on a loaded
	// machine (1 ms was not: "WaitDelay expired before I/O complete").
	data := mixedData(1<<20, 11)
	pr, pw := io.Pipe()
	w, err := StartFilterWriter(t.Context(), FilterConfig{Command: "cat", KillDelay: 100 * time.Millisecond}, pw)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		if err == nil {
			err = w.Close()
		}
		closed <- err
		pw.Close()
	}()
	// Only makes the failure this guards against possible; the test
	// passes without it.
	time.Sleep(50 * time.Millisecond)
	got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(pr, int64(len(data)/2))))
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got = append(got, rest...); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d", len(got), len(data))
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, dst := range []io.Writer{io.Discard, errWriter{io.ErrClosedPipe}} {
		w, err := mustCodec(t, "lz4").NewWriter(t.Context(), dst)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 9<<20))
		w.Close()
	}
	for _, cmd := range []string{"cat", "false", "yes"} {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := StartFilterWriter(ctx, FilterConfig{Command: cmd}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 1000))
		if cmd == "yes" {
			cancel() // it would never finish
		}
		w.Close()
		cancel()
		r, err := StartFilterReader(t.Context(), FilterConfig{Command: cmd}, hideType(bytes.NewReader(make([]byte, 1000))))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(r, make([]byte, 10))
		r.Close()
	}
	waitGoroutines(t, before)
}
