package xfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// errEnded is what a Writer returns after its end frame.
var errEnded = errors.New("end frame already written")

// Writer writes one connection's frame stream. Frames are buffered; Flush
// or Close sends them. Errors are sticky: after the first failure every
// call returns it, and Close reports it. A Writer is not safe for
// concurrent use.
type Writer struct {
	bw      *bufio.Writer
	version Version
	started bool
	ended   bool
	closed  bool
	err     error
	haveSeq bool
	lastSeq uint64
	hdr     [frameHeaderLen + refFixedLen + MaxRefPath]byte
}

// NewWriter returns a Writer of a frame stream of version v, which must be
// in Supported (the hello exchange's result), to w.
func NewWriter(w io.Writer, v Version) *Writer {
	x := &Writer{bw: bufio.NewWriterSize(w, 64<<10), version: v}
	if v < Supported.Min || v > Supported.Max {
		x.err = fmt.Errorf("%w: version %d, this writer speaks %d..%d", ErrHeader, v, Supported.Min, Supported.Max)
	}
	return x
}

func (w *Writer) begin(seq uint64, sequenced bool) error {
	if w.err != nil {
		return w.err
	}
	if w.closed || w.ended {
		return fmt.Errorf("%w: %w", ErrClosed, errEnded)
	}
	if sequenced {
		if (w.haveSeq && seq <= w.lastSeq) || seq == math.MaxUint64 {
			return fmt.Errorf("%w: sequence number %d after %d", ErrFrame, seq, w.lastSeq)
		}
	} else if w.haveSeq && seq <= w.lastSeq {
		return fmt.Errorf("%w: end frame counts %d frames, but frame %d was written", ErrFrame, seq, w.lastSeq)
	}
	if !w.started {
		var h [streamHeaderLen]byte
		copy(h[:], streamMagic)
		binary.BigEndian.PutUint16(h[4:], uint16(w.version))
		if err := w.write(h[:]); err != nil {
			return err
		}
		w.started = true
	}
	return nil
}

func (w *Writer) write(b []byte) error {
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("xfer: write frame: %w", err)
		return w.err
	}
	return nil
}

// WriteData writes a data frame with sequence number seq and payload p,
// of 1 to DefaultMaxPayload bytes. Sequence numbers must increase.
func (w *Writer) WriteData(seq uint64, p []byte) error {
	if len(p) == 0 || len(p) > DefaultMaxPayload {
		return fmt.Errorf("%w: data payload of %d bytes, want 1..%d", ErrFrame, len(p), DefaultMaxPayload)
	}
	if err := w.begin(seq, true); err != nil {
		return err
	}
	h := w.hdr[:frameHeaderLen+seqLen]
	h[0] = byte(FrameData)
	binary.BigEndian.PutUint32(h[1:], uint32(seqLen+len(p)))
	binary.BigEndian.PutUint64(h[5:], seq)
	crc := crc32.Update(crc32.Update(0, castagnoli, h), castagnoli, p)
	if err := w.write(h); err != nil {
		return err
	}
	if err := w.write(p); err != nil {
		return err
	}
	w.haveSeq, w.lastSeq = true, seq
	return w.trailer(crc)
}

// WriteRef writes a reference frame with sequence number seq. The
// reference must be valid: a clean relative path of at most MaxRefPath
// bytes, a length of 1 to DefaultMaxRefLen, a non-negative offset.
func (w *Writer) WriteRef(seq uint64, r Ref) error {
	switch {
	case !validRefPath(r.Path):
		return fmt.Errorf("%w: reference path %q", ErrFrame, r.Path)
	case r.Length <= 0 || r.Length > DefaultMaxRefLen:
		return fmt.Errorf("%w: reference of %d bytes, want 1..%d", ErrFrame, r.Length, DefaultMaxRefLen)
	case r.Offset < 0 || r.Offset > math.MaxInt64-int64(r.Length):
		return fmt.Errorf("%w: reference offset %d", ErrFrame, r.Offset)
	}
	if err := w.begin(seq, true); err != nil {
		return err
	}
	n := refFixedLen + len(r.Path)
	h := w.hdr[:frameHeaderLen+n]
	h[0] = byte(FrameRef)
	binary.BigEndian.PutUint32(h[1:], uint32(n))
	b := h[frameHeaderLen:]
	binary.BigEndian.PutUint64(b, seq)
	binary.BigEndian.PutUint64(b[8:], uint64(r.Offset))
	binary.BigEndian.PutUint32(b[16:], uint32(r.Length))
	binary.BigEndian.PutUint32(b[20:], r.CRC)
	copy(b[24:40], r.Hash[:])
	binary.BigEndian.PutUint16(b[40:], uint16(len(r.Path)))
	copy(b[refFixedLen:], r.Path)
	if err := w.write(h); err != nil {
		return err
	}
	w.haveSeq, w.lastSeq = true, seq
	return w.trailer(crc32.Checksum(h, castagnoli))
}

// WriteEnd writes the end frame: total is the number of sequenced frames
// of the whole transfer. Nothing can be written after it.
func (w *Writer) WriteEnd(total uint64) error {
	if err := w.begin(total, false); err != nil {
		return err
	}
	h := w.hdr[:frameHeaderLen+endBodyLen]
	h[0] = byte(FrameEnd)
	binary.BigEndian.PutUint32(h[1:], endBodyLen)
	binary.BigEndian.PutUint64(h[5:], total)
	if err := w.write(h); err != nil {
		return err
	}
	if err := w.trailer(crc32.Checksum(h, castagnoli)); err != nil {
		return err
	}
	w.ended = true
	return nil
}

func (w *Writer) trailer(crc uint32) error {
	var t [frameCRCLen]byte
	binary.BigEndian.PutUint32(t[:], crc)
	return w.write(t[:])
}

// Flush sends the buffered frames to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("xfer: write frame: %w", err)
	}
	return w.err
}

// Close flushes the stream and returns the first error of the Writer. A
// stream closed without its end frame is an error (ErrClosed); the
// reader would take it for a truncated one. Close does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Flush()
	w.closed = true
	if err == nil && !w.ended {
		w.err = fmt.Errorf("%w: closed without an end frame", ErrClosed)
	}
	return w.err
}
