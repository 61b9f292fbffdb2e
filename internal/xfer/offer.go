package xfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strings"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// # Delta by offer (the control stream)
//
// A manifest must be complete before the donor can use it: the joiner
// hashes all of its old data first, and on a large or slow disk that takes
// longer than the donor may wait. Delta by offer needs no pass over the
// old data before the transfer. The donor offers each piece of a file as
// mariadb-backup produces it, by the hashes of its DeltaBlock-aligned
// blocks; the joiner reads its own blocks at the same path and offset (in
// each of its sources, such as an interrupted attempt's staging and the
// old datadir), and answers which it has; the donor then sends the blocks
// the joiner has as references to the same path and offset in that source
// and the others as data, on the frame streams, in the stream's order. A
// bounded window of offered bytes waits on the donor for the answers, so
// memory does not grow with the node, nothing on either side grows with
// the number of files, and the donor's mariadb-backup starts at once.
//
// Offers and answers travel on a control stream of their own (one
// connection both ways, beside the frame streams), as messages:
//
//	offset size field
//	0      1    type: 'S' start, 'H' have, 'O' offer, 'A' answer, 'E' end
//	1      4    body length N, at most maxControlBody
//	5      N    body
//	5+N    4    CRC-32C (Castagnoli) of type, length and body
//
// Bodies (integers big-endian):
//
//	'S' start   donor:  8 seed, 4 block size (DeltaBlock)
//	'H' have    joiner: 1 count, then per source 2 length, prefix bytes
//	'O' offer   donor:  8 id, 8 offset, 4 length, 2 path_len, path,
//	                    then 16 bytes of hash per block of the piece
//	'A' answer  joiner: 8 id, then one byte per block: 0 "send it",
//	                    k "source k (from 1) has it at the same place"
//	'E' end     donor:  empty; no more offers
//
// The joiner sends its have message first; the donor its start message.
// Offers and answers are numbered from 0 without gaps, and answered in
// order. A block is DeltaBlock bytes of the file at a multiple of
// DeltaBlock, or less at the piece's ends; a piece is at most MaxOfferLen
// bytes. The hash is manifest.Sum with the start's seed.

// OfferVersion is the first version in which the donor finds what the
// joiner has by offers rather than by its manifest: the donor opens one
// connection more than it sends frames on, the last (stream Streams-1),
// and carries the control stream on it, unencoded (no compression; TLS
// as every connection), instead of reading a manifest on stream 0. The
// frames are those of version 1.
const OfferVersion Version = 3

// DeltaBlock is the unit that delta by offer compares: an InnoDB page, at
// any node size.
const DeltaBlock = 16 << 10

// MaxOfferLen is the longest piece one offer covers.
const MaxOfferLen = 1 << 20

// maxSources is the most sources a joiner may name.
const maxSources = 8

// maxControlBody bounds a control message's body: an offer of
// MaxOfferLen bytes with the longest path.
const maxControlBody = 8 + 8 + 4 + 2 + MaxRefPath + MaxOfferLen/DeltaBlock*16 + 16

// Control message types.
const (
	ctlStart  = 'S'
	ctlHave   = 'H'
	ctlOffer  = 'O'
	ctlAnswer = 'A'
	ctlEnd    = 'E'
)

// ErrControl means a control message is malformed, out of order or
// inconsistent with the offer it answers.
var ErrControl = errors.New("xfer: invalid control message")

// offer is one offered piece of a file.
type offer struct {
	id     uint64
	path   string
	off    int64
	length int
	hashes []Hash
}

// blocksOf returns the number of DeltaBlock-aligned blocks that the
// length bytes at off of a file touch.
func blocksOf(off int64, length int) int {
	if length <= 0 {
		return 0
	}
	first := off / DeltaBlock
	last := (off + int64(length) - 1) / DeltaBlock
	return int(last - first + 1)
}

