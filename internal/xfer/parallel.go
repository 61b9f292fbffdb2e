package xfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// StreamError is a failure of one connection of a parallel transfer.
type StreamError struct {
	Stream int // index of the connection
	Err    error
}

// Error returns "xfer: stream N: what".
func (e *StreamError) Error() string {
	return fmt.Sprintf("xfer: stream %d: %s", e.Stream, strings.TrimPrefix(e.Err.Error(), "xfer: "))
}

// Unwrap returns the underlying error.
func (e *StreamError) Unwrap() error { return e.Err }

// DefaultFrameSize is the payload size Sender.Data cuts its input into.
const DefaultFrameSize = 1 << 20

// SenderOptions tunes a Sender.
type SenderOptions struct {
	// Version is the negotiated version; 0 means MaxVersion.
	Version Version
	// FrameSize is the largest payload of a data frame Data writes. 0
	// means DefaultFrameSize; at most DefaultMaxPayload.
	FrameSize int
	// Queue is the number of frames queued for the connections' writers
	// beyond the one each is writing. 0 means the number of connections.
	// Memory for payloads stays within (Queue + connections) * FrameSize.
	Queue int
}

// Sender spreads a transfer's frames over parallel connections. Frames get
// sequence numbers in the order of the Data and Ref calls and go to
// whichever connection is free first, so a slow connection takes fewer.
// Each connection's frames are written by its own goroutine through a
// Writer; TLS and compression are the caller's, per connection.
//
// Data, Ref and Close must be called from one goroutine. The first error
// of any connection ends the transfer: every later call returns it.
type Sender struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	size   int
	jobs   chan sendJob
	free   chan []byte
	wg     sync.WaitGroup
	seq    uint64
	closed bool
	result error

	mu  sync.Mutex
	err error
}

type sendJob struct {
	seq     uint64
	payload []byte // data frame; nil for a reference
	ref     Ref
}

// NewSender starts one writer goroutine per element of ws. The caller
// keeps ownership of the writers: Close flushes them but does not close
// them. Cancelling ctx ends the transfer with ctx's cause; a Write blocked
// in a connection is not interrupted, so the caller closes connections to
// stop promptly.
func NewSender(ctx context.Context, ws []io.Writer, opts SenderOptions) *Sender {
	if opts.Version == 0 {
		opts.Version = MaxVersion
	}
	if opts.FrameSize <= 0 {
		opts.FrameSize = DefaultFrameSize
	}
	opts.FrameSize = min(opts.FrameSize, DefaultMaxPayload)
	if opts.Queue <= 0 {
		opts.Queue = len(ws)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	s := &Sender{
		ctx:    ctx,
		cancel: cancel,
		size:   opts.FrameSize,
		jobs:   make(chan sendJob, opts.Queue),
		free:   make(chan []byte, opts.Queue+len(ws)),
	}
	if len(ws) == 0 {
		s.fail(errors.New("xfer: sender without connections"))
	}
	for range cap(s.free) {
		s.free <- nil
	}
	for i, w := range ws {
		fw := NewWriter(w, opts.Version)
		s.wg.Go(func() { s.write(i, fw) })
	}
	return s
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cancel(err)
}

// Err returns the first error of the transfer, nil if none yet.
func (s *Sender) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	return s.err
}

// write is connection i's goroutine.
func (s *Sender) write(i int, fw *Writer) {
	failed := func(err error) {
		s.fail(&StreamError{Stream: i, Err: err})
	}
	for {
		var j sendJob
		var ok bool
		select {
		case j, ok = <-s.jobs:
		default:
			// Nothing queued: send what is buffered before waiting, so that
			// a small frame never waits for the next one.
			if err := fw.Flush(); err != nil {
				failed(err)
				return
			}
			select {
			case j, ok = <-s.jobs:
			case <-s.ctx.Done():
				return
			}
		}
		if !ok {
			break
		}
		if s.ctx.Err() != nil {
			return
		}
		var err error
		if j.payload != nil {
			err = fw.WriteData(j.seq, j.payload)
			s.free <- j.payload[:0]
		} else {
			err = fw.WriteRef(j.seq, j.ref)
		}
		if err != nil {
			failed(err)
			return
		}
	}
	// The jobs channel is closed only after the last frame was queued, so
	// s.seq is final.
	if err := fw.WriteEnd(s.seq); err != nil {
		failed(err)
		return
	}
	if err := fw.Close(); err != nil {
		failed(err)
	}
}

func (s *Sender) queue(j sendJob) error {
	select {
	case s.jobs <- j:
		s.seq++
		return nil
	case <-s.ctx.Done():
		return s.Err()
	}
}

