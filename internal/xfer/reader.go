package xfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// ReaderOptions tunes a Reader.
type ReaderOptions struct {
	// Version is the version the hello exchange negotiated; a stream
	// header with another fails with ErrHeader. 0 accepts any version in
	// Supported.
	Version Version
	// MaxPayload is the largest data payload accepted, in bytes; larger
	// frames fail with ErrTooLarge before anything is allocated. 0 means
	// DefaultMaxPayload; values above MaxPayloadLimit are lowered to it.
	MaxPayload int
	// MaxRefLen is the largest reference length accepted. 0 means
	// DefaultMaxRefLen; values above MaxPayloadLimit are lowered to it.
	MaxRefLen int
}

// Reader reads one connection's frame stream, in the manner of
// archive/tar: Next advances to the next frame and Read reads a data
// frame's payload.
//
// The Reader checks the stream header, frame types, body lengths against
// the limits, references' paths and lengths, that sequence numbers
// increase, and every frame's CRC-32C: a reference or end frame before
// Next returns it, a data frame when the last byte of its payload has
// been read or when Next skips it. Callers that must not act on a payload
// before it is verified read it whole first (ReadPayload does).
//
// Errors are sticky. The Reader buffers its input and may read past the
// end frame's last byte. It is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	opts    ReaderOptions
	err     error
	started bool
	ended   bool
	version Version

	index int64
	pos   int64
	start int64
	cur   *Frame

	remaining int    // unread payload of the current data frame
	crc       uint32 // running CRC-32C of the current frame
	haveSeq   bool
	lastSeq   uint64
	body      [refFixedLen + MaxRefPath]byte
	skip      []byte
}

// NewReader returns a Reader of the frame stream in r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	opts.MaxPayload = min(opts.MaxPayload, MaxPayloadLimit)
	if opts.MaxRefLen <= 0 {
		opts.MaxRefLen = DefaultMaxRefLen
	}
	opts.MaxRefLen = min(opts.MaxRefLen, MaxPayloadLimit)
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), opts: opts, index: -1}
}

// Version returns the version of the stream header, 0 before the first
// call of Next.
func (r *Reader) Version() Version { return r.version }

// Next verifies and skips the rest of the current frame and reads the next
// frame. After the end frame, which it returns, Next returns io.EOF.
// Errors are *FrameError values wrapping ErrHeader, ErrFrame, ErrTooLarge,
// ErrChecksum, ErrTruncated, or the error of the underlying reader.
func (r *Reader) Next() (*Frame, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		if err := r.readStreamHeader(); err != nil {
			r.err = err
			return nil, err
		}
		r.started = true
	}
	if r.cur != nil {
		if err := r.discard(); err != nil {
			return nil, err
		}
		r.cur = nil
	}
	if r.ended {
		return nil, io.EOF
	}
	f, err := r.readFrame()
	if err != nil {
		r.err = err
		return nil, err
	}
	r.cur = f
	return f, nil
}

// Read reads the payload of the current data frame; it returns io.EOF at
// its end and for other frame types. With the last byte it checks the
// frame's CRC and returns ErrChecksum (with the bytes) on a mismatch.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil || r.remaining == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.br.Read(p)
	r.pos += int64(n)
	r.remaining -= n
	r.crc = crc32.Update(r.crc, castagnoli, p[:n])
	if r.remaining == 0 {
		return n, r.verify()
	}
	if errors.Is(err, io.EOF) || (err == nil && n == 0) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, r.fail(readErr("payload", err))
	}
	return n, nil
}

// ReadPayload reads the whole payload of the current data frame into buf,
// grown if needed, and returns it after its checksum was verified. The
// buffer grows as bytes arrive, so a frame that announces more than it
// carries costs memory only for what came.
func (r *Reader) ReadPayload(buf []byte) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	buf = buf[:0]
	if r.cur == nil || r.cur.Type != FrameData {
		return buf, nil
	}
	n := r.remaining
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), max(len(buf), 256<<10)))
		}
		k, err := r.Read(buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) && len(buf) == n {
			break
		}
		if err != nil {
			if r.err != nil {
				return nil, r.err
			}
			return nil, r.fail(readErr("payload", err))
		}
	}
	return buf, nil
}

func (r *Reader) discard() error {
	if r.skip == nil && r.remaining > 0 {
		r.skip = make([]byte, 32<<10)
	}
	for r.remaining > 0 {
		if _, err := r.Read(r.skip); err != nil {
			return err
		}
	}
	return r.err
}

// verify reads the trailer of the current frame and compares its CRC.
func (r *Reader) verify() error {
	var t [frameCRCLen]byte
	if err := r.readFull(t[:]); err != nil {
		return r.fail(readErr("frame checksum", err))
	}
	if got, want := r.crc, binary.BigEndian.Uint32(t[:]); got != want {
		return r.fail(fmt.Errorf("%w: computed %#08x, trailer has %#08x", ErrChecksum, got, want))
	}
	return nil
}

func (r *Reader) fail(err error) error {
	var t FrameType
	if r.cur != nil {
		t = r.cur.Type
	}
	r.err = &FrameError{Index: r.index, Pos: r.start, Type: t, Err: err}
	return r.err
}

func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: end of input in %s: %w", ErrTruncated, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

func (r *Reader) readFull(b []byte) error {
	n, err := io.ReadFull(r.br, b)
	r.pos += int64(n)
	return err
}