// blockSpans calls f with the start and end (within the piece) of each
// DeltaBlock-aligned block of the length bytes at off.
func blockSpans(off int64, length int, f func(i, start, end int)) {
	i, start := 0, 0
	for start < length {
		end := min(length, start+int(DeltaBlock-(off+int64(start))%DeltaBlock))
		f(i, start, end)
		i, start = i+1, end
	}
}

// control reads and writes control messages on one stream.
type control struct {
	r   *bufio.Reader
	w   *bufio.Writer
	buf []byte
}

func newControl(r io.Reader, w io.Writer) *control {
	c := &control{buf: make([]byte, 0, 4096)}
	if r != nil {
		c.r = bufio.NewReaderSize(r, 64<<10)
	}
	if w != nil {
		c.w = bufio.NewWriterSize(w, 64<<10)
	}
	return c
}

// send writes one message; flush sends what is buffered.
func (c *control) send(typ byte, body []byte) error {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(body)))
	crc := crc32.Update(crc32.Update(0, castagnoli, h[:]), castagnoli, body)
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], crc)
	for _, b := range [][]byte{h[:], body, t[:]} {
		if _, err := c.w.Write(b); err != nil {
			return fmt.Errorf("xfer: write control message: %w", err)
		}
	}
	return nil
}

func (c *control) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("xfer: write control message: %w", err)
	}
	return nil
}

// recv reads one message; its body is valid until the next recv.
func (c *control) recv() (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: control stream: %w", ErrTruncated, io.ErrUnexpectedEOF)
		}
		return 0, nil, fmt.Errorf("xfer: read control message: %w", err)
	}
	n := binary.BigEndian.Uint32(h[1:])
	switch h[0] {
	case ctlStart, ctlHave, ctlOffer, ctlAnswer, ctlEnd:
	default:
		return 0, nil, fmt.Errorf("%w: type %#02x", ErrControl, h[0])
	}
	if n > maxControlBody {
		return 0, nil, fmt.Errorf("%w: %c message of %d bytes, limit %d", ErrTooLarge, h[0], n, maxControlBody)
	}
	if cap(c.buf) < int(n)+4 {
		c.buf = make([]byte, int(n)+4)
	}
	b := c.buf[:int(n)+4]
	if _, err := io.ReadFull(c.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: control stream: %w", ErrTruncated, io.ErrUnexpectedEOF)
		}
		return 0, nil, fmt.Errorf("xfer: read control message: %w", err)
	}
	body, trailer := b[:n], b[n:]
	crc := crc32.Update(crc32.Update(0, castagnoli, h[:]), castagnoli, body)
	if crc != binary.BigEndian.Uint32(trailer) {
		return 0, nil, fmt.Errorf("%w: %c control message", ErrChecksum, h[0])
	}
	return h[0], body, nil
}

// expect reads one message of type typ.
func (c *control) expect(typ byte) ([]byte, error) {
	t, body, err := c.recv()
	if err != nil {
		return nil, err
	}
	if t != typ {
		return nil, fmt.Errorf("%w: %c message where %c was due", ErrControl, t, typ)
	}
	return body, nil
}

func encodeStart(seed uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, seed)
	return binary.BigEndian.AppendUint32(b, DeltaBlock)
}

func decodeStart(b []byte) (uint64, error) {
	if len(b) != 12 {
		return 0, fmt.Errorf("%w: start message of %d bytes", ErrControl, len(b))
	}
	if bs := binary.BigEndian.Uint32(b[8:]); bs != DeltaBlock {
		return 0, fmt.Errorf("%w: block size %d, this side compares %d", ErrControl, bs, DeltaBlock)
	}
	return binary.BigEndian.Uint64(b), nil
}