// Data queues p as the next bytes of the transfer, cut into data frames of
// at most the FrameSize. It copies p, blocking while the queue is full.
func (s *Sender) Data(p []byte) error {
	if s.closed {
		return fmt.Errorf("%w: Data after Close", ErrClosed)
	}
	for len(p) > 0 {
		if err := s.Err(); err != nil {
			return err
		}
		n := min(len(p), s.size)
		var buf []byte
		select {
		case buf = <-s.free:
		case <-s.ctx.Done():
			return s.Err()
		}
		if cap(buf) < s.size {
			buf = make([]byte, 0, s.size)
		}
		buf = append(buf[:0], p[:n]...)
		if err := s.queue(sendJob{seq: s.seq, payload: buf}); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Ref queues a reference frame as the next bytes of the transfer. The
// reference must be valid (see Writer.WriteRef); an invalid one fails the
// transfer.
func (s *Sender) Ref(r Ref) error {
	if s.closed {
		return fmt.Errorf("%w: Ref after Close", ErrClosed)
	}
	if err := s.Err(); err != nil {
		return err
	}
	return s.queue(sendJob{seq: s.seq, ref: r})
}

// Frames returns the number of frames queued so far.
func (s *Sender) Frames() uint64 { return s.seq }

// Close ends the transfer: each connection gets its end frame and is
// flushed. It waits for the writer goroutines and returns the first error
// of the transfer. After a failure, Close still waits; the caller closes
// the connections if a writer may be blocked.
func (s *Sender) Close() error {
	if s.closed {
		return s.result
	}
	s.closed = true
	close(s.jobs)
	s.wg.Wait()
	s.result = s.Err()
	s.cancel(ErrClosed)
	return s.result
}

// ReceiverOptions tunes a Receiver.
type ReceiverOptions struct {
	// Version is the negotiated version; 0 accepts any supported one.
	Version Version
	// MaxPayload and MaxRefLen are passed to each connection's Reader.
	MaxPayload, MaxRefLen int
	// Depth is the number of frames read ahead per connection. 0 means 2.
	// The payloads the Receiver holds stay within connections * (Depth+1)
	// * MaxPayload bytes; the rest waits in the connections, which pushes
	// back on the sender.
	Depth int

	// onWait is called when connection i's goroutine waits for a slot,
	// for tests.
	onWait func(i int)
}

// Receiver reads the frames of a transfer from parallel connections and
// returns them in sequence order. One goroutine per connection reads ahead
// at most Depth frames; a connection whose frames are ahead of the others
// stops being read until they catch up, so TCP flow control pushes back
// on the sender rather than memory growing.
//
// The first error of any connection, a gap or duplicate in the sequence,
// connections that disagree on the total, or the cancellation of ctx ends
// the transfer, and Next returns that error from then on. A Read blocked
// in a connection is not interrupted: the caller closes the connections
// when Next fails or it gives up (Close does not close them). Next and
// Close must be called from one goroutine.
type Receiver struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	n      int
	in     chan recvItem
	free   []chan []byte
	wg     sync.WaitGroup
	onWait func(int)

	err      error
	next     uint64
	pending  map[uint64]recvItem
	count    []int // frames of each connection in pending
	ended    []bool
	nEnded   int
	total    uint64
	haveEnd  bool
	last     *recvItem // delivered by the previous Next, to release
	finished bool
}

type recvItem struct {
	stream  int
	frame   *Frame
	payload []byte
	err     error
}

// NewReceiver starts one reader goroutine per element of rs.
func NewReceiver(ctx context.Context, rs []io.Reader, opts ReceiverOptions) *Receiver {
	if opts.Depth <= 0 {
		opts.Depth = 2
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r := &Receiver{
		ctx:     ctx,
		cancel:  cancel,
		n:       len(rs),
		in:      make(chan recvItem, len(rs)),
		free:    make([]chan []byte, len(rs)),
		pending: make(map[uint64]recvItem),
		count:   make([]int, len(rs)),
		ended:   make([]bool, len(rs)),
		onWait:  opts.onWait,
	}
	if len(rs) == 0 {
		r.err = errors.New("xfer: receiver without connections")
	}
	ro := ReaderOptions{Version: opts.Version, MaxPayload: opts.MaxPayload, MaxRefLen: opts.MaxRefLen}
	for i, rd := range rs {
		r.free[i] = make(chan []byte, opts.Depth)
		for range opts.Depth {
			r.free[i] <- nil
		}
		fr := NewReader(rd, ro)
		r.wg.Go(func() { r.read(i, fr) })
	}
	return r
}

// read is connection i's goroutine: it takes a buffer (a slot), reads a
// frame into it, and hands it over, until the end frame or an error.
func (r *Receiver) read(i int, fr *Reader) {
	for {
		var buf []byte
		select {
		case buf = <-r.free[i]:
		default:
			if r.onWait != nil {
				r.onWait(i)
			}
			select {
			case buf = <-r.free[i]:
			case <-r.ctx.Done():
				return
			}
		}
		it := recvItem{stream: i}
		f, err := fr.Next()
		if err == nil && f.Type == FrameData {
			buf, err = fr.ReadPayload(buf)
			it.payload = buf
		}
		if err != nil {
			it.err = &StreamError{Stream: i, Err: err}
		}
		it.frame = f
		select {
		case r.in <- it:
		case <-r.ctx.Done():
			return
		}
		if err != nil || f.Type == FrameEnd {
			return
		}
	}
}

// ErrSequence means the connections' frames do not make one gapless
// sequence: a number missing or repeated, or totals that disagree.
var ErrSequence = errors.New("xfer: broken frame sequence")

// Next returns the next frame of the transfer in sequence order, data or
// reference, with a data frame's payload. The frame and payload are valid
// until the next call of Next. At the end of the transfer (every
// connection's end frame read, all frames returned) it returns io.EOF.
func (r *Receiver) Next() (*Frame, []byte, error) {
	if r.last != nil {
		r.release(*r.last)
		r.last = nil
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	for {
		if it, ok := r.pending[r.next]; ok {
			delete(r.pending, r.next)
			r.count[it.stream]--
			r.next++
			r.last = &it
			return it.frame, it.payload, nil
		}
		if err := r.stuck(); err != nil {
			return nil, nil, r.failNext(err)
		}
		if r.finished {
			return nil, nil, io.EOF
		}
		select {
		case it := <-r.in:
			if err := r.accept(it); err != nil {
				return nil, nil, r.failNext(err)
			}
		case <-r.ctx.Done():
			return nil, nil, r.failNext(context.Cause(r.ctx))
		}
	}
}

// accept files a frame that arrived from a connection.
func (r *Receiver) accept(it recvItem) error {
	if it.err != nil {
		return it.err
	}
	f := it.frame
	if f.Type == FrameEnd {
		if r.haveEnd && f.Seq != r.total {
			return fmt.Errorf("%w: stream %d ends after %d frames, another after %d", ErrSequence, it.stream, f.Seq, r.total)
		}
		if f.Seq < r.next {
			return fmt.Errorf("%w: stream %d ends after %d frames, but %d were received", ErrSequence, it.stream, f.Seq, r.next)
		}
		r.haveEnd, r.total = true, f.Seq
		r.ended[it.stream] = true
		r.nEnded++
		r.release(it)
		for seq := range r.pending {
			if seq >= r.total {
				return fmt.Errorf("%w: frame %d beyond the total of %d", ErrSequence, seq, r.total)
			}
		}
		return nil
	}
	if f.Seq < r.next || (r.haveEnd && f.Seq >= r.total) {
		return fmt.Errorf("%w: stream %d sent frame %d, expected %d or later (total %d)", ErrSequence, it.stream, f.Seq, r.next, r.total)
	}
	if _, dup := r.pending[f.Seq]; dup {
		return fmt.Errorf("%w: frame %d came twice", ErrSequence, f.Seq)
	}
	r.pending[f.Seq] = it
	r.count[it.stream]++
	return nil
}

// stuck reports a gap: every connection has ended or has frames waiting,
// none of them the next one. Since a connection's frames increase, the
// next frame can then never come.
func (r *Receiver) stuck() error {
	if r.nEnded == r.n {
		if r.next == r.total && len(r.pending) == 0 {
			r.finished = true
			return nil
		}
	} else {
		for i := range r.n {
			if !r.ended[i] && r.count[i] == 0 {
				return nil // connection i may still bring it
			}
		}
	}
	return fmt.Errorf("%w: frame %d missing (%d of %d connections ended, total %d, %d frames waiting)",
		ErrSequence, r.next, r.nEnded, r.n, r.total, len(r.pending))
}

func (r *Receiver) release(it recvItem) {
	// Each item holds one slot of its connection; the channel has room.
	r.free[it.stream] <- it.payload
}

func (r *Receiver) failNext(err error) error {
	r.err = err
	r.cancel(err)
	return err
}

// Close stops the reader goroutines that are not blocked in a Read and
// returns the transfer's error, nil after a complete transfer. It does
// not wait for goroutines blocked in a connection's Read: close the
// connections for that.
func (r *Receiver) Close() error {
	err := r.err
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && !r.finished {
		err = fmt.Errorf("%w: receiver closed before the end of the transfer", ErrClosed)
	}
	r.cancel(ErrClosed)
	return err
}

// Wait waits for the reader goroutines to return; call it after Close
// and after closing the connections.
func (r *Receiver) Wait() { r.wg.Wait() }
