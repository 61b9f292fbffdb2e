package xfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// jitterReader delays some reads by a random short time, so that the
// connections of a transfer race each other.
type jitterReader struct {
	r   io.Reader
	rng *rand.Rand
	max time.Duration
}

func (j *jitterReader) Read(p []byte) (int, error) {
	if j.rng.IntN(4) == 0 {
		time.Sleep(time.Duration(j.rng.Int64N(int64(j.max))))
	}
	// Short reads as well.
	if len(p) > 1 {
		p = p[:1+j.rng.IntN(len(p))]
	}
	return j.r.Read(p)
}

// pipes returns n connected pairs; the readers jitter when max > 0.
func pipes(t testing.TB, n int, seed uint64, max time.Duration) ([]io.Reader, []io.Writer, func()) {
	t.Helper()
	rs := make([]io.Reader, n)
	ws := make([]io.Writer, n)
	var closers []func()
	for i := range n {
		pr, pw := io.Pipe()
		rs[i] = pr
		if max > 0 {
			rs[i] = &jitterReader{r: pr, rng: rand.New(rand.NewPCG(seed, uint64(i))), max: max}
		}
		ws[i] = pw
		closers = append(closers, func() { pr.Close(); pw.Close() })
	}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	t.Cleanup(closeAll)
	return rs, ws, closeAll
}

// receiveAll reads a transfer's data frames into one byte slice; it
// fails on reference frames.
func receiveAll(rc *Receiver) ([]byte, error) {
	var out []byte
	for {
		f, p, err := rc.Next()
		if errors.Is(err, io.EOF) {
			return out, rc.Close()
		}
		if err != nil {
			return out, err
		}
		if f.Type != FrameData {
			return out, errors.New("unexpected reference frame")
		}
		out = append(out, p...)
	}
}

func TestParallelRandomDelays(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, 99))
			in := make([]byte, 200_000+rng.IntN(300_000))
			for i := range in {
				in[i] = byte(rng.Uint32())
			}
			rs, ws, closeAll := pipes(t, n, seed, 200*time.Microsecond)
			ctx := t.Context()
			s := NewSender(ctx, ws, SenderOptions{FrameSize: 1 + rng.IntN(8000)})
			errc := make(chan error, 1)
			go func() {
				// Random write sizes, as the mbstream parser produces them.
				p := in
				for len(p) > 0 {
					k := min(len(p), 1+rng.IntN(20000))
					if err := s.Data(p[:k]); err != nil {
						errc <- err
						return
					}
					p = p[k:]
				}
				errc <- s.Close()
			}()
			rc := NewReceiver(ctx, rs, ReceiverOptions{Depth: 1 + int(seed)})
			out, err := receiveAll(rc)
			if err != nil {
				t.Fatalf("n=%d seed=%d: receive: %v", n, seed, err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("n=%d seed=%d: send: %v", n, seed, err)
			}
			closeAll()
			rc.Wait()
			if !bytes.Equal(out, in) {
				t.Fatalf("n=%d seed=%d: received %d bytes differ from the %d sent", n, seed, len(out), len(in))
			}
		}
	}
}

