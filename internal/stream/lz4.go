package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// defaultLZ4Concurrency: on a 2-core machine BenchmarkLZ4Compress (32 MiB of
// mixed data) ran at about 0.79 GB/s with 1 goroutine and 1.1-1.2 GB/s with
// 2; each goroutine holds 4 MB block buffers, and the rest of the pipeline
// (mariabackup, TLS) needs CPU too, so it is not GOMAXPROCS.
const defaultLZ4Concurrency = 2

// lz4Writer adapts lz4.Writer: errors name the stage, and Close is
// idempotent.
type lz4Writer struct {
	zw     *lz4.Writer
	gate   *gateWriter
	closed bool
	err    error
}

func newLZ4Writer(w io.Writer, o *lz4Options, concurrency int) (*lz4Writer, error) {
	if concurrency <= 0 {
		concurrency = defaultLZ4Concurrency
	}
	gate := &gateWriter{w: w}
	zw := lz4.NewWriter(gate)
	// The lz4 CLI writes independent 4 MB blocks (-B7) with a content
	// checksum and no block checksums or content size; match it.
	err := zw.Apply(
		lz4.BlockSizeOption(o.blockSize),
		lz4.ChecksumOption(o.contentChecksum),
		lz4.BlockChecksumOption(o.blockChecksum),
		lz4.CompressionLevelOption(o.level),
		lz4.ConcurrencyOption(concurrency),
	)
	if err != nil {
		return nil, fmt.Errorf("set up lz4 compression: %w", err)
	}
	return &lz4Writer{zw: zw, gate: gate}, nil
}

// Write compresses p. Errors, including those of the underlying writer, are
// sticky.
func (w *lz4Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("lz4 compress: write after close")
	}
	if err := w.gate.failed(); err != nil {
		w.abandon(fmt.Errorf("lz4 compress: %w", err))
		return 0, w.err
	}
	n, err := w.zw.Write(p)
	if err != nil {
		w.fail(fmt.Errorf("lz4 compress: %w", err))
		return n, w.err
	}
	return n, nil
}

// readFrom compresses everything r yields until EOF, reading straight into
// the lz4 block buffers (Copy's path for this writer: it saves a copy of
// every byte). ctx is checked before every read, and the stream below
// after every block written. A failure of r (returned as it is), of the
// stream below, or ctx ends the copy and leaves the frame without its end
// mark.
func (w *lz4Writer) readFrom(ctx context.Context, r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("lz4 compress: write after close")
	}
	src := &stopReader{ctx: ctx, r: r, gate: w.gate, stage: "lz4 compress"}
	n, err := w.zw.ReadFrom(src)
	if err != nil {
		w.fail(fmt.Errorf("lz4 compress: %w", err))
		return n, w.err
	}
	if src.err != nil {
		// pierrec/lz4 saw a clean end, so that the goroutines
		// compressing the last blocks run to completion.
		w.abandon(src.err)
		return n, w.err
	}
	return n, nil
}

// stopReader reads from r until ctx is done, r fails or the stream below
// the gate failed, then reports a clean end and keeps the reason in err
// (a failure of the stream below prefixed with stage). The compressors'
// ReadFrom methods then return normally, without racing the goroutines
// still compressing blocks, and the caller abandons the frame.
type stopReader struct {
	ctx   context.Context
	r     io.Reader
	gate  *gateWriter
	stage string
	err   error
}

func (s *stopReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, io.EOF
	}
	if s.ctx.Err() != nil {
		s.err = context.Cause(s.ctx)
		return 0, io.EOF
	}
	if err := s.gate.failed(); err != nil {
		s.err = fmt.Errorf("%s: %w", s.stage, err)
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
		err = io.EOF
	}
	return n, err
}

// errAbandoned is what the gate answers once shut.
var errAbandoned = errors.New("compressed stream abandoned")

// gateWriter passes writes to w until shut, then refuses them, and keeps
// the first error of w. pierrec/lz4's concurrent writer writes blocks
// from its own goroutine and reports their errors only at Close (and
// klauspost/zstd's job workers several jobs late); the gate lets the
// writer notice a dead connection at the next block instead of
// compressing (and the donor backing up) everything first.
type gateWriter struct {
	w    io.Writer
	mu   sync.Mutex
	shut bool
	err  error
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	shut := g.shut
	g.mu.Unlock()
	if shut {
		return 0, errAbandoned
	}
	n, err := g.w.Write(p)
	if err != nil {
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
	return n, err
}

// close shuts the gate: later writes fail with errAbandoned.
func (g *gateWriter) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

// failed returns the first error of the underlying writer, if any.
func (g *gateWriter) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// abandon records err and ends the frame without its end mark: with the
// gate shut nothing more reaches the stream, and Close waits for the
// goroutines still compressing blocks (Reset, in fail, would race with
// them).
func (w *lz4Writer) abandon(err error) {
	w.err = err
	w.gate.close()
	_ = w.zw.Close()
}

// fail records err and releases the lz4.Writer: after an error its Close
// returns early without stopping the goroutine that orders concurrent
// blocks, which Reset does.
func (w *lz4Writer) fail(err error) {
	w.err = err
	w.zw.Reset(io.Discard)
}

// Close flushes pending blocks and writes the frame end (and checksum). It
// does not close the underlying writer.
func (w *lz4Writer) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil {
		w.fail(fmt.Errorf("lz4 compress: finish frame: %w", err))
	}
	return w.err
}

// lz4Reader adapts lz4.Reader, which reads concatenated frames (and skips
// skippable ones) as lz4 -d does.
type lz4Reader struct {
	zr *lz4.Reader
}

// The reader decodes on the calling goroutine: with pierrec/lz4's
// ConcurrencyOption(2) BenchmarkLZ4Decompress fell from about 1.9 GB/s to
// 1.4 GB/s on 2 cores (the decoder is faster than the hand-off).
func newLZ4Reader(r io.Reader) *lz4Reader {
	return &lz4Reader{zr: lz4.NewReader(r)}
}

// Read decompresses into p. The end of the input is io.EOF only at a frame
// boundary; a truncated frame is an error.
func (r *lz4Reader) Read(p []byte) (int, error) {
	n, err := r.zr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("lz4 decompress: %w", err)
	}
	return n, err
}

// Close does nothing and returns nil: the reader owns no resources beyond
// memory. It does not close the underlying reader.
func (r *lz4Reader) Close() error { return nil }
