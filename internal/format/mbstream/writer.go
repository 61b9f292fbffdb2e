package mbstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"
)

// ErrClosed is returned when writing to a file or Writer that was closed.
var ErrClosed = errors.New("mbstream: write after close")

// Writer writes an mbstream to an underlying io.Writer.
//
// Create, WriteFile and Close are safe for concurrent use. Each file returned
// by Create must be used by one goroutine at a time, but different files may
// be written from different goroutines: chunks are written to the underlying
// writer under a mutex, so they interleave but are never split, as in
// MariaDB's xb_stream_write_chunk.
//
// The Writer adds no buffering of its own beyond the per-file chunk buffers;
// the header and payload of a buffered chunk go out in one Write call.
type Writer struct {
	mu     sync.Mutex // held while a chunk is written; guards the fields below
	w      io.Writer
	err    error // first error, sticky
	open   map[*file]struct{}
	closed bool
}

// NewWriter returns a Writer that writes chunks to w. Closing the Writer does
// not close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, open: make(map[*file]struct{})}
}

// Create starts a file named path in the stream and returns a writer for its
// contents; nothing is written to the stream until the first chunk is full
// or the file is closed.
//
// Like MariaDB's writer (xb_stream_write_data), the file buffers up to
// ChunkSize bytes and emits a payload chunk when a Write does not fit in the
// remaining space: the buffer goes out first, then the Write's data as a
// chunk of its own. Unlike it, a single Write larger than ChunkSize is cut
// into chunks of at most ChunkSize bytes, so that readers which load a whole
// chunk into memory stay bounded. Close flushes the buffer and writes the
// end-of-file chunk; the file is not complete in the stream until then.
//
// The path must be non-empty, at most MaxPathLen bytes and free of NUL
// bytes; it is written as given.
func (w *Writer) Create(path string) (io.WriteCloser, error) {
	return w.create(path)
}

func (w *Writer) create(path string) (*file, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if w.err != nil {
		return nil, w.err
	}
	f := &file{w: w, path: path, hdrLen: headerLen + len(path) + payloadHeaderLen}
	w.open[f] = struct{}{}
	return f, nil
}

// WriteFile writes a whole file: its payload chunks of at most ChunkSize
// bytes, straight from data without copying, and its end-of-file chunk. The
// bytes are the same as mbstream -c produces for a file with these contents.
func (w *Writer) WriteFile(path string, data []byte) error {
	f, err := w.create(path)
	if err != nil {
		return err
	}
	for len(data) > 0 && err == nil {
		n := min(len(data), ChunkSize)
		err = f.writeChunk(data[:n])
		data = data[n:]
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close finishes the stream. It returns the first error met while writing
// chunks, or an error naming the files created but not closed (their
// end-of-file chunks are missing, so the stream is incomplete). Further
// Creates and writes fail with ErrClosed. Close does not close the
// underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if len(w.open) > 0 {
		paths := make([]string, 0, len(w.open))
		for f := range w.open {
			paths = append(paths, fmt.Sprintf("%q", f.path))
		}
		slices.Sort(paths)
		w.err = fmt.Errorf("mbstream: close: %d files still open: %s", len(paths), strings.Join(paths, ", "))
	}
	return w.err
}

// writeChunk writes one chunk, hdr followed by payload (which may be nil),
// while holding the stream mutex. After the first failure every later chunk
// fails with the same error: the stream is broken mid-chunk.
func (w *Writer) writeChunk(f *file, hdr, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	for _, b := range [2][]byte{hdr, payload} {
		if len(b) == 0 {
			continue
		}
		n, err := w.w.Write(b)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			w.err = fmt.Errorf("mbstream: write chunk of %q at offset %d: %w", f.path, f.off, err)
			return w.err
		}
	}
	return nil
}

// checkPath rejects paths that stock mbstream readers refuse.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("mbstream: invalid path: empty")
	case len(path) > MaxPathLen:
		return fmt.Errorf("mbstream: invalid path %.40q...: %d bytes, more than %d", path, len(path), MaxPathLen)
	case strings.IndexByte(path, 0) >= 0:
		return fmt.Errorf("mbstream: invalid path %q: contains NUL", path)
	}
	return nil
}

