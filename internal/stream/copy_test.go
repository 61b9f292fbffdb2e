package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestCopyReaders(t *testing.T) {
	data := []byte(strings.Repeat("mbstream chunk ", 1000))
	errLate := errors.New("late failure")
	tests := []struct {
		name    string
		src     func() io.Reader
		wantN   int
		wantErr error
	}{
		{"plain", func() io.Reader { return bytes.NewReader(data) }, len(data), nil},
		{"OneByteReader", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, len(data), nil},
		{"HalfReader", func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) }, len(data), nil},
		{"DataErrReader", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }, len(data), nil},
		{"TimeoutReader", func() io.Reader { return iotest.TimeoutReader(iotest.OneByteReader(bytes.NewReader(data))) }, 1, iotest.ErrTimeout},
		{"ErrReader", func() io.Reader { return iotest.ErrReader(errLate) }, 0, errLate},
		{"lateError", func() io.Reader { return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errLate)) }, len(data), errLate},
		{"empty", func() io.Reader { return strings.NewReader("") }, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst bytes.Buffer
			n, err := Copy(t.Context(), &dst, tt.src())
			if n != int64(tt.wantN) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Copy = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if !bytes.Equal(dst.Bytes(), data[:tt.wantN]) {
				t.Errorf("copied bytes differ from the source")
			}
		})
	}
}

// shortWriter accepts at most max bytes per Write without an error.
type shortWriter struct{ max int }

func (w shortWriter) Write(p []byte) (int, error) { return min(len(p), w.max), nil }

type errWriter struct{ err error }

func (w errWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestCopyWriteErrors(t *testing.T) {
	errDisk := errors.New("no space left on device")
	tests := []struct {
		name    string
		dst     io.Writer
		wantN   int64
		wantErr error
	}{
		{"short", shortWriter{max: 3}, 3, io.ErrShortWrite},
		{"error", errWriter{errDisk}, 0, errDisk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Copy(t.Context(), tt.dst, strings.NewReader("0123456789"))
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Copy = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

// cancelAfterReader cancels its context after n reads.
type cancelAfterReader struct {
	r      io.Reader
	n      int
	cancel context.CancelCauseFunc
	cause  error
}

func (c *cancelAfterReader) Read(p []byte) (int, error) {
	c.n--
	if c.n == 0 {
		c.cancel(c.cause)
	}
	return c.r.Read(p)
}

func TestCopyCancelled(t *testing.T) {
	errStop := errors.New("stop")
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		n, err := Copy(ctx, io.Discard, strings.NewReader("data"))
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Copy = %d, %v; want 0, context.Canceled", n, err)
		}
	})
	t.Run("between reads", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		src := &cancelAfterReader{r: iotest.OneByteReader(strings.NewReader("abcdef")), n: 3, cancel: cancel, cause: errStop}
		var dst bytes.Buffer
		n, err := Copy(ctx, &dst, src)
		// The third read still delivers its byte; the check before the
		// fourth read stops the copy.
		if n != 3 || !errors.Is(err, errStop) || dst.String() != "abc" {
			t.Fatalf("Copy = %d, %v, copied %q; want 3, %v, \"abc\"", n, err, dst.String(), errStop)
		}
	})
}

// TestCopyCloseOnCancel interrupts a Copy blocked reading a connection that
// never sends anything.
func TestCopyCloseOnCancel(t *testing.T) {
	l := listenT(t, ListenConfig{Host: "127.0.0.1"})
	client, server := dialPair(t, l, DialConfig{})

	errStop := errors.New("parent died")
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := CloseOnCancel(ctx, server)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := Copy(ctx, io.Discard, server)
		done <- err
	}()
	if _, err := client.Write([]byte("some bytes")); err != nil {
		t.Fatal(err)
	}
	cancel(errStop)
	if err := <-done; !errors.Is(err, errStop) {
		t.Fatalf("Copy = %v, want %v", err, errStop)
	}
	// Copy may notice the cancellation before the close has happened;
	// stop waits for a close under way.
	stop()
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after cancel = %v, want net.ErrClosed", err)
	}
}

