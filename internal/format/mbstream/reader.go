package mbstream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strings"
)

// Errors wrapped by the Reader and by Extract; test for them with errors.Is.
// Errors about one chunk come as a *ChunkError that says where the chunk is.
var (
	// ErrHeader means a chunk header is malformed: bad magic, a path that
	// is empty, contains a NUL byte or has MaxPathLen+1 bytes or more, an
	// unknown chunk type without the ignorable flag, or an inconsistent
	// sparse map.
	ErrHeader = errors.New("mbstream: invalid chunk header")
	// ErrChecksum means the CRC-32 of a chunk's payload differs from the
	// one in its header.
	ErrChecksum = errors.New("mbstream: checksum mismatch")
	// ErrTooLarge means a chunk's payload or sparse map is larger than the
	// Reader's MaxPayload, or the map has more than MaxSparseEntries
	// entries; nothing is allocated for it.
	ErrTooLarge = errors.New("mbstream: chunk too large")
	// ErrTruncated means the stream ended inside a chunk (the error also
	// wraps io.ErrUnexpectedEOF) or, for Extract, with files whose
	// end-of-file chunk never came.
	ErrTruncated = errors.New("mbstream: truncated stream")
	// ErrOrder means a payload chunk's offset is not the number of bytes
	// already seen for its file ("out-of-order chunk" in xbstream.cc).
	ErrOrder = errors.New("mbstream: out-of-order chunk")
	// ErrUnsafePath means Extract refused a path: absolute, empty, with a
	// ".." component, a NUL byte, a backslash, or not in clean form.
	ErrUnsafePath = errors.New("mbstream: unsafe path")
)

// DefaultMaxPayload is the largest chunk payload a Reader accepts unless
// told otherwise. Stock writers emit chunks of at most ChunkSize (10 MiB);
// mariadb-backup may write one larger chunk per large write, so the cap
// leaves room.
const DefaultMaxPayload = 64 << 20

// MaxSparseEntries is the most entries a sparse chunk's map may have; a
// map takes 8 bytes an entry in memory, as on the wire. Percona's writer
// emits about one entry per page of a page-compressed tablespace, a few
// thousand per 10 MiB chunk.
const MaxSparseEntries = 1 << 17

// ChunkError reports a failure tied to one chunk of the stream.
type ChunkError struct {
	Index  int64  // number of the chunk in the stream, from 0
	Pos    int64  // byte position of the chunk's first byte in the stream
	Path   string // path of the chunk, empty if not read yet
	Offset uint64 // payload offset in the file, 0 if none
	Err    error  // what went wrong; wraps a sentinel such as ErrChecksum
}

// Error returns "mbstream: chunk N (stream byte B) path "P" offset O: what".
func (e *ChunkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mbstream: chunk %d (stream byte %d)", e.Index, e.Pos)
	if e.Path != "" {
		fmt.Fprintf(&b, " path %q", e.Path)
	}
	if e.Offset != 0 {
		fmt.Fprintf(&b, " offset %d", e.Offset)
	}
	// The sentinels carry the package prefix; do not repeat it.
	fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Err.Error(), "mbstream: "))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ChunkError) Unwrap() error { return e.Err }

// Chunk describes one chunk returned by Reader.Next. Its payload (without
// the sparse map) is read from the Reader.
type Chunk struct {
	Path   string    // file path as written in the stream, not checked for safety
	Type   ChunkType // ChunkPayload, ChunkSparse or ChunkEOF
	Flags  byte      // flag bits from the header
	Offset uint64    // offset in the file of the payload (first skip of a sparse chunk)
	Length uint64    // payload bytes, excluding the sparse map
	// Sparse is the map of a ChunkSparse chunk: from Offset, skip Skip
	// bytes (a hole), then write the next Len bytes of the payload, and so
	// on. The Len fields add up to Length; only the last may be 0 (a
	// trailing hole).
	Sparse []SparseRange
}

