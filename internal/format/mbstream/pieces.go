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
// the clone carries (which the Sink checks against the bytes it reads, or
// the source against the Data it hands on), never hashed again, so a
// clone cannot change what the chunk's checksum promised.
type pieceReader struct {
	cursor
	src  PieceSource
	data []byte // data left of the current piece
	hdr  []byte // framing being assembled across pieces
	pos  int64  // stream bytes consumed
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
		c := r.begin(h)
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
				// Bytes the source has checked against cl.CRC, in a
				// buffer it may reuse at the next piece: the one copy,
				// into the payload buffer, where the file's writer
				// finds them. Their CRC is not computed again.
				if int64(len(cl.Data)) != cl.Len {
					return clones, r.fail(fmt.Errorf("%w: a reference of %d bytes carrying %d", ErrHeader, cl.Len, len(cl.Data)))
				}
				copy(dst[at:], cl.Data)
				cl.Data = dst[at : at+uint64(cl.Len)]
			}
			r.crc = crc32Combine(r.crc, cl.CRC, cl.Len)
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

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from crcA, the
// CRC of A, crcB, the CRC of B, and B's length: crcA times x^(8*lenB)
// modulo the polynomial, plus crcB, with the power built from x2nTable,
// as zlib's crc32_combine (since 1.2.12) does. It costs a few hundred
// nanoseconds whatever lenB, far less than hashing B again.
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return multModP(x2nModP(lenB, 3), crcA) ^ crcB
}

// crcPoly is the reflected IEEE polynomial; in this bit order x^0 is
// the top bit, 1<<31.
const crcPoly = 0xedb88320

// multModP returns a times b modulo the polynomial.
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break // no lower terms left
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nModP returns x^(n * 2^k) modulo the polynomial.
func x2nModP(n int64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
	}
	return p
}

// x2nTable holds x^(2^k) modulo the polynomial for k from 0 to 31; it
// repeats with period 32 (zlib's crc32.c). It is computed once and only
// read.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = multModP(p, p)
	}
	return t
}()

// ExtractPieces is ExtractTo for a stream delivered in pieces: data is
// written as ExtractTo writes it, and each clone is handed to the file's
// SinkFile.Clone at its place in the file (a DirSink reads, checks and
// writes it, or shares its blocks). Checks, limits, workers and errors are
// ExtractTo's; a clone outside a payload chunk's payload is ErrHeader.
// ExtractStats.Bytes counts cloned bytes too.
func ExtractPieces(ctx context.Context, src PieceSource, sink Sink, opts ExtractOptions) (ExtractStats, error) {
	return extract(ctx, newPieceReader(src, opts.MaxPayload), sink, opts)
}
