package mbstream

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// PieceSource is a stream delivered in pieces, some of them standing for
// payload bytes the receiver has already (transfer v2's references to the
// joiner's own files): NextPiece returns the next data bytes (valid until
// the next call), or a Clone whose Len payload bytes are to be taken from
// a reference file (Clone.Off is not set: it is where they fall in the
// current chunk), or io.EOF at the end. A Clone may appear only inside a
// chunk's payload, never in its framing, and never spans two chunks.
type PieceSource interface {
	NextPiece() (data []byte, clone *Clone, err error)
}

// pieceReader reads chunks from a PieceSource: framing through the shared
// header parser, payloads as data or clones. The chunk's CRC-32 is checked
// at the end of its payload, a clone's part of it combined from the CRC
// the clone carries (and which the Sink checks against the bytes it
// reads), so a clone cannot change what the chunk's checksum promised.
type pieceReader struct {
	parser
	src  PieceSource
	data []byte // data left of the current piece
	hdr  []byte // framing being assembled across pieces
	pos  int64  // stream bytes consumed
	err  error

	cur       *Chunk
	remaining uint64
	crc       uint32
	wantCRC   uint32
}

func newPieceReader(src PieceSource, maxPayload int64) *pieceReader {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	r := &pieceReader{src: src}
	r.parser = newParser(r, maxPayload, false, false)
	return r
}

// more makes r.data non-empty: io.EOF at the end of the source, errClone
// if the next piece is a clone (it is then in *pending).
func (r *pieceReader) more(pending **Clone) error {
	for len(r.data) == 0 {
		if *pending != nil {
			return errClone
		}
		d, c, err := r.src.NextPiece()
		if err != nil {
			return err
		}
		if c != nil {
			*pending = c
			return errClone
		}
		r.data = d
	}
	return nil
}

var errClone = errors.New("mbstream: a clone where bytes are due")

// frame gives the parser n bytes of framing, which must all be data.
func (r *pieceReader) frame(n int) ([]byte, error) {
	r.hdr = r.hdr[:0]
	for len(r.hdr) < n {
		var c *Clone
		if err := r.more(&c); err != nil {
			if errors.Is(err, errClone) {
				return r.hdr, fmt.Errorf("%w: a reference inside a chunk's framing", ErrHeader)
			}
			if errors.Is(err, io.EOF) && len(r.hdr) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return r.hdr, err
		}
		k := min(n-len(r.hdr), len(r.data))
		r.hdr = append(r.hdr, r.data[:k]...)
		r.data = r.data[k:]
		r.pos += int64(k)
	}
	return r.hdr, nil
}

// next reads the next chunk's header, skipping ignorable chunks of unknown
// type; io.EOF at a clean end.
func (r *pieceReader) next() (*Chunk, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.cur != nil && r.remaining > 0 {
		return nil, r.fail(fmt.Errorf("internal error: chunk payload not read"))
	}
	for {
		h, err := r.parse(r.pos)
		if err != nil {
			r.err = err
			return nil, err
		}
		c := &Chunk{Path: h.path, Type: h.typ, Flags: h.flags, Length: h.length, Offset: h.off, Sparse: h.sparse}
		r.cur, r.remaining, r.crc, r.wantCRC = c, h.length, h.mapCRC, h.crc
		if h.typ == ChunkEOF {
			r.remaining = 0
		}
		if h.known {
			if r.remaining == 0 {
				if err := r.verify(); err != nil {
					return nil, err
				}
			}
			return c, nil
		}
		// An ignorable chunk of unknown type: drop its payload (data
		// only: a clone cannot stand for bytes nobody keeps).
		if _, err := r.payload(nil, nil); err != nil {
			return nil, err
		}
	}
}

// payload reads the current chunk's payload: data into dst (len(dst) is
// the payload length, or dst is nil to drop it), and for each clone a
// Clone with Off set to its offset within the payload, returned in order.
// Sparse chunks may not contain clones.
func (r *pieceReader) payload(dst []byte, clones []Clone) ([]Clone, error) {
	c := r.cur
	at := uint64(0)
	for r.remaining > 0 {
		var pc *Clone
		err := r.more(&pc)
		switch {
		case errors.Is(err, errClone):
			if dst == nil || c.Type != ChunkPayload {
				return clones, r.fail(fmt.Errorf("%w: a reference in a chunk that cannot hold one", ErrHeader))
			}
			if pc.Len <= 0 || uint64(pc.Len) > r.remaining {
				return clones, r.fail(fmt.Errorf("%w: a reference of %d bytes where %d payload bytes are left", ErrHeader, pc.Len, r.remaining))
			}
			cl := *pc
			cl.Off = int64(at)
			if cl.Data != nil {
				// Checked bytes the source may reuse: into the payload
				// buffer, where the file's writer finds them.
				if int64(len(cl.Data)) != cl.Len {
					return clones, r.fail(fmt.Errorf("%w: a reference of %d bytes carrying %d", ErrHeader, cl.Len, len(cl.Data)))
				}
				copy(dst[at:], cl.Data)
				r.crc = crc32.Update(r.crc, crc32.IEEETable, cl.Data)
				cl.Data = dst[at : at+uint64(cl.Len)]
			} else {
				r.crc = crc32Combine(r.crc, cl.CRC, cl.Len)
			}
			clones = append(clones, cl)
			at += uint64(cl.Len)
			r.remaining -= uint64(cl.Len)
			r.pos += cl.Len
			continue
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
			fallthrough
		case err != nil:
			return clones, r.fail(readErr("payload", err))
		}
		k := int(min(uint64(len(r.data)), r.remaining))
		if dst != nil {
			copy(dst[at:], r.data[:k])
		}
		r.crc = crc32.Update(r.crc, crc32.IEEETable, r.data[:k])
		r.data = r.data[k:]
		at += uint64(k)
		r.remaining -= uint64(k)
		r.pos += int64(k)
	}
	return clones, r.verify()
}

func (r *pieceReader) verify() error {
	c := r.cur
	if c == nil || (c.Type != ChunkPayload && c.Type != ChunkSparse) {
		return nil
	}
	if r.crc != r.wantCRC {
		return r.fail(fmt.Errorf("%w: computed %#08x, header has %#08x", ErrChecksum, r.crc, r.wantCRC))
	}
	return nil
}

func (r *pieceReader) position() (index, pos int64) { return r.index, r.start }

func (r *pieceReader) fail(err error) error {
	var path string
	var off uint64
	if r.cur != nil {
		path, off = r.cur.Path, r.cur.Offset
	}
	r.err = r.parser.fail(path, off, err)
	return r.err
}

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from crcA, the
// CRC of A, crcB, the CRC of B, and B's length: the operator on
// GF(2) that appends lenB zero bytes to A's CRC is applied by repeated
// squaring of the one-zero-bit operator, as zlib's crc32_combine does.
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [32]uint32
	odd[0] = 0xedb88320 // the reflected IEEE polynomial: one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // one zero byte, then 4, 16, ...
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// ExtractPieces is ExtractTo for a stream delivered in pieces: data is
// written as ExtractTo writes it, and each clone is handed to the file's
// SinkFile.Clone at its place in the file (a DirSink reads, checks and
// writes it, or shares its blocks). Checks, limits, workers and errors are
// ExtractTo's; a clone outside a payload chunk's payload is ErrHeader.
// ExtractStats.Bytes counts cloned bytes too.
func ExtractPieces(ctx context.Context, src PieceSource, sink Sink, opts ExtractOptions) (ExtractStats, error) {
	return extract(ctx, newPieceReader(src, opts.MaxPayload), sink, opts)
}