// SparseRange is one entry of a sparse chunk's map.
type SparseRange struct {
	Skip uint32 // bytes to leave as a hole before the data
	Len  uint32 // payload bytes to write after the hole
}

// End returns the offset in the file just past this chunk's data: Offset
// plus the payload length plus all holes.
func (c *Chunk) End() uint64 {
	end := c.Offset + c.Length
	for _, s := range c.Sparse {
		end += uint64(s.Skip)
	}
	return end
}

// ReaderOptions tunes a Reader.
type ReaderOptions struct {
	// MaxPayload is the largest payload (or sparse map) of a chunk, in
	// bytes, that the Reader accepts; larger chunks fail with ErrTooLarge
	// before anything is allocated. 0 means DefaultMaxPayload. Chunks of
	// unknown ignorable type are discarded whatever their size.
	MaxPayload int64
}

// Reader reads an mbstream chunk by chunk, in the manner of archive/tar:
// Next advances to the next chunk and Read reads its payload.
//
// The Reader checks the framing: magic, path length, chunk type, payload
// size, the CRC-32 of every payload (when its last byte has been read, or
// when Next skips what the caller left unread), and that the chunks of each
// file come in order (a payload's offset equals the bytes seen so far for
// its path; an end-of-file chunk forgets the path, which may then start
// again as a new file). It skips chunks of unknown type that carry the
// ignorable flag. It does not judge whether paths are safe to extract.
//
// Errors are sticky: once Next or Read failed, they keep returning the same
// error. The Reader buffers its input, so it may read past the last chunk
// it returned. A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	max  int64
	err  error // sticky
	hdr  [headerLen + MaxPathLen + 4 + payloadHeaderLen]byte
	skip []byte // scratch for discarding

	index int64 // number of the current chunk; -1 before the first
	pos   int64 // stream bytes consumed
	start int64 // stream position of the current chunk
	cur   *Chunk

	remaining uint64 // unread payload of the current chunk
	crc       uint32 // running CRC of the current chunk
	wantCRC   uint32

	next map[string]uint64 // expected offset of the next chunk, per open file
}

// NewReader returns a Reader that reads a stream from r with default
// options.
func NewReader(r io.Reader) *Reader {
	return NewReaderOptions(r, ReaderOptions{})
}

// NewReaderOptions returns a Reader that reads a stream from r.
func NewReaderOptions(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	return &Reader{
		br:    bufio.NewReaderSize(r, 64<<10),
		max:   opts.MaxPayload,
		index: -1,
		next:  make(map[string]uint64),
	}
}

// Next skips the rest of the current chunk, verifying its checksum, and
// reads the header of the next one. At the end of the stream, which must
// fall on a chunk boundary, it returns io.EOF. Other errors are
// *ChunkError values wrapping ErrHeader, ErrChecksum, ErrTooLarge,
// ErrTruncated (with io.ErrUnexpectedEOF), ErrOrder, or the error of the
// underlying reader.
func (r *Reader) Next() (*Chunk, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.cur != nil {
		if err := r.discard(); err != nil {
			return nil, err
		}
		r.cur = nil
	}
	for {
		c, skip, err := r.readHeader()
		if err != nil {
			r.err = err
			return nil, err
		}
		if !skip {
			r.cur = c
			if r.remaining == 0 {
				if err := r.verify(); err != nil {
					return nil, err
				}
			}
			return c, nil
		}
		if err := r.discard(); err != nil {
			return nil, err
		}
	}
}

// Read reads the payload of the current chunk. It returns io.EOF at the end
// of the payload; on its last bytes it checks the CRC and returns
// ErrChecksum (with the bytes) if it differs.
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
	if uint64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.br.Read(p)
	r.pos += int64(n)
	r.remaining -= uint64(n)
	r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:n])
	if r.remaining == 0 {
		return n, r.verify()
	}
	if errors.Is(err, io.EOF) || (err == nil && n == 0) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, r.fail(r.cur.Path, r.cur.Offset, readErr("payload", err))
	}
	return n, nil
}

