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
	br   *bufio.Reader
	max  int64
	skip bool  // ScanOptions.SkipChecksum
	err  error // sticky
	seg  Segment
	hdr  []byte        // Header of the current segment, reused
	buf  []byte        // Payload of the current segment, reused
	smap []SparseRange // Map of the current segment, reused

	index int64 // number of the current chunk; -1 before the first
	pos   int64 // stream bytes consumed
	start int64 // stream position of the current chunk

	next map[string]uint64 // expected offset of the next chunk, per open file
}

// NewScanner returns a Scanner that reads a stream from r.
func NewScanner(r io.Reader, opts ScanOptions) *Scanner {
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	opts.MaxPayload = min(opts.MaxPayload, math.MaxInt) // lengths become ints
	return &Scanner{
		br:    bufio.NewReaderSize(r, 64<<10),
		max:   opts.MaxPayload,
		skip:  opts.SkipChecksum,
		hdr:   make([]byte, 0, headerLen+MaxPathLen+4+payloadHeaderLen),
		index: -1,
		next:  make(map[string]uint64),
	}
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

// fail returns a ChunkError about the current chunk.
func (s *Scanner) fail(path string, off uint64, err error) error {
	return &ChunkError{Index: s.index, Pos: s.start, Path: path, Offset: off, Err: err}
}

// readHdr appends n bytes of the stream to s.hdr, growing it as the bytes
// arrive.
func (s *Scanner) readHdr(n int) error {
	var err error
	s.hdr, err = s.readAppend(s.hdr, n)
	return err
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

// scan reads one chunk into s.seg, checking it as Reader.readHeader,
// Reader.readSparse and Reader.verify do.
func (s *Scanner) scan() error {
	s.index++
	s.start = s.pos
	s.hdr = s.hdr[:0]
	if err := s.readHdr(headerLen); err != nil {
		if errors.Is(err, io.EOF) && len(s.hdr) == 0 {
			return io.EOF // clean end between chunks
		}
		return s.fail("", 0, readErr("header", err))
	}
	h := s.hdr
	if string(h[:len(Magic)]) != Magic {
		return s.fail("", 0, fmt.Errorf("%w: magic %q, want %q", ErrHeader, h[:len(Magic)], Magic))
	}
	flags, typ := h[8], ChunkType(h[9])
	plen := binary.LittleEndian.Uint32(h[10:14])
	if plen > MaxPathLen {
		return s.fail("", 0, fmt.Errorf("%w: path length %d, limit %d", ErrHeader, plen, MaxPathLen))
	}
	if err := s.readHdr(int(plen)); err != nil {
		return s.fail("", 0, readErr("path", err))
	}
	pb := s.hdr[headerLen:]
	seg := &s.seg
	if string(pb) != seg.Path { // most chunks repeat the path of the one before
		seg.Path = string(pb)
	}
	path := seg.Path
	seg.Type, seg.Flags, seg.Offset, seg.Sparse, seg.Map, seg.Payload = typ, flags, 0, typ == ChunkSparse, nil, nil
	known := typ == ChunkPayload || typ == ChunkSparse || typ == ChunkEOF
	if known {
		if plen == 0 {
			return s.fail("", 0, fmt.Errorf("%w: empty path", ErrHeader))
		}
		if i := bytes.IndexByte(pb, 0); i >= 0 {
			return s.fail(path, 0, fmt.Errorf("%w: path has a NUL byte at byte %d", ErrHeader, i))
		}
	}
	if !known && flags&FlagIgnorable == 0 {
		return s.fail(path, 0, fmt.Errorf("%w: unknown chunk type %q (flags %#02x)", ErrHeader, byte(typ), flags))
	}
	if typ == ChunkEOF {
		delete(s.next, path)
		seg.Header = s.hdr
		return nil
	}

	// Sparse map length, then payload length, offset and checksum.
	var nmap uint32
	if typ == ChunkSparse {
		if err := s.readHdr(4); err != nil {
			return s.fail(path, 0, readErr("sparse map length", err))
		}
		nmap = binary.LittleEndian.Uint32(s.hdr[len(s.hdr)-4:])
	}
	if err := s.readHdr(payloadHeaderLen); err != nil {
		return s.fail(path, 0, readErr("payload header", err))
	}
	b := s.hdr[len(s.hdr)-payloadHeaderLen:]
	length := binary.LittleEndian.Uint64(b[0:8])
	off := binary.LittleEndian.Uint64(b[8:16])
	wantCRC := binary.LittleEndian.Uint32(b[16:20])
	if length > uint64(s.max) {
		return s.fail(path, off, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, length, s.max))
	}
	var crc uint32
	if !known {
		// Framed like a payload chunk (SPEC §B.2), not checked, not
		// counted in any file's offset: the Reader skips these.
		if err := s.readPayload(int(length)); err != nil {
			return s.fail(path, off, readErr("payload", err))
		}
		seg.Header = s.hdr
		return nil
	}
	if typ == ChunkSparse {
		var err error
		if crc, err = s.readSparse(path, off, length, nmap); err != nil {
			return err
		}
	}
	want := s.next[path]
	if off != want {
		return s.fail(path, off, fmt.Errorf("%w: offset %d, want %d", ErrOrder, off, want))
	}
	end := off + length
	for _, r := range seg.Map {
		end += uint64(r.Skip)
	}
	if end < off || end > math.MaxInt64 {
		return s.fail(path, off, fmt.Errorf("%w: file would end past 2^63 bytes", ErrHeader))
	}
	s.next[path] = end
	if err := s.readPayload(int(length)); err != nil {
		return s.fail(path, off, readErr("payload", err))
	}
	if s.skip {
		seg.Header, seg.Offset = s.hdr, int64(off)
		return nil
	}
	if crc = crc32.Update(crc, crc32.IEEETable, seg.Payload); crc != wantCRC {
		return s.fail(path, off, fmt.Errorf("%w: computed %#08x, header has %#08x", ErrChecksum, crc, wantCRC))
	}
	seg.Header, seg.Offset = s.hdr, int64(off)
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

// readSparse reads the sparse map of a chunk with length payload bytes,
// nmap entries, into s.hdr and seg.Map, and returns the CRC of its bytes.
// It checks the map as Reader.readSparse does; the Reader's checks on nmap
// bound the map to MaxSparseEntries entries and the payload limit.
func (s *Scanner) readSparse(path string, off, length uint64, nmap uint32) (uint32, error) {
	switch {
	case nmap > MaxSparseEntries:
		return 0, s.fail(path, off, fmt.Errorf("%w: sparse map of %d entries, limit %d", ErrTooLarge, nmap, MaxSparseEntries))
	case uint64(nmap)*8 > uint64(s.max):
		return 0, s.fail(path, off, fmt.Errorf("%w: sparse map of %d entries, limit %d bytes", ErrTooLarge, nmap, s.max))
	case uint64(nmap) > length+1:
		// Every entry but the last carries at least one payload byte.
		return 0, s.fail(path, off, fmt.Errorf("%w: sparse map of %d entries for %d payload bytes", ErrHeader, nmap, length))
	}
	n := len(s.hdr)
	// On a truncated map, the pieces the Reader would have read whole are
	// checked first (its order): a bad entry in them is the error then.
	rerr := s.readHdr(8 * int(nmap))
	m := s.hdr[n:]
	if rerr != nil {
		m = m[:len(m)/sparseReadPiece*sparseReadPiece]
	}
	sm := s.smap[:0]
	var sum uint64
	for i := 0; len(m) > 0; m, i = m[8:], i+1 {
		r := SparseRange{
			Skip: binary.LittleEndian.Uint32(m),
			Len:  binary.LittleEndian.Uint32(m[4:]),
		}
		if r.Len == 0 && i != int(nmap)-1 {
			return 0, s.fail(path, off, fmt.Errorf("%w: sparse map entry %d of %d has no data", ErrHeader, i, nmap))
		}
		sm = append(sm, r)
		sum += uint64(r.Len)
	}
	if rerr != nil {
		return 0, s.fail(path, off, readErr("sparse map", rerr))
	}
	s.smap = sm
	s.seg.Map = sm
	if sum != length {
		return 0, s.fail(path, off, fmt.Errorf("%w: sparse map covers %d bytes, payload has %d", ErrHeader, sum, length))
	}
	return crc32.ChecksumIEEE(s.hdr[n:]), nil
}
