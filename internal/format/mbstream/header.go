package mbstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// framer supplies a chunk's framing to the header parser: the next n bytes
// of the stream, n at most sparseReadPiece or headerLen+MaxPathLen. The
// returned slice may be reused by the next call; on error it holds what
// arrived. The Reader reads into a fixed buffer; the Scanner appends to the
// Header it hands out.
type framer interface {
	frame(n int) ([]byte, error)
}

// header is a chunk's framing as parseHeader found it.
type header struct {
	path   string
	typ    ChunkType
	flags  byte
	known  bool   // payload, sparse or end-of-file chunk
	length uint64 // payload bytes, excluding a sparse map
	off    uint64 // payload offset in the file
	crc    uint32 // CRC-32 the header announces
	sparse []SparseRange
	mapCRC uint32 // CRC-32 of the sparse map's bytes, where the payload's CRC starts
}

// end is the offset in the file just past the chunk's data and holes.
func (h *header) end() uint64 { return fileEnd(h.off, h.length, h.sparse) }

// fileEnd is off plus the payload length plus all holes of a sparse map.
func fileEnd(off, length uint64, sparse []SparseRange) uint64 {
	end := off + length
	for _, s := range sparse {
		end += uint64(s.Skip)
	}
	return end
}

// parser reads and checks chunk framing for the Reader and the Scanner, so
// that both accept the same streams and fail with the same errors (a
// fuzzer found two hand-kept copies diverging). It also keeps each open
// file's expected next offset.
type parser struct {
	src framer
	max int64 // payload and sparse map limit
	// limitUnknown applies max to ignorable chunks of unknown type too:
	// the Scanner holds their payload in memory, the Reader skips it.
	limitUnknown bool
	// reuseMap decodes every sparse map into the same slice (the
	// Scanner's Segment is valid until the next call); the Reader hands
	// maps to callers that keep them, so it allocates each.
	reuseMap bool
	smap     []SparseRange

	index int64 // number of the current chunk; -1 before the first
	start int64 // stream position of the current chunk
	path  string

	next map[string]uint64 // expected offset of the next chunk, per open file
}

func newParser(src framer, max int64, limitUnknown, reuseMap bool) parser {
	return parser{src: src, max: max, limitUnknown: limitUnknown, reuseMap: reuseMap, index: -1, next: make(map[string]uint64)}
}

// fail returns a ChunkError about the current chunk.
func (p *parser) fail(path string, off uint64, err error) error {
	return &ChunkError{Index: p.index, Pos: p.start, Path: path, Offset: off, Err: err}
}

// parse reads the framing of the chunk that starts at stream position pos,
// up to its payload, and checks it: magic, path, type, limits, the sparse
// map, and for payload and sparse chunks the file's order, which it then
// advances past the chunk. An end-of-file chunk forgets its path. At a clean
// end between chunks parse returns io.EOF; other errors are *ChunkError
// values. An ignorable chunk of unknown type comes back with known false,
// its payload not counted in any file.
func (p *parser) parse(pos int64) (header, error) {
	p.index++
	p.start = pos
	var h header
	b, err := p.src.frame(headerLen)
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) == 0 {
			return h, io.EOF // clean end between chunks
		}
		return h, p.fail("", 0, readErr("header", err))
	}
	if string(b[:len(Magic)]) != Magic {
		return h, p.fail("", 0, fmt.Errorf("%w: magic %q, want %q", ErrHeader, b[:len(Magic)], Magic))
	}
	h.flags, h.typ = b[8], ChunkType(b[9])
	plen := binary.LittleEndian.Uint32(b[10:14])
	if plen > MaxPathLen {
		return h, p.fail("", 0, fmt.Errorf("%w: path length %d, limit %d", ErrHeader, plen, MaxPathLen))
	}
	pb, err := p.src.frame(int(plen))
	if err != nil {
		return h, p.fail("", 0, readErr("path", err))
	}
	if string(pb) != p.path { // most chunks repeat the path of the one before
		p.path = string(pb)
	}
	h.path = p.path
	h.known = h.typ == ChunkPayload || h.typ == ChunkSparse || h.typ == ChunkEOF
	if h.known {
		// A path no writer can produce: the stock tools pass paths as C
		// strings, so a NUL would silently cut the name short.
		if plen == 0 {
			return h, p.fail("", 0, fmt.Errorf("%w: empty path", ErrHeader))
		}
		if i := bytes.IndexByte(pb, 0); i >= 0 {
			return h, p.fail(h.path, 0, fmt.Errorf("%w: path has a NUL byte at byte %d", ErrHeader, i))
		}
	}
	if !h.known && h.flags&FlagIgnorable == 0 {
		return h, p.fail(h.path, 0, fmt.Errorf("%w: unknown chunk type %q (flags %#02x)", ErrHeader, byte(h.typ), h.flags))
	}
	if h.typ == ChunkEOF {
		delete(p.next, h.path)
		return h, nil
	}

	// Sparse map length, then payload length, offset and checksum.
	var nmap uint32
	if h.typ == ChunkSparse {
		b, err := p.src.frame(4)
		if err != nil {
			return h, p.fail(h.path, 0, readErr("sparse map length", err))
		}
		nmap = binary.LittleEndian.Uint32(b)
	}
	b, err = p.src.frame(payloadHeaderLen)
	if err != nil {
		return h, p.fail(h.path, 0, readErr("payload header", err))
	}
	h.length = binary.LittleEndian.Uint64(b[0:8])
	h.off = binary.LittleEndian.Uint64(b[8:16])
	h.crc = binary.LittleEndian.Uint32(b[16:20])
	if (h.known || p.limitUnknown) && h.length > uint64(p.max) {
		return h, p.fail(h.path, h.off, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, h.length, p.max))
	}
	if !h.known {
		// Both stock readers frame an ignorable chunk like a payload chunk
		// (SPEC §B.2); we drop it. Its sparse map, if any, is not ours to
		// parse, and it is not counted in any file's offset.
		return h, nil
	}
	if h.typ == ChunkSparse {
		if err := p.parseSparse(&h, nmap); err != nil {
			return h, err
		}
	}
	if want := p.next[h.path]; h.off != want {
		return h, p.fail(h.path, h.off, fmt.Errorf("%w: offset %d, want %d", ErrOrder, h.off, want))
	}
	end := h.end()
	if end < h.off || end > math.MaxInt64 {
		return h, p.fail(h.path, h.off, fmt.Errorf("%w: file would end past 2^63 bytes", ErrHeader))
	}
	p.next[h.path] = end
	return h, nil
}