// discard reads and checks what is left of the current chunk's payload.
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

// verify compares the CRC of a fully read payload. Ignorable chunks of
// unknown type are not checked: their content is not ours to judge.
func (r *Reader) verify() error {
	c := r.cur
	if c == nil || (c.Type != ChunkPayload && c.Type != ChunkSparse) {
		return nil
	}
	if r.crc != r.wantCRC {
		return r.fail(c.Path, c.Offset, fmt.Errorf("%w: computed %#08x, header has %#08x", ErrChecksum, r.crc, r.wantCRC))
	}
	return nil
}

// fail records a sticky error about the current chunk.
func (r *Reader) fail(path string, off uint64, err error) error {
	r.err = &ChunkError{Index: r.index, Pos: r.start, Path: path, Offset: off, Err: err}
	return r.err
}

// readErr turns an end of input inside a chunk into ErrTruncated.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: end of input in %s: %w", ErrTruncated, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// readFull reads len(b) bytes of the current chunk.
func (r *Reader) readFull(b []byte) error {
	n, err := io.ReadFull(r.br, b)
	r.pos += int64(n)
	return err
}

// readHeader reads a chunk header. skip is true for an ignorable chunk of
// unknown type, whose payload the caller must discard; r.cur is then set
// to it with r.remaining its length.
func (r *Reader) readHeader() (c *Chunk, skip bool, err error) {
	r.index++
	r.start = r.pos
	r.cur = nil
	h := r.hdr[:headerLen]
	if err := r.readFull(h); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, io.EOF // clean end between chunks
		}
		return nil, false, r.fail("", 0, readErr("header", err))
	}
	if string(h[:len(Magic)]) != Magic {
		return nil, false, r.fail("", 0, fmt.Errorf("%w: magic %q, want %q", ErrHeader, h[:len(Magic)], Magic))
	}
	flags, typ := h[8], ChunkType(h[9])
	plen := binary.LittleEndian.Uint32(h[10:14])
	if plen > MaxPathLen {
		return nil, false, r.fail("", 0, fmt.Errorf("%w: path length %d, limit %d", ErrHeader, plen, MaxPathLen))
	}
	pb := r.hdr[headerLen : headerLen+int(plen)]
	if err := r.readFull(pb); err != nil {
		return nil, false, r.fail("", 0, readErr("path", err))
	}
	c = &Chunk{Path: string(pb), Type: typ, Flags: flags}
	known := typ == ChunkPayload || typ == ChunkSparse || typ == ChunkEOF
	if known {
		// A path no writer can produce: the stock tools pass paths as C
		// strings, so a NUL would silently cut the name short.
		if plen == 0 {
			return nil, false, r.fail("", 0, fmt.Errorf("%w: empty path", ErrHeader))
		}
		if i := bytes.IndexByte(pb, 0); i >= 0 {
			return nil, false, r.fail(c.Path, 0, fmt.Errorf("%w: path has a NUL byte at byte %d", ErrHeader, i))
		}
	}
	if !known && flags&FlagIgnorable == 0 {
		return nil, false, r.fail(c.Path, 0, fmt.Errorf("%w: unknown chunk type %q (flags %#02x)", ErrHeader, byte(typ), flags))
	}
	if typ == ChunkEOF {
		delete(r.next, c.Path)
		return c, false, nil
	}

	// Sparse map length, then payload length, offset and checksum.
	var nmap uint32
	if typ == ChunkSparse {
		b := r.hdr[:4]
		if err := r.readFull(b); err != nil {
			return nil, false, r.fail(c.Path, 0, readErr("sparse map length", err))
		}
		nmap = binary.LittleEndian.Uint32(b)
	}
	b := r.hdr[:payloadHeaderLen]
	if err := r.readFull(b); err != nil {
		return nil, false, r.fail(c.Path, 0, readErr("payload header", err))
	}
	c.Length = binary.LittleEndian.Uint64(b[0:8])
	c.Offset = binary.LittleEndian.Uint64(b[8:16])
	r.wantCRC = binary.LittleEndian.Uint32(b[16:20])
	r.crc = 0
	if !known {
		// Both stock readers frame an ignorable chunk like a payload chunk
		// (SPEC §B.2); we drop it. Its sparse map, if any, is not ours to
		// parse, and it is not counted in any file's offset.
		r.cur, r.remaining = c, c.Length
		return c, true, nil
	}
	if c.Length > uint64(r.max) {
		return nil, false, r.fail(c.Path, c.Offset, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, c.Length, r.max))
	}
	if typ == ChunkSparse {
		if err := r.readSparse(c, nmap); err != nil {
			return nil, false, err
		}
	}
	want := r.next[c.Path]
	if c.Offset != want {
		return nil, false, r.fail(c.Path, c.Offset, fmt.Errorf("%w: offset %d, want %d", ErrOrder, c.Offset, want))
	}
	end := c.End()
	if end < c.Offset || end > math.MaxInt64 {
		return nil, false, r.fail(c.Path, c.Offset, fmt.Errorf("%w: file would end past 2^63 bytes", ErrHeader))
	}
	r.next[c.Path] = end
	r.cur, r.remaining = c, c.Length
	return c, false, nil
}