type closeCounter struct {
	mu sync.Mutex
	n  int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil
}

func (c *closeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestCloseOnCancelStop(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var c closeCounter
	stop := CloseOnCancel(ctx, &c)
	stop()
	cancel()
	stop() // idempotent
	if got := c.count(); got != 0 {
		t.Errorf("closed %d times after stop, want 0", got)
	}

	ctx, cancel = context.WithCancel(t.Context())
	stop = CloseOnCancel(ctx, &c)
	cancel()
	stop() // waits for the Close already under way
	if got := c.count(); got != 1 {
		t.Errorf("closed %d times after cancel, want 1", got)
	}
}

func TestCounting(t *testing.T) {
	data := []byte(strings.Repeat("x", 100_000))
	t.Run("reader", func(t *testing.T) {
		r := NewCountingReader(bytes.NewReader(data))
		if err := iotest.TestReader(r, data); err != nil {
			t.Fatal(err)
		}
		if r.N() < int64(len(data)) {
			t.Errorf("N = %d, want at least %d", r.N(), len(data))
		}
		r = NewCountingReader(iotest.HalfReader(bytes.NewReader(data)))
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if r.N() != int64(len(data)) {
			t.Errorf("N = %d, want %d", r.N(), len(data))
		}
	})
	t.Run("concurrent N", func(t *testing.T) {
		r := NewCountingReader(iotest.OneByteReader(bytes.NewReader(data)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = Copy(context.Background(), io.Discard, r)
		}()
		var last int64
	poll: // a progress reporter, without the ticker
		for {
			select {
			case <-done:
				break poll
			default:
				if n := r.N(); n < last || n > int64(len(data)) {
					t.Fatalf("count went wrong: read %d after %d", n, last)
				}
				last = r.N()
			}
		}
		if r.N() != int64(len(data)) {
			t.Errorf("read %d, want %d", r.N(), len(data))
		}
	})
}

// patternReader yields n bytes cycling through pat, like a large file whose
// contents do not matter, with one memmove per Read as a real source has.
type patternReader struct {
	pat []byte
	off int
	n   int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	var n int
	for n < len(p) {
		m := copy(p[n:], r.pat[r.off:])
		n += m
		r.off = (r.off + m) % len(r.pat)
	}
	r.n -= int64(n)
	return n, nil
}

// BenchmarkLoopbackCopy measures Listen/Dial/Copy over loopback TCP, 64 MiB
// per operation, with the copy buffer of both ends at several sizes; the
// size Copy uses is copyBufferSize.
func BenchmarkLoopbackCopy(b *testing.B) {
	const size = 64 << 20
	pat := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{}).Read(pat)
	for _, bufSize := range []int{32 << 10, 128 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("buf=%dKiB", bufSize>>10), func(b *testing.B) {
			l := listenT(b, ListenConfig{Host: "127.0.0.1"})
			ctx := b.Context()
			sendBuf, recvBuf := make([]byte, bufSize), make([]byte, bufSize)
			b.SetBytes(size)
			for b.Loop() {
				received := make(chan error, 1)
				go func() {
					conn, err := l.Accept(ctx)
					if err != nil {
						received <- err
						return
					}
					defer conn.Close()
					n, err := copyBuffer(ctx, io.Discard, conn, recvBuf)
					if err == nil && n != size {
						err = fmt.Errorf("received %d bytes, want %d", n, size)
					}
					received <- err
				}()
				conn, err := Dial(ctx, DialConfig{Addr: l.Addr().String(), Timeout: 5 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				_, err = copyBuffer(ctx, conn, &patternReader{pat: pat, n: size}, sendBuf)
				if cerr := conn.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := <-received; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