func (r *Reader) readStreamHeader() error {
	var h [streamHeaderLen]byte
	fail := func(err error) error { return &FrameError{Index: -1, Err: err} }
	if err := r.readFull(h[:]); err != nil {
		return fail(readErr("stream header", err))
	}
	if string(h[:4]) != streamMagic {
		return fail(fmt.Errorf("%w: magic %q, want %q", ErrHeader, h[:4], streamMagic))
	}
	v := Version(binary.BigEndian.Uint16(h[4:]))
	switch {
	case r.opts.Version != 0 && v != r.opts.Version:
		return fail(fmt.Errorf("%w: version %d, negotiated %d", ErrHeader, v, r.opts.Version))
	case v < Supported.Min || v > Supported.Max:
		return fail(fmt.Errorf("%w: version %d, this reader speaks %d..%d", ErrHeader, v, Supported.Min, Supported.Max))
	case binary.BigEndian.Uint16(h[6:]) != 0:
		return fail(fmt.Errorf("%w: reserved field %#04x", ErrHeader, h[6:]))
	}
	r.version = v
	return nil
}

// readFrame reads a frame header and, except for a data frame's payload,
// its body and trailer.
func (r *Reader) readFrame() (*Frame, error) {
	r.index++
	r.start = r.pos
	r.cur = nil
	var h [frameHeaderLen]byte
	if err := r.readFull(h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, r.fail(fmt.Errorf("%w: input ended before the end frame: %w", ErrTruncated, io.ErrUnexpectedEOF))
		}
		return nil, r.fail(readErr("frame header", err))
	}
	f := &Frame{Type: FrameType(h[0])}
	r.cur = f
	r.crc = crc32.Update(0, castagnoli, h[:])
	n := uint64(binary.BigEndian.Uint32(h[1:]))

	var fixed int
	switch f.Type {
	case FrameData:
		if n <= seqLen {
			return nil, r.fail(fmt.Errorf("%w: data frame body of %d bytes", ErrFrame, n))
		}
		if n-seqLen > uint64(r.opts.MaxPayload) {
			return nil, r.fail(fmt.Errorf("%w: data payload of %d bytes, limit %d", ErrTooLarge, n-seqLen, r.opts.MaxPayload))
		}
		fixed = seqLen
	case FrameRef:
		if n < refFixedLen || n > refFixedLen+MaxRefPath {
			return nil, r.fail(fmt.Errorf("%w: reference frame body of %d bytes", ErrFrame, n))
		}
		fixed = int(n)
	case FrameEnd:
		if n != endBodyLen {
			return nil, r.fail(fmt.Errorf("%w: end frame body of %d bytes, want %d", ErrFrame, n, endBodyLen))
		}
		fixed = endBodyLen
	default:
		return nil, r.fail(fmt.Errorf("%w: unknown frame type %#02x", ErrFrame, h[0]))
	}
	body := r.body[:fixed]
	if err := r.readFull(body); err != nil {
		return nil, r.fail(readErr("frame body", err))
	}
	r.crc = crc32.Update(r.crc, castagnoli, body)
	seq := binary.BigEndian.Uint64(body)

	switch f.Type {
	case FrameData:
		f.Seq = seq
		f.Len = int(n - seqLen)
		r.remaining = f.Len
	case FrameRef:
		f.Seq = seq
		if err := r.parseRef(f, body); err != nil {
			return nil, r.fail(err)
		}
	case FrameEnd:
		f.Seq = seq
		if r.haveSeq && seq <= r.lastSeq {
			return nil, r.fail(fmt.Errorf("%w: end frame counts %d frames, but frame %d came", ErrFrame, seq, r.lastSeq))
		}
	}
	if f.Type != FrameEnd {
		if r.haveSeq && seq <= r.lastSeq {
			return nil, r.fail(fmt.Errorf("%w: sequence number %d after %d", ErrFrame, seq, r.lastSeq))
		}
		if seq == math.MaxUint64 {
			return nil, r.fail(fmt.Errorf("%w: sequence number %d", ErrFrame, seq))
		}
		r.haveSeq, r.lastSeq = true, seq
	}
	if r.remaining == 0 {
		if err := r.verify(); err != nil {
			return nil, err
		}
	}
	if f.Type == FrameEnd {
		r.ended = true
	}
	return f, nil
}

func (r *Reader) parseRef(f *Frame, body []byte) error {
	off := binary.BigEndian.Uint64(body[8:])
	length := binary.BigEndian.Uint32(body[16:])
	crc := binary.BigEndian.Uint32(body[20:])
	var h Hash
	copy(h[:], body[24:40])
	plen := int(binary.BigEndian.Uint16(body[40:]))
	if plen != len(body)-refFixedLen {
		return fmt.Errorf("%w: reference path of %d bytes in a body of %d", ErrFrame, plen, len(body))
	}
	path := string(body[refFixedLen:])
	switch {
	case !validRefPath(path):
		return fmt.Errorf("%w: reference path %q", ErrFrame, path)
	case length == 0:
		return fmt.Errorf("%w: empty reference to %q", ErrFrame, path)
	case uint64(length) > uint64(r.opts.MaxRefLen):
		return fmt.Errorf("%w: reference of %d bytes, limit %d", ErrTooLarge, length, r.opts.MaxRefLen)
	case off > math.MaxInt64-uint64(length):
		return fmt.Errorf("%w: reference offset %d", ErrFrame, off)
	}
	f.Len = int(length)
	f.Ref = Ref{Path: path, Offset: int64(off), Length: int(length), Hash: h, CRC: crc}
	return nil
}
