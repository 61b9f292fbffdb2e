package qpress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"strings"
)

// Errors wrapped by the Reader and DecompressDir; test for them with
// errors.Is. They arrive inside an *Error that says where.
var (
	// ErrCorrupt means the archive breaks the format: a bad magic or
	// marker, an inconsistent QuickLZ header, a block at the wrong file
	// offset, or compressed data that would read or write out of bounds.
	ErrCorrupt = errors.New("qpress: corrupt archive")
	// ErrChecksum means a block's Adler-32 differs from the one stored
	// before it.
	ErrChecksum = errors.New("qpress: checksum mismatch")
	// ErrTruncated means the archive ended before its end-of-file marker;
	// the error also wraps io.ErrUnexpectedEOF.
	ErrTruncated = errors.New("qpress: truncated archive")
	// ErrTooLarge means the chunk size in the archive header, a block, or
	// the stored file name exceeds the limits below; nothing is allocated
	// for it.
	ErrTooLarge = errors.New("qpress: too large")
	// ErrUnsupported means a valid qpress archive this package does not
	// read: directories, several files, or QuickLZ streaming mode.
	ErrUnsupported = errors.New("qpress: unsupported archive")
)

// Limits applied before allocating.
const (
	// MaxChunkSize is the largest chunk size accepted in an archive header;
	// each block holds at most that many decompressed bytes. mariadb-backup
	// writes --compress-chunk-size (default 64 KiB); the qpress tool
	// itself refuses more than 32 MiB.
	MaxChunkSize = 64 << 20
	// MaxNameLen is the longest stored file name accepted.
	MaxNameLen = 4096
	// qlzOverhead is how much QuickLZ may grow a block (QLZ_SIZE_OVERHEAD
	// in qpress.cpp, MY_QLZ_COMPRESS_OVERHEAD in ds_compress.cc).
	qlzOverhead = 400
)

// Markers of the qpress format (qpress.cpp, top comment).
var (
	archiveMagic = []byte("qpress10")
	blockMagic   = []byte("NEWBNEWB")
	endMagic     = []byte("ENDSENDS")
)

// Error reports a failure reading or writing one archive.
type Error struct {
	Path  string // the archive; empty for a Reader made by NewReader
	Block int    // number of the data block, from 0; -1 if not in a block
	Err   error  // what went wrong; wraps a sentinel such as ErrChecksum
}

// Error returns "qpress: PATH: block N: what", leaving out the parts that
// are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("qpress: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Block >= 0 {
		fmt.Fprintf(&b, "block %d: ", e.Block)
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "qpress: "))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Reader reads the one file stored in a qpress archive as written by
// mariadb-backup --compress, decompressing block by block and verifying
// each block's Adler-32 and position. Errors are sticky and are *Error
// values. A Reader is not safe for concurrent use.
type Reader struct {
	r         io.Reader
	path      string
	name      string
	chunkSize int
	block     int    // blocks read so far
	off       uint64 // decompressed bytes produced so far
	hdr       [20]byte
	packet    []byte
	out       []byte
	pending   []byte // part of out not yet returned by Read
	dec       *decoder
	err       error
}

// NewReader reads the archive header and the file header from r and
// returns a Reader for the file's content. It fails with an *Error if the
// archive does not start with a file entry. Wrap r in a bufio.Reader if it
// is unbuffered: the Reader makes small reads for headers.
func NewReader(r io.Reader) (*Reader, error) {
	return newReader(r, "")
}

func newReader(r io.Reader, path string) (*Reader, error) {
	qr := &Reader{r: r, path: path}
	if err := qr.readHeaders(); err != nil {
		return nil, qr.fail(-1, err)
	}
	return qr, nil
}

// Name returns the file name stored in the archive, without directory
// (mariadb-backup stores the base name of the original file).
func (r *Reader) Name() string { return r.name }

// ChunkSize returns the chunk size from the archive header: the most
// decompressed bytes a block may hold.
func (r *Reader) ChunkSize() int { return r.chunkSize }

func (r *Reader) fail(block int, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTruncated) {
		err = fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	r.err = &Error{Path: r.path, Block: block, Err: err}
	return r.err
}

