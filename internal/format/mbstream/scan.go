package mbstream

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// ScanOptions tunes a Scanner.
type ScanOptions struct {
	// MaxPayload is the largest payload (or sparse map) of a chunk, in
	// bytes, that the Scanner accepts; larger chunks fail with ErrTooLarge
	// before anything is allocated for them. Unlike the Reader, the
	// Scanner holds the payload of an ignorable chunk of unknown type in
	// memory too, so the limit applies to those as well. 0 means
	// DefaultMaxPayload.
	MaxPayload int64
	// SkipChecksum leaves the payloads' CRC-32 unchecked, for a forwarder
	// whose receiver checks every chunk itself (the v2 donor: the joiner's
	// extractor checks each chunk, references included).
	SkipChecksum bool
}

// Segment is one chunk as Scanner.Next returns it: its exact bytes, split
// into the framing before the payload and the payload, and the fields parsed
// from the framing. Writing Header then Payload for every segment reproduces
// the scanned stream byte for byte.
type Segment struct {
	// Header is the chunk's bytes before its payload: magic through
	// checksum, and for a sparse chunk its map. An end-of-file chunk is
	// all header. It holds the CRC-32 of the payload, so a receiver that
	// rebuilds the payload from elsewhere can check what it rebuilt.
	Header []byte
	Type   ChunkType // ChunkPayload, ChunkSparse, ChunkEOF, or an ignorable unknown type
	Flags  byte      // flag bits from the header
	Path   string    // file path as written in the stream, not checked for safety
	// Offset is the offset in the file of the payload's first byte for a
	// payload chunk, and the stream's payload offset (that of the first
	// hole) for a sparse chunk; always in [0, 2^63). It is 0 for
	// end-of-file chunks and for ignorable chunks of unknown type.
	Offset int64
	Sparse bool // Type == ChunkSparse
	// Map is the decoded sparse map of a sparse chunk (see
	// Chunk.Sparse), nil for other chunks. Its bytes are also in Header.
	Map []SparseRange
	// Payload is the chunk's payload, without the sparse map; its CRC-32
	// has been checked for payload and sparse chunks. It is nil for
	// end-of-file chunks and may be empty (not nil) for the others.
	Payload []byte
}

// Scanner splits an mbstream into its chunks without interpreting file
// contents, for programs that forward a stream chunk by chunk and may
// replace or inspect payloads on the way.
//
// It checks what the Reader checks, in the same order and with the same
// errors: framing, limits, the CRC-32 of every payload and sparse chunk,
// and the order of each file's chunks. Unlike the Reader, it returns
// ignorable chunks of unknown type instead of skipping them, so that
// nothing of the stream is lost.
//
// Errors are sticky. The Scanner buffers its input, so it may read past
// the last chunk it returned. It keeps one payload buffer, as large as the
// largest payload seen so far, and grows it only as payload bytes arrive,
// so that a header announcing more than the stream holds costs no more
// than the bytes that came; the same goes for its header buffer, which
// holds sparse maps of up to 1 MiB. Beyond that it keeps the path and next
// offset of every file whose end-of-file chunk has not come yet, as the
// Reader does. A Scanner is not safe for concurrent use.
type Scanner struct {
	parser
	br   *bufio.Reader
	skip bool  // ScanOptions.SkipChecksum
	err  error // sticky
	seg  Segment
	hdr  []byte // Header of the current segment, reused
	buf  []byte // Payload of the current segment, reused

	pos int64 // stream bytes consumed
}

// NewScanner returns a Scanner that reads a stream from r.
func NewScanner(r io.Reader, opts ScanOptions) *Scanner {
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	opts.MaxPayload = min(opts.MaxPayload, math.MaxInt) // lengths become ints
	s := &Scanner{
		br:   bufio.NewReaderSize(r, 64<<10),
		skip: opts.SkipChecksum,
		hdr:  make([]byte, 0, headerLen+MaxPathLen+4+payloadHeaderLen),
	}
	s.parser = newParser(s, opts.MaxPayload, true, true)
	return s
}

// Next reads the next chunk whole and returns it. The Segment and its
// slices stay valid until the next call of Next, which reuses them. At the
// end of the stream, which must fall on a chunk boundary, Next returns
// io.EOF. Other errors are *ChunkError values wrapping ErrHeader,
// ErrChecksum, ErrTooLarge, ErrTruncated (with io.ErrUnexpectedEOF),
// ErrOrder, or the error of the underlying reader.
func (s *Scanner) Next() (*Segment, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.scan(); err != nil {
		s.err = err
		return nil, err
	}
	return &s.seg, nil
}

// frame appends n bytes of the stream to s.hdr, growing it as the bytes
// arrive, and returns them.
func (s *Scanner) frame(n int) ([]byte, error) {
	start := len(s.hdr)
	var err error
	s.hdr, err = s.readAppend(s.hdr, n)
	return s.hdr[start:], err
}

// readAppend appends n bytes of the stream to b and returns it. When b
// lacks room, it grows b at most twofold ahead of the bytes already read,
// so that memory follows the input rather than a length field.
func (s *Scanner) readAppend(b []byte, n int) ([]byte, error) {
	want := len(b) + n
	for len(b) < want {
		if len(b) == cap(b) {
			// Twice what has arrived, or 64 KiB: never more than the
			// bytes read justify, whatever the header announced.
			nb := make([]byte, len(b), min(want, max(2*len(b), 64<<10)))
			copy(nb, b)
			b = nb
		}
		end := min(want, cap(b))
		k, err := io.ReadFull(s.br, b[len(b):end])
		s.pos += int64(k)
		b = b[:len(b)+k]
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// scan reads one chunk into s.seg; the parser checks its framing as the
// Reader's, and scan the payload's CRC as Reader.verify.
func (s *Scanner) scan() error {
	s.hdr = s.hdr[:0]
	h, err := s.parse(s.pos)
	if err != nil {
		return err
	}
	seg := &s.seg
	seg.Type, seg.Flags, seg.Path, seg.Offset, seg.Sparse, seg.Map, seg.Payload = h.typ, h.flags, h.path, 0, h.typ == ChunkSparse, h.sparse, nil
	seg.Header = s.hdr
	if h.typ == ChunkEOF {
		return nil
	}
	// Framed like a payload chunk (SPEC §B.2), an ignorable chunk of
	// unknown type is read but not checked.
	if err := s.readPayload(int(h.length)); err != nil {
		return s.fail(h.path, h.off, readErr("payload", err))
	}
	if !h.known {
		return nil
	}
	seg.Offset = int64(h.off)
	if s.skip {
		return nil
	}
	if crc := crc32.Update(h.mapCRC, crc32.IEEETable, seg.Payload); crc != h.crc {
		return s.fail(h.path, h.off, fmt.Errorf("%w: computed %#08x, header has %#08x", ErrChecksum, crc, h.crc))
	}
	return nil
}

// readPayload reads n payload bytes into s.buf and sets seg.Payload.
func (s *Scanner) readPayload(n int) error {
	if s.buf == nil {
		s.buf = []byte{} // an empty payload is not nil
	}
	var err error
	s.buf, err = s.readAppend(s.buf[:0], n)
	s.seg.Payload = s.buf
	return err
}