// sparseReadPiece is how much of a sparse map the parser reads, and
// checks, at a time: a whole number of entries that fits the Reader's
// header buffer. A bad entry in the pieces that arrived is reported before
// a truncation after them.
const sparseReadPiece = (headerLen + MaxPathLen + 4 + payloadHeaderLen) / 8 * 8

// parseSparse reads the sparse map of h, nmap entries, into h.sparse and
// its CRC into h.mapCRC. It allocates only the decoded map, 8 bytes an
// entry, after checking nmap against MaxSparseEntries, the limit and the
// payload length.
func (p *parser) parseSparse(h *header, nmap uint32) error {
	switch {
	case nmap > MaxSparseEntries:
		return p.fail(h.path, h.off, fmt.Errorf("%w: sparse map of %d entries, limit %d", ErrTooLarge, nmap, MaxSparseEntries))
	case uint64(nmap)*8 > uint64(p.max):
		return p.fail(h.path, h.off, fmt.Errorf("%w: sparse map of %d entries, limit %d bytes", ErrTooLarge, nmap, p.max))
	case uint64(nmap) > h.length+1:
		// Every entry but the last carries at least one payload byte.
		return p.fail(h.path, h.off, fmt.Errorf("%w: sparse map of %d entries for %d payload bytes", ErrHeader, nmap, h.length))
	}
	// The Scanner's map grows as its bytes arrive, like its buffers; the
	// Reader's is allocated whole, its size bounded above.
	var sm []SparseRange
	if p.reuseMap {
		sm = p.smap[:0]
	} else {
		sm = make([]SparseRange, 0, nmap)
	}
	var crc uint32
	var sum uint64
	for i := 0; i < int(nmap); {
		m, err := p.src.frame(min(sparseReadPiece, 8*(int(nmap)-i)))
		if err != nil {
			return p.fail(h.path, h.off, readErr("sparse map", err))
		}
		crc = crc32.Update(crc, crc32.IEEETable, m)
		for ; len(m) > 0; m, i = m[8:], i+1 {
			s := SparseRange{
				Skip: binary.LittleEndian.Uint32(m),
				Len:  binary.LittleEndian.Uint32(m[4:]),
			}
			if s.Len == 0 && i != int(nmap)-1 {
				return p.fail(h.path, h.off, fmt.Errorf("%w: sparse map entry %d of %d has no data", ErrHeader, i, nmap))
			}
			sm = append(sm, s)
			sum += uint64(s.Len)
		}
	}
	if p.reuseMap {
		p.smap = sm
	}
	h.sparse, h.mapCRC = sm, crc
	if sum != h.length {
		return p.fail(h.path, h.off, fmt.Errorf("%w: sparse map covers %d bytes, payload has %d", ErrHeader, sum, h.length))
	}
	return nil
}

// readErr turns an end of input inside a chunk into ErrTruncated.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: end of input in %s: %w", ErrTruncated, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