// file is the writer Create returns.
type file struct {
	w      *Writer
	path   string
	hdrLen int    // length of a payload chunk's header for this path
	buf    []byte // hdrLen bytes of room for the header, then buffered payload
	hdr    []byte // header of chunks written straight from the caller's slice
	off    uint64 // offset in the file of the next chunk's payload
	err    error  // sticky
	closed bool
}

// buffered returns the number of payload bytes waiting in buf.
func (f *file) buffered() int { return max(len(f.buf)-f.hdrLen, 0) }

// Write buffers p, or flushes and writes p straight away as described at
// Writer.Create. It fails only when the stream failed or the file or the
// Writer was closed.
func (f *file) Write(p []byte) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) < ChunkSize-f.buffered() {
		f.appendBuf(p)
		return len(p), nil
	}
	if err := f.flush(); err != nil {
		return 0, err
	}
	var n int
	for n < len(p) {
		m := min(len(p)-n, ChunkSize)
		if err := f.writeChunk(p[n : n+m]); err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// appendBuf copies p into the buffer, growing it geometrically up to
// ChunkSize so that small files do not cost a 10 MiB allocation.
func (f *file) appendBuf(p []byte) {
	if f.buf == nil {
		f.buf = make([]byte, f.hdrLen, f.hdrLen+max(len(p), 4096))
	}
	if need := len(f.buf) + len(p); need > cap(f.buf) {
		nb := make([]byte, len(f.buf), min(max(2*cap(f.buf), need), f.hdrLen+ChunkSize))
		copy(nb, f.buf)
		f.buf = nb
	}
	f.buf = append(f.buf, p...)
}

// flush writes the buffered payload, if any, as one chunk with one Write.
func (f *file) flush() error {
	n := f.buffered()
	if n == 0 {
		return nil
	}
	putPayloadHeader(f.buf[:f.hdrLen], f.path, f.buf[f.hdrLen:], f.off)
	if err := f.w.writeChunk(f, f.buf, nil); err != nil {
		f.err = err
		return err
	}
	f.off += uint64(n)
	f.buf = f.buf[:f.hdrLen]
	return nil
}

// writeChunk writes payload as one chunk without copying it.
func (f *file) writeChunk(payload []byte) error {
	if f.hdr == nil {
		f.hdr = make([]byte, f.hdrLen)
	}
	putPayloadHeader(f.hdr, f.path, payload, f.off)
	if err := f.w.writeChunk(f, f.hdr, payload); err != nil {
		f.err = err
		return err
	}
	f.off += uint64(len(payload))
	return nil
}

// Close flushes the buffered payload and writes the end-of-file chunk. It
// returns the first error of this file or of the stream.
func (f *file) Close() error {
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	err := f.err
	if err == nil {
		err = f.flush()
	}
	if err == nil {
		eof := make([]byte, headerLen+len(f.path))
		putHeader(eof, ChunkEOF, f.path)
		err = f.w.writeChunk(f, eof, nil)
	}
	f.buf, f.hdr = nil, nil
	f.w.mu.Lock()
	delete(f.w.open, f)
	f.w.mu.Unlock()
	return err
}

// putHeader fills the constant header and the path; b must hold
// headerLen+len(path) bytes.
func putHeader(b []byte, typ ChunkType, path string) {
	copy(b, Magic)
	b[8] = 0 // flags
	b[9] = byte(typ)
	binary.LittleEndian.PutUint32(b[10:14], uint32(len(path)))
	copy(b[headerLen:], path)
}

// putPayloadHeader fills the header of a payload chunk carrying payload at
// offset off; b must hold headerLen+len(path)+payloadHeaderLen bytes.
func putPayloadHeader(b []byte, path string, payload []byte, off uint64) {
	putHeader(b, ChunkPayload, path)
	p := b[headerLen+len(path):]
	binary.LittleEndian.PutUint64(p[0:8], uint64(len(payload)))
	binary.LittleEndian.PutUint64(p[8:16], off)
	binary.LittleEndian.PutUint32(p[16:20], crc32.ChecksumIEEE(payload))
}