// TestReceiverBounded checks that a receiver reads at most Depth frames
// ahead per connection: with frame 0 held back on one connection, the
// others stop being read (and would push back on the sender) instead of
// the receiver buffering all they carry.
func TestReceiverBounded(t *testing.T) {
	const n, depth, total = 3, 2, 100
	var streams [n]bytes.Buffer
	fws := make([]*Writer, n)
	for i := range n {
		fws[i] = NewWriter(&streams[i], MaxVersion)
	}
	for seq := range uint64(total) {
		i := 1 + int(seq)%(n-1)
		if seq == 0 {
			i = 0
		}
		if err := fws[i].WriteData(seq, []byte{byte(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	// 8 bytes of stream header, 18 per one-byte data frame; reading one
	// byte at a time keeps the Reader's buffer from reading ahead.
	const limit = 8 + depth*18
	gate := make(chan struct{})
	rs := make([]io.Reader, n)
	counted := make([]*countingReader, n)
	for i := range n {
		if err := fws[i].WriteEnd(total); err != nil {
			t.Fatal(err)
		}
		if err := fws[i].Close(); err != nil {
			t.Fatal(err)
		}
		counted[i] = &countingReader{r: &oneByte{&streams[i]}, limit: limit, over: make(chan struct{})}
		rs[i] = counted[i]
	}
	counted[0].gate = gate
	parked := make([]chan struct{}, n)
	for i := range parked {
		parked[i] = make(chan struct{}, 1)
	}
	onWait := func(i int) {
		select {
		case parked[i] <- struct{}{}:
		default:
		}
	}
	rc := NewReceiver(t.Context(), rs, ReceiverOptions{Depth: depth, onWait: onWait})
	done := make(chan error, 1)
	go func() {
		out, err := receiveAll(rc)
		if err == nil && len(out) != total {
			err = errors.New("short output")
		}
		done <- err
	}()
	for i := 1; i < n; i++ {
		select {
		case <-parked[i]:
		case <-counted[i].over:
			t.Fatalf("stream %d: receiver read more than %d bytes while frame 0 was held back", i, limit)
		}
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// countingReader counts the bytes read and closes over once more than
// limit were read; with a gate, reads wait until it is closed.
type countingReader struct {
	r     io.Reader
	gate  chan struct{}
	limit int64
	over  chan struct{}
	mu    sync.Mutex
	n     int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.gate != nil {
		<-c.gate
	}
	n, err := c.r.Read(p)
	c.mu.Lock()
	if c.n <= c.limit && c.n+int64(n) > c.limit {
		close(c.over)
	}
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func TestReceiverSequenceErrors(t *testing.T) {
	build := func(frames ...[]item) []io.Reader {
		rs := make([]io.Reader, len(frames))
		for i, f := range frames {
			rs[i] = bytes.NewReader(writeItems(t, f))
		}
		return rs
	}
	d := func(seq uint64) item { return item{typ: FrameData, seq: seq, payload: []byte{1}} }
	e := func(total uint64) item { return item{typ: FrameEnd, seq: total} }
	tests := []struct {
		name string
		rs   []io.Reader
	}{
		{"gap", build([]item{d(0), d(2), e(3)}, []item{e(3)})},
		{"duplicate", build([]item{d(0), d(1), e(2)}, []item{d(1), e(2)})},
		{"totals differ", build([]item{d(0), e(1)}, []item{e(2)})},
		{"frame beyond total", build([]item{d(0), d(5), e(6)}, []item{e(1)})},
		{"total below delivered", build([]item{d(0), d(1), d(2), e(3)}, []item{e(1)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := NewReceiver(t.Context(), tt.rs, ReceiverOptions{})
			_, err := receiveAll(rc)
			if !errors.Is(err, ErrSequence) {
				t.Errorf("err = %v, want ErrSequence", err)
			}
			rc.Wait()
		})
	}
}

func TestReceiverFirstErrorWins(t *testing.T) {
	good := writeItems(t, []item{{typ: FrameData, seq: 0, payload: []byte("x")}, {typ: FrameEnd, seq: 2}})
	bad := cat([]byte(hdr), frame('Z', nil)) // unknown frame type
	// The good stream stops short of its end frame and blocks forever.
	pr, pw := io.Pipe()
	go func() { pw.Write(good[:len(good)-13]) }()
	t.Cleanup(func() { pr.Close() })
	rc := NewReceiver(t.Context(), []io.Reader{pr, bytes.NewReader(bad)}, ReceiverOptions{})
	_, err := receiveAll(rc)
	var se *StreamError
	if !errors.Is(err, ErrFrame) || !errors.As(err, &se) || se.Stream != 1 {
		t.Fatalf("err = %v, want ErrFrame from stream 1", err)
	}
	if _, _, err2 := rc.Next(); !errors.Is(err2, err) {
		t.Errorf("Next after failure = %v, want the same %v", err2, err)
	}
	pr.Close()
	rc.Wait()
}

func TestReceiverCancel(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close(); pw.Close() })
	ctx, cancel := context.WithCancelCause(t.Context())
	rc := NewReceiver(ctx, []io.Reader{pr}, ReceiverOptions{})
	stop := errors.New("operator gave up")
	cancel(stop)
	if _, _, err := rc.Next(); !errors.Is(err, stop) {
		t.Errorf("Next after cancel = %v, want %v", err, stop)
	}
	pr.Close()
	rc.Wait()
}

func TestSenderFirstErrorWins(t *testing.T) {
	pr, pw := io.Pipe()
	pr.CloseWithError(errDisk) // stream 0 fails on its first write
	var ok bytes.Buffer
	s := NewSender(t.Context(), []io.Writer{pw, &ok}, SenderOptions{FrameSize: 100})
	var err error
	for range 1000 {
		if err = s.Data(make([]byte, 1000)); err != nil {
			break
		}
	}
	cerr := s.Close()
	if !errors.Is(cerr, errDisk) {
		t.Fatalf("Close = %v, want %v", cerr, errDisk)
	}
	if err != nil && !errors.Is(err, errDisk) {
		t.Errorf("Data = %v, want nil or %v", err, errDisk)
	}
	if err := s.Data([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Data after Close = %v, want ErrClosed", err)
	}
}

func TestSenderRefsAndData(t *testing.T) {
	rs, ws, closeAll := pipes(t, 2, 7, 0)
	s := NewSender(t.Context(), ws, SenderOptions{})
	ref := Ref{Path: "a/b", Offset: 10, Length: 5, CRC: 3}
	go func() {
		_ = s.Data([]byte("one"))
		_ = s.Ref(ref)
		_ = s.Data([]byte("two"))
		_ = s.Close()
	}()
	rc := NewReceiver(t.Context(), rs, ReceiverOptions{})
	var got []string
	for {
		f, p, err := rc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == FrameRef {
			if f.Ref != ref {
				t.Errorf("ref %+v, want %+v", f.Ref, ref)
			}
			got = append(got, "ref")
		} else {
			got = append(got, string(p))
		}
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	closeAll()
	rc.Wait()
	if want := []string{"one", "ref", "two"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// BenchmarkParallelTCP sends 64 MiB per iteration over N loopback TCP
// connections in 1 MiB frames.
func BenchmarkParallelTCP(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(map[int]string{1: "N=1", 2: "N=2", 4: "N=4"}[n], func(b *testing.B) {
			const size = 64 << 20
			chunk := make([]byte, 256<<10)
			for i := range chunk {
				chunk[i] = byte(i * 7)
			}
			b.SetBytes(size)
			for b.Loop() {
				benchTCP(b, n, size, chunk)
			}
		})
	}
}

func benchTCP(b *testing.B, n, size int, chunk []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ws := make([]io.Writer, n)
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		ws[i] = c
	}
	rs := make([]io.Reader, n)
	for i := range n {
		c := <-accepted
		conns = append(conns, c)
		rs[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	s := NewSender(b.Context(), ws, SenderOptions{})
	errc := make(chan error, 1)
	go func() {
		for sent := 0; sent < size; sent += len(chunk) {
			if err := s.Data(chunk); err != nil {
				errc <- err
				return
			}
		}
		errc <- s.Close()
	}()
	rc := NewReceiver(b.Context(), rs, ReceiverOptions{})
	got := 0
	for {
		_, p, err := rc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		got += len(p)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if got != size {
		b.Fatalf("received %d bytes, want %d", got, size)
	}
}
