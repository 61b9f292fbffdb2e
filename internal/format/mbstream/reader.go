package mbstream

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
func (c *Chunk) End() uint64 { return fileEnd(c.Offset, c.Length, c.Sparse) }

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
	cursor
	br   *bufio.Reader
	hdr  [headerLen + MaxPathLen + 4 + payloadHeaderLen]byte
	skip []byte // scratch for discarding

	pos int64 // stream bytes consumed
}

// cursor is what the Reader and the pieceReader share: the header parser,
// the current chunk, its payload's running CRC and the sticky error.
type cursor struct {
	parser
	err error // sticky
	cur *Chunk

	remaining uint64 // unread payload of the current chunk
	crc       uint32 // running CRC of the current chunk
	wantCRC   uint32
}

// begin makes the chunk whose framing is h the current one, its whole
// payload unread.
func (s *cursor) begin(h header) *Chunk {
	c := &Chunk{Path: h.path, Type: h.typ, Flags: h.flags, Offset: h.off, Length: h.length, Sparse: h.sparse}
	s.cur, s.remaining = c, h.length
	s.crc, s.wantCRC = h.mapCRC, h.crc
	return c
}

// verify compares the CRC of a fully read payload. Ignorable chunks of
// unknown type are not checked: their content is not ours to judge.
func (s *cursor) verify() error {
	c := s.cur
	if c == nil || (c.Type != ChunkPayload && c.Type != ChunkSparse) {
		return nil
	}
	if s.crc != s.wantCRC {
		return s.fail(fmt.Errorf("%w: computed %#08x, header has %#08x", ErrChecksum, s.crc, s.wantCRC))
	}
	return nil
}

// fail records a sticky error about the current chunk.
func (s *cursor) fail(err error) error {
	var path string
	var off uint64
	if s.cur != nil {
		path, off = s.cur.Path, s.cur.Offset
	}
	s.err = s.parser.fail(path, off, err)
	return s.err
}

// position is the current chunk's number and stream position, for errors.
func (s *cursor) position() (index, pos int64) { return s.index, s.start }

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
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	rd.parser = newParser(rd, opts.MaxPayload, false, false)
	return rd
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
		return n, r.fail(readErr("payload", err))
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

// frame reads n bytes of framing into the Reader's header buffer.
func (r *Reader) frame(n int) ([]byte, error) {
	b := r.hdr[:n]
	k, err := io.ReadFull(r.br, b)
	r.pos += int64(k)
	return b[:k], err
}

// readHeader reads a chunk header. skip is true for an ignorable chunk of
// unknown type, whose payload the caller must discard; r.cur is then set
// to it with r.remaining its length.
func (r *Reader) readHeader() (c *Chunk, skip bool, err error) {
	r.cur = nil
	h, err := r.parse(r.pos)
	if err != nil {
		return nil, false, err
	}
	return r.begin(h), !h.known, nil
}