func encodeHave(prefixes []string) ([]byte, error) {
	if len(prefixes) > maxSources {
		return nil, fmt.Errorf("%w: %d sources, at most %d", ErrControl, len(prefixes), maxSources)
	}
	b := []byte{byte(len(prefixes))}
	for _, p := range prefixes {
		if !validPrefix(p) {
			return nil, fmt.Errorf("%w: source prefix %q", ErrControl, p)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b, nil
}

func decodeHave(b []byte) ([]string, error) {
	if len(b) < 1 || int(b[0]) > maxSources {
		return nil, fmt.Errorf("%w: have message", ErrControl)
	}
	n, b := int(b[0]), b[1:]
	out := make([]string, 0, n)
	for range n {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: have message cut short", ErrControl)
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, fmt.Errorf("%w: have message cut short", ErrControl)
		}
		p := string(b[2 : 2+l])
		if !validPrefix(p) {
			return nil, fmt.Errorf("%w: source prefix %q", ErrControl, p)
		}
		out, b = append(out, p), b[2+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the have message's sources", ErrControl, len(b))
	}
	return out, nil
}

// validPrefix reports whether p is a single clean path component a
// Reconstructor can mount.
func validPrefix(p string) bool {
	return p != "" && len(p) <= 64 && manifest.ValidPath(p) && !strings.Contains(p, "/")
}

func encodeOffer(dst []byte, o *offer) []byte {
	b := binary.BigEndian.AppendUint64(dst[:0], o.id)
	b = binary.BigEndian.AppendUint64(b, uint64(o.off))
	b = binary.BigEndian.AppendUint32(b, uint32(o.length))
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.path)))
	b = append(b, o.path...)
	for _, h := range o.hashes {
		b = append(b, h[:]...)
	}
	return b
}

// decodeOffer checks and decodes an offer; its hashes alias b.
func decodeOffer(b []byte, o *offer) error {
	const fixed = 8 + 8 + 4 + 2
	if len(b) < fixed {
		return fmt.Errorf("%w: offer of %d bytes", ErrControl, len(b))
	}
	o.id = binary.BigEndian.Uint64(b)
	off := binary.BigEndian.Uint64(b[8:])
	length := binary.BigEndian.Uint32(b[16:])
	pl := int(binary.BigEndian.Uint16(b[20:]))
	if off > math.MaxInt64-MaxOfferLen || length == 0 || length > MaxOfferLen {
		return fmt.Errorf("%w: offer of %d bytes at %d", ErrControl, length, off)
	}
	if len(b) < fixed+pl {
		return fmt.Errorf("%w: offer cut short", ErrControl)
	}
	o.path = string(b[fixed : fixed+pl])
	if !validRefPath(o.path) {
		return fmt.Errorf("%w: offer path %q", ErrControl, o.path)
	}
	o.off, o.length = int64(off), int(length)
	hb := b[fixed+pl:]
	n := blocksOf(o.off, o.length)
	if len(hb) != n*16 {
		return fmt.Errorf("%w: offer of %d blocks carries %d bytes of hashes", ErrControl, n, len(hb))
	}
	o.hashes = o.hashes[:0]
	for i := range n {
		o.hashes = append(o.hashes, Hash(hb[i*16:(i+1)*16]))
	}
	return nil
}

func encodeAnswer(dst []byte, id uint64, have []byte) []byte {
	b := binary.BigEndian.AppendUint64(dst[:0], id)
	return append(b, have...)
}

// decodeAnswer checks an answer against the offer it answers (id, blocks)
// and the number of sources; have aliases b.
func decodeAnswer(b []byte, id uint64, blocks, sources int) ([]byte, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: answer of %d bytes", ErrControl, len(b))
	}
	if got := binary.BigEndian.Uint64(b); got != id {
		return nil, fmt.Errorf("%w: answer to offer %d where %d was due", ErrControl, got, id)
	}
	have := b[8:]
	if len(have) != blocks {
		return nil, fmt.Errorf("%w: answer of %d blocks to an offer of %d", ErrControl, len(have), blocks)
	}
	for _, k := range have {
		if int(k) > sources {
			return nil, fmt.Errorf("%w: answer names source %d of %d", ErrControl, k, sources)
		}
	}
	return have, nil
}
