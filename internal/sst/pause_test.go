package sst

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/swap"
)

func TestDonorPauseAt(t *testing.T) {
	tests := []struct {
		v       string
		n       int64
		ok, err bool
	}{
		{v: ""},
		{v: swap.StepAside},
		{v: swap.StepCommitted},
		{v: "donor-datax"},
		{v: "joiner-data:5"},
		{v: "donor-data", n: 1, ok: true},
		{v: "donor-data:0", n: 0, ok: true},
		{v: "donor-data:8388608", n: 8 << 20, ok: true},
		{v: "donor-data:", ok: true, err: true},
		{v: "donor-data:-1", ok: true, err: true},
		{v: "donor-data:8M", ok: true, err: true},
	}
	for _, tt := range tests {
		n, ok, err := donorPauseAt(tt.v)
		if n != tt.n || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("donorPauseAt(%q) = %d, %v, %v; want %d, %v, error %v", tt.v, n, ok, err, tt.n, tt.ok, tt.err)
		}
	}
}

// TestPauseHookRoles: unset, neither role gets a hook; a swap step is the
// joiner's only, a donor step the donor's only.
func TestPauseHookRoles(t *testing.T) {
	tests := []struct {
		v             string
		joiner, donor bool
	}{
		{v: ""},
		{v: swap.StepReady, joiner: true},
		{v: "donor-data", donor: true},
		{v: "donor-data:4096", donor: true},
		{v: "donor-data:bad"}, // logged and ignored by the donor
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			t.Setenv(pauseEnv, tt.v)
			if tt.v == "" {
				os.Unsetenv(pauseEnv) // t.Setenv restores it
			}
			var logs syncBuffer
			s := &session{log: slog.New(NewLogHandler(&logs, slog.LevelInfo))}
			if got := s.pauseHook() != nil; got != tt.joiner {
				t.Errorf("joiner hook set = %v, want %v", got, tt.joiner)
			}
			r := strings.NewReader("data")
			if got := s.donorPause(t.Context(), r) != io.Reader(r); got != tt.donor {
				t.Errorf("donor reader wrapped = %v, want %v", got, tt.donor)
			}
			if tt.v == "donor-data:bad" && !strings.Contains(logs.String(), "not pausing") {
				t.Errorf("no warning for a bad donor step: %q", logs.String())
			}
		})
	}
}

// notifyWriter sends every write on ch (the log handler writes a record
// at once).
type notifyWriter chan string

func (w notifyWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// TestDonorPause: the donor passes on the stream until at least N bytes
// were read, then logs one line and blocks in Read, holding nothing, until
// its context ends.
func TestDonorPause(t *testing.T) {
	tests := []struct {
		v    string
		want int // bytes read before the pause (reads of 4 bytes)
		line string
	}{
		{"donor-data:0", 0, `paused at donor step "donor-data:0" after 0 bytes until killed`},
		{"donor-data", 4, `paused at donor step "donor-data" after 4 bytes until killed`},
		{"donor-data:10", 12, `paused at donor step "donor-data:10" after 12 bytes until killed`},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			t.Setenv(pauseEnv, tt.v)
			logs := make(notifyWriter, 1)
			s := &session{log: slog.New(NewLogHandler(logs, slog.LevelInfo))}
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			r := s.donorPause(ctx, iotest.HalfReader(strings.NewReader(strings.Repeat("x", 100))))
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				var n int
				buf := make([]byte, 8) // HalfReader reads 4 at a time
				for {
					m, err := r.Read(buf)
					n += m
					if err != nil {
						done <- result{n, err}
						return
					}
				}
			}()
			line := <-logs
			if !strings.Contains(line, pauseEnv+": "+tt.line) {
				t.Errorf("log line %q, want %q", line, tt.line)
			}
			select {
			case res := <-done:
				t.Fatalf("Read returned %d bytes, %v while paused", res.n, res.err)
			default:
			}
			stop := errors.New("SIGTERM")
			cancel(stop)
			res := <-done
			if res.n != tt.want || !errors.Is(res.err, stop) {
				t.Errorf("read %d bytes, then %v; want %d, then the context's cause", res.n, res.err, tt.want)
			}
			select {
			case l := <-logs:
				t.Errorf("a second log line: %q", l)
			default:
			}
		})
	}
}

// TestDonorPauseShortStream: a stream that ends before the step is read
// whole, without a pause.
func TestDonorPauseShortStream(t *testing.T) {
	t.Setenv(pauseEnv, "donor-data:1000")
	var logs syncBuffer
	s := &session{log: slog.New(NewLogHandler(&logs, slog.LevelInfo))}
	b, err := io.ReadAll(s.donorPause(t.Context(), strings.NewReader("short")))
	if string(b) != "short" || err != nil {
		t.Errorf("ReadAll = %q, %v; want %q, nil", b, err, "short")
	}
	if logs.String() != "" {
		t.Errorf("logged %q", logs.String())
	}
}

// TestDonorPauseMidStream runs a donor and a joiner (which sees the same
// variable and must ignore the donor's step) with the hook set, over the
// stock stream and transfer v2: the donor pauses in its data stage with
// the joiner still waiting for the rest, and ends when cancelled.
func TestDonorPauseMidStream(t *testing.T) {
	for _, tt := range []struct{ name, cnf, mark string }{
		{"stock stream", "transfer-v2=0\n", "Streaming the backup to joiner at 127.0.0.1"},
		{"transfer v2", "", "transfer v2, 1 stream(s)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSSTEnv(t, tt.cnf)
			t.Setenv("FAKE_BACKUP_MB", "8")
			t.Setenv(pauseEnv, "donor-data:2097152")
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			addr, _, jdone := e.startJoiner(t, ctx)
			dcancel, ddone := e.startDonor(t, ctx, addr)
			paused := regexp.MustCompile(pauseEnv + `: paused at donor step "donor-data:2097152" after (\d+) bytes until killed`)
			deadline := time.Now().Add(30 * time.Second)
			var m []string
			for m == nil {
				m = paused.FindStringSubmatch(e.logs.String())
				select {
				case err := <-ddone:
					t.Fatalf("the donor ended before its pause: %v", err)
				case err := <-jdone:
					t.Fatalf("the joiner ended before the donor's pause: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the donor did not pause within 30s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if n, _ := strconv.ParseInt(m[1], 10, 64); n < 2097152 || n >= 8<<20 {
				t.Errorf("paused after %d bytes, want 2 MiB or more, less than the 8 MiB stream", n)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, tt.mark) {
				t.Errorf("no %q in the log", tt.mark)
			}
			if strings.Contains(logs, "paused at swap step") {
				t.Error("the joiner paused at a donor step")
			}
			dcancel(&fail.SignalError{Signal: syscall.SIGTERM})
			if got := fail.ClassOf(<-ddone); got != fail.Interrupted {
				t.Errorf("donor class = %v, want %v", got, fail.Interrupted)
			}
			if err := <-jdone; err == nil {
				t.Error("the joiner completed an SST whose donor paused and was stopped")
			} else {
				t.Logf("%s; joiner: %v", m[0], err)
			}
		})
	}
}
