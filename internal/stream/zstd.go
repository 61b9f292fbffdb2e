package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstdWriter adapts zstd.Encoder: errors name the stage and are sticky,
// Close is idempotent, and a failed stream is never finished as if
// complete.
type zstdWriter struct {
	zw     *zstd.Encoder
	gate   *gateWriter
	closed bool
	err    error
}

func newZstdWriter(w io.Writer, o *zstdOptions) (*zstdWriter, error) {
	n, jobs := o.concurrency()
	gate := &gateWriter{w: w}
	opts := []zstd.EOption{
		zstd.WithEncoderLevel(o.encoderLevel()),
		zstd.WithEncoderCRC(o.check),
		// The CLI writes a frame for empty input too, and zstd -d
		// refuses an empty stream.
		zstd.WithZeroFrames(true),
		zstd.WithEncoderConcurrency(n),
		zstd.WithConcurrentBlocks(jobs),
	}
	if o.window > 0 {
		opts = append(opts, zstd.WithWindowSize(o.window))
	}
	zw, err := zstd.NewWriter(gate, opts...)
	if err != nil {
		return nil, fmt.Errorf("set up zstd compression: %w", err)
	}
	return &zstdWriter{zw: zw, gate: gate}, nil
}

// Write compresses p.
func (w *zstdWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("zstd compress: write after close")
	}
	if err := w.gate.failed(); err != nil {
		w.fail(fmt.Errorf("zstd compress: %w", err))
		return 0, w.err
	}
	n, err := w.zw.Write(p)
	if err != nil {
		w.fail(fmt.Errorf("zstd compress: %w", err))
		return n, w.err
	}
	return n, nil
}

// readFrom compresses everything r yields until EOF, reading straight into
// the encoder's block buffers (Copy's path for this writer). ctx and the
// stream below are checked before every read; the encoder's job workers
// (-T2 and up) write several 32 MiB jobs behind the reads, so a dead
// stream below stops the copy that much later. A failure of r (returned as
// it is), of the stream below, or ctx ends the copy and leaves the frame
// without its end mark.
func (w *zstdWriter) readFrom(ctx context.Context, r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("zstd compress: write after close")
	}
	// klauspost's ReadFrom, handed a read error, stores it while the
	// block goroutine may store its own (a data race in v1.20.4); a
	// clean end from stopReader avoids that.
	src := &stopReader{ctx: ctx, r: r, gate: w.gate, stage: "zstd compress"}
	n, err := w.zw.ReadFrom(src)
	switch {
	case src.err != nil:
		w.fail(src.err)
	case err != nil:
		w.fail(fmt.Errorf("zstd compress: %w", err))
	default:
		return n, nil
	}
	return n, w.err
}

// fail records err, shuts the gate and resets the encoder onto io.Discard:
// Reset waits for the goroutines still compressing or writing blocks and
// stops the job workers, and the shut gate refuses what they would still
// write, so no frame end reaches the stream below.
func (w *zstdWriter) fail(err error) {
	w.err = err
	w.gate.close()
	w.zw.Reset(io.Discard)
}

// Close writes the last block and the frame end (and checksum). It does
// not close the underlying writer.
func (w *zstdWriter) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil {
		w.fail(fmt.Errorf("zstd compress: finish frame: %w", err))
	}
	return w.err
}

// zstdMagic and the skippable frames' magic range start every zstd stream
// (RFC 8878, section 3.1); the numbers are little-endian on the wire.
const (
	zstdMagic          = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // to 0x184D2A5F
)

func isZstdStart(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	m := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	return m == zstdMagic || m&^0xF == zstdSkippableMagic
}

// zstdReader decompresses a stream in process once it has seen that the
// stream starts with a zstd frame. The zstd CLI also decodes gzip, xz,
// lzma and lz4 input, passes other input through with -f (zstdcat), and
// reports empty input as an error; rather than mirror all that, a stream
// that does not start with a zstd frame goes to the zstd program itself,
// started by fallback with the bytes already read put back in front. With
// a nil fallback (a codec from NewCodec) every stream is decoded in
// process.
type zstdReader struct {
	r        io.Reader
	o        *zstdOptions
	fallback func(io.Reader) (io.ReadCloser, error)
	rc       io.ReadCloser // the decoder or the filter, once chosen
	err      error
}

// Read decompresses into p. The end of the input is io.EOF only at a frame
// boundary; a truncated or corrupt frame, or one that needs a larger
// window than allowed, is an error naming the stage.
func (z *zstdReader) Read(p []byte) (int, error) {
	if z.rc == nil {
		if z.err != nil {
			return 0, z.err
		}
		if err := z.start(); err != nil {
			z.err = err
			return 0, err
		}
	}
	return z.rc.Read(p)
}

func (z *zstdReader) start() error {
	var head [4]byte
	n, err := io.ReadFull(z.r, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("zstd decompress: %w", err)
	}
	in := io.MultiReader(bytes.NewReader(head[:n]), z.r)
	if z.fallback == nil || isZstdStart(head[:n]) {
		z.rc = newZstdDecoder(in, z.o)
		return nil
	}
	rc, err := z.fallback(in)
	if err != nil {
		return err
	}
	z.rc = rc
	return nil
}

// Close releases the decoder, or stops the zstd program if it has not
// finished and returns its exit error. It does not close the underlying
// reader.
func (z *zstdReader) Close() error {
	if z.rc == nil {
		return nil
	}
	return z.rc.Close()
}

// zstdDecoder adapts zstd.Decoder: it decodes on the calling goroutine
// (nothing reads ahead from the connection, and Close never waits for a
// blocked read), refuses frames whose window exceeds 2^windowLog bytes
// before allocating for them, and treats an input without any frame as
// truncated, as zstd -d does.
type zstdDecoder struct {
	zr    *zstd.Decoder
	in    *CountingReader
	limit uint64
	note  string // why the limit, for the error; "" for the CLI's --long hint
	err   error
}

func newZstdDecoder(r io.Reader, o *zstdOptions) *zstdDecoder {
	in := NewCountingReader(r)
	limit := uint64(1) << o.windowLog
	zr, err := zstd.NewReader(in,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(limit),
		// For streams this bounds the window too, not the output.
		zstd.WithDecoderMaxMemory(limit),
		zstd.IgnoreChecksum(!o.check),
	)
	d := &zstdDecoder{zr: zr, in: in, limit: limit, note: o.limitNote}
	if err != nil {
		d.err = fmt.Errorf("set up zstd decompression: %w", err)
	}
	return d
}

// Read decompresses into p; errors are sticky.
func (d *zstdDecoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.zr.Read(p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && d.in.N() > 0:
		d.err = io.EOF
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.err = fmt.Errorf("zstd decompress: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		note := d.note
		if note == "" {
			note = "frames compressed with --long=N need --long=N in the decompressor command"
		}
		d.err = fmt.Errorf("zstd decompress: a frame needs a window larger than the %s limit (%s): %w", binarySize(d.limit), note, err)
	default:
		d.err = fmt.Errorf("zstd decompress: %w", err)
	}
	return n, d.err
}

// Close releases the decoder. It does not close the underlying reader.
func (d *zstdDecoder) Close() error {
	if d.zr != nil {
		d.zr.Close()
	}
	return nil
}

// binarySize formats a power of two of at least 1 KiB, e.g. "128 MiB".
func binarySize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