// readSparse reads the sparse map of c, nmap entries, and starts the CRC
// with its bytes. It allocates only the decoded map, 8 bytes an entry,
// after checking nmap against MaxSparseEntries and the payload length.
// sparseReadPiece is how much of a sparse map the Reader reads, and checks,
// at a time: a whole number of entries in its header buffer. The Scanner
// checks the same pieces, so that both report the same error.
const sparseReadPiece = (headerLen + MaxPathLen + 4 + payloadHeaderLen) / 8 * 8

func (r *Reader) readSparse(c *Chunk, nmap uint32) error {
	switch {
	case nmap > MaxSparseEntries:
		return r.fail(c.Path, c.Offset, fmt.Errorf("%w: sparse map of %d entries, limit %d", ErrTooLarge, nmap, MaxSparseEntries))
	case uint64(nmap)*8 > uint64(r.max):
		return r.fail(c.Path, c.Offset, fmt.Errorf("%w: sparse map of %d entries, limit %d bytes", ErrTooLarge, nmap, r.max))
	case uint64(nmap) > c.Length+1:
		// Every entry but the last carries at least one payload byte.
		return r.fail(c.Path, c.Offset, fmt.Errorf("%w: sparse map of %d entries for %d payload bytes", ErrHeader, nmap, c.Length))
	}
	c.Sparse = make([]SparseRange, nmap)
	r.crc = 0
	var sum uint64
	buf := r.hdr[:sparseReadPiece]
	for i := 0; i < len(c.Sparse); {
		m := buf[:min(len(buf), 8*(len(c.Sparse)-i))]
		if err := r.readFull(m); err != nil {
			return r.fail(c.Path, c.Offset, readErr("sparse map", err))
		}
		r.crc = crc32.Update(r.crc, crc32.IEEETable, m)
		for ; len(m) > 0; m, i = m[8:], i+1 {
			s := SparseRange{
				Skip: binary.LittleEndian.Uint32(m),
				Len:  binary.LittleEndian.Uint32(m[4:]),
			}
			if s.Len == 0 && i != len(c.Sparse)-1 {
				return r.fail(c.Path, c.Offset, fmt.Errorf("%w: sparse map entry %d of %d has no data", ErrHeader, i, nmap))
			}
			c.Sparse[i] = s
			sum += uint64(s.Len)
		}
	}
	if sum != c.Length {
		return r.fail(c.Path, c.Offset, fmt.Errorf("%w: sparse map covers %d bytes, payload has %d", ErrHeader, sum, c.Length))
	}
	return nil
}