// readFull is io.ReadFull that reports a clean end of input as
// io.ErrUnexpectedEOF too: the format has an explicit end marker.
func (r *Reader) readFull(b []byte, what string) error {
	if _, err := io.ReadFull(r.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

func (r *Reader) readHeaders() error {
	h := r.hdr[:16]
	if err := r.readFull(h, "archive header"); err != nil {
		return err
	}
	if !bytes.Equal(h[:8], archiveMagic) {
		return fmt.Errorf("%w: archive magic %q, want %q", ErrCorrupt, h[:8], archiveMagic)
	}
	cs := binary.LittleEndian.Uint64(h[8:])
	if cs == 0 || cs > MaxChunkSize {
		return fmt.Errorf("%w: chunk size %d (limit %d)", ErrTooLarge, cs, MaxChunkSize)
	}
	r.chunkSize = int(cs)

	h = r.hdr[:5]
	if err := r.readFull(h, "file header"); err != nil {
		return err
	}
	switch h[0] {
	case 'F':
	case 'D', 'U':
		return fmt.Errorf("%w: directory entry %q (only single-file archives are read)", ErrUnsupported, h[0])
	default:
		return fmt.Errorf("%w: entry type %q, want 'F'", ErrCorrupt, h[0])
	}
	n := binary.LittleEndian.Uint32(h[1:])
	if n == 0 {
		return fmt.Errorf("%w: empty file name", ErrCorrupt)
	}
	if n > MaxNameLen {
		return fmt.Errorf("%w: file name of %d bytes (limit %d)", ErrTooLarge, n, MaxNameLen)
	}
	name := make([]byte, n+1)
	if err := r.readFull(name, "file name"); err != nil {
		return err
	}
	if name[n] != 0 || bytes.IndexByte(name[:n], 0) >= 0 {
		return fmt.Errorf("%w: file name not NUL-terminated", ErrCorrupt)
	}
	r.name = string(name[:n])
	return nil
}

// Read reads decompressed content. At the end-of-file marker it checks
// that the archive holds nothing more and returns io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next reads one block into r.pending, or sets r.err to io.EOF at a valid
// end of archive.
func (r *Reader) next() error {
	b := r.block
	m := r.hdr[:8]
	if err := r.readFull(m, "block marker"); err != nil {
		return r.fail(b, err)
	}
	switch {
	case bytes.Equal(m, endMagic):
		// The trailer's "recovery information" is always 0 in practice.
		if err := r.readFull(m, "file trailer"); err != nil {
			return r.fail(-1, err)
		}
		var one [1]byte
		n, err := io.ReadFull(r.r, one[:])
		switch {
		case n == 1:
			return r.fail(-1, fmt.Errorf("%w: data after the end of the first file (entry %q)", ErrUnsupported, one[0]))
		case err != io.EOF:
			return r.fail(-1, fmt.Errorf("read after file trailer: %w", err))
		}
		r.err = io.EOF
		return io.EOF
	case !bytes.Equal(m, blockMagic):
		return r.fail(b, fmt.Errorf("%w: block marker %q", ErrCorrupt, m))
	}

	h := r.hdr[:13]
	if err := r.readFull(h, "block header"); err != nil {
		return r.fail(b, err)
	}
	if off := binary.LittleEndian.Uint64(h); off != r.off {
		return r.fail(b, fmt.Errorf("%w: block for file offset %d, want %d", ErrCorrupt, off, r.off))
	}
	sum := binary.LittleEndian.Uint32(h[8:])

	hl := qlzHeaderLen(h[12])
	if cap(r.packet) < qlzLongHdrLen {
		r.packet = make([]byte, 0, 4096)
	}
	pk := r.packet[:hl]
	pk[0] = h[12]
	if err := r.readFull(pk[1:], "QuickLZ header"); err != nil {
		return r.fail(b, err)
	}
	qh, err := parseQLZHeader(pk)
	if err != nil {
		return r.fail(b, err)
	}
	if qh.dataLen > r.chunkSize || qh.packetLen > r.chunkSize+qlzOverhead {
		return r.fail(b, fmt.Errorf("%w: block of %d bytes (%d compressed) for chunk size %d",
			ErrTooLarge, qh.dataLen, qh.packetLen, r.chunkSize))
	}
	if qh.dataLen == 0 {
		// mariadb-backup never writes empty blocks; qlz_compress refuses
		// an empty input.
		return r.fail(b, fmt.Errorf("%w: empty block", ErrCorrupt))
	}
	pk, err = r.readPacket(pk, qh.packetLen)
	if err != nil {
		return r.fail(b, err)
	}
	if got := adler32.Checksum(pk); got != sum {
		return r.fail(b, fmt.Errorf("%w: Adler-32 %#08x, header says %#08x", ErrChecksum, got, sum))
	}

	if cap(r.out) < qh.dataLen {
		// Only as large as this block needs: a block's claimed size is
		// bounded by the packet bytes that actually arrived
		// (parseQLZHeader), not just by the header's chunk size.
		r.out = make([]byte, qh.dataLen)
	}
	out := r.out[:qh.dataLen]
	if qh.compressed {
		if r.dec == nil {
			r.dec = new(decoder)
		}
		if err := r.dec.decode(qh.level, out, pk[hl:]); err != nil {
			return r.fail(b, err)
		}
	} else {
		copy(out, pk[hl:])
	}
	r.pending = out
	r.off += uint64(qh.dataLen)
	r.block++
	return nil
}

// readPacket reads the rest of a packet of n bytes whose first len(pk)
// bytes are in pk, a prefix of r.packet. The buffer grows at most to twice
// the bytes actually received, so a header announcing a large block costs
// no memory unless the data follows.
func (r *Reader) readPacket(pk []byte, n int) ([]byte, error) {
	for len(pk) < n {
		if len(pk) == cap(r.packet) {
			grown := make([]byte, len(pk), min(n, max(2*cap(r.packet), 64<<10)))
			copy(grown, pk)
			r.packet = grown
			pk = grown
		}
		next := r.packet[len(pk):min(n, cap(r.packet))]
		if err := r.readFull(next, "block data"); err != nil {
			return nil, err
		}
		pk = r.packet[:len(pk)+len(next)]
	}
	return pk, nil
}
