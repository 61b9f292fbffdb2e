package manifest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

const (
	magic     = "XFMF"
	endMagic  = "XFME"
	version   = 1
	headerLen = 4 + 2 + 2 + 4 + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode writes m to w in the format the package documents.
func (m *Manifest) Encode(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	h := make([]byte, 0, headerLen)
	h = append(h, magic...)
	h = binary.BigEndian.AppendUint16(h, version)
	h = binary.BigEndian.AppendUint16(h, 0)
	h = binary.BigEndian.AppendUint32(h, uint32(m.blockSize))
	h = binary.BigEndian.AppendUint64(h, m.seed)
	h = binary.BigEndian.AppendUint32(h, uint32(len(m.files)))
	if _, err := out.Write(h); err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	for _, f := range m.files {
		h = h[:0]
		h = binary.BigEndian.AppendUint16(h, uint16(len(f.Path)))
		h = append(h, f.Path...)
		h = binary.BigEndian.AppendUint64(h, uint64(f.Size))
		if _, err := out.Write(h); err != nil {
			return fmt.Errorf("manifest: encode: %w", err)
		}
		for _, x := range m.hashes[f.first : f.first+blocksOf(f.Size, m.blockSize)] {
			if _, err := out.Write(x[:]); err != nil {
				return fmt.Errorf("manifest: encode: %w", err)
			}
		}
	}
	h = append(h[:0], endMagic...)
	if _, err := out.Write(h); err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	h = binary.BigEndian.AppendUint32(h[:0], crc.Sum32())
	if _, err := bw.Write(h); err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	return nil
}

// DecodeOptions bounds what Decode accepts.
type DecodeOptions struct {
	// MaxBlocks is the most blocks accepted on the wire; 0 means
	// DefaultMaxBlocks. A manifest with more fails (ErrTooLarge): it
	// stops a manifest that never ends.
	MaxBlocks int
	// MaxFiles is the most files accepted on the wire; 0 means
	// DefaultMaxFiles. A manifest with more fails (ErrTooLarge).
	MaxFiles int
	// MaxMemory is the most bytes Decode allocates for the manifest and
	// its lookup index, counted before allocating (paths, file entries,
	// hashes with the arrays outgrown on the way, index); 0 means
	// DefaultMaxMemory. What does not fit is read and dropped, not an
	// error: the blocks of a file that do not fit are left out, and so are
	// the files after it (Manifest.Warning says how much).
	MaxMemory int64
}

// Default limits of Decode: 4 Mi blocks (4 TiB at 1 MiB) and a million
// files on the wire, and 64 MiB of memory: all of a manifest of up to
// about 1.8 TiB of reference data at 1 MiB blocks (20 bytes a block
// kept, up to twice 16 while the hash array grows), what fits of a larger
// one.
const (
	DefaultMaxBlocks = 4 << 20
	DefaultMaxFiles  = 1 << 20
	DefaultMaxMemory = 64 << 20
)

// What Decode counts against DecodeOptions.MaxMemory besides the hashes
// (16 bytes each) and their index entries.
const (
	// fileCost is a File entry (path header, size, first block).
	fileCost = 32
	// pathSlack covers the rounding of a path's allocation to its size
	// class: at most 1/8 of it, plus 16 bytes for the smallest classes.
	pathSlack = 16
	// shortCost is an entry of the index of blocks shorter than the
	// block size (the last of a file).
	shortCost = 8
	// hashCost and indexCost are a block's hash and its entry in the
	// index.
	hashCost  = 16
	indexCost = 4
)

// dropped counts what Decode read but left out of a manifest.
type dropped struct {
	files, blocks int
	bytes         int64
	limit         int64
}

func (d *dropped) add(files, blocks int, bytes int64) {
	d.files += files
	d.blocks += blocks
	d.bytes += bytes
}

// budget counts bytes against a limit.
type budget struct{ left int64 }

// take spends n bytes if they are left.
func (b *budget) take(n int64) bool {
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

// growCharged makes room for up to n more elements of size bytes in *s
// and returns how many fit, charging b before allocating: a new array in
// full (the one it replaces stays counted: it is garbage, not freed), and
// reserve bytes for each element that fits, for what the caller adds per
// element later. It grows to twice the capacity when that fits, else to
// the largest array the budget allows.
func growCharged[T any](s *[]T, n int, size, reserve int64, b *budget) int {
	l, c, k := int64(len(*s)), int64(cap(*s)), int64(n)
	spare := func() int {
		k = min(k, c-l)
		if reserve > 0 {
			k = min(k, b.left/reserve)
		}
		b.left -= k * reserve
		return int(k)
	}
	if l+k <= c {
		return spare()
	}
	newCap := max(l+k, 2*c)
	if newCap*size+k*reserve > b.left {
		// The largest array whose new elements all keep their reserve.
		newCap = (b.left + l*reserve) / (size + reserve)
		if newCap <= c {
			return spare()
		}
		k = min(k, newCap-l)
	}
	b.left -= newCap*size + k*reserve
	ns := make([]T, l, newCap)
	copy(ns, *s)
	*s = ns
	return int(k)
}

// crcReader hashes what it reads.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	pos int64
}

func (c *crcReader) full(b []byte, what string) error {
	n, err := io.ReadFull(c.r, b)
	c.crc.Write(b[:n])
	c.pos += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: end of input in %s at byte %d: %w", ErrFormat, what, c.pos, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return fmt.Errorf("manifest: read %s: %w", what, err)
	}
	return nil
}

// Decode reads a manifest from r. Errors wrap ErrFormat (malformed,
// truncated: also io.ErrUnexpectedEOF, or a CRC mismatch), ErrTooLarge,
// or the error of r. Decode reads exactly the manifest's bytes from r
// when r is a *bufio.Reader, else it may read ahead.
func Decode(r io.Reader, opts DecodeOptions) (*Manifest, error) {
	if opts.MaxBlocks <= 0 {
		opts.MaxBlocks = DefaultMaxBlocks
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	c := &crcReader{r: br, crc: crc32.New(castagnoli)}
	var h [headerLen]byte
	if err := c.full(h[:], "header"); err != nil {
		return nil, err
	}
	if string(h[:4]) != magic {
		return nil, fmt.Errorf("%w: magic %q, want %q", ErrFormat, h[:4], magic)
	}
	if v := binary.BigEndian.Uint16(h[4:]); v != version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrFormat, v, version)
	}
	if rs := binary.BigEndian.Uint16(h[6:]); rs != 0 {
		return nil, fmt.Errorf("%w: reserved field %#04x", ErrFormat, rs)
	}
	bs := binary.BigEndian.Uint32(h[8:])
	seed := binary.BigEndian.Uint64(h[12:])
	nfiles := binary.BigEndian.Uint32(h[20:])
	if nfiles > uint32(opts.MaxFiles) {
		return nil, fmt.Errorf("%w: %d files, limit %d", ErrTooLarge, nfiles, opts.MaxFiles)
	}
	if bs > MaxBlockSize {
		return nil, fmt.Errorf("%w: block size %d", ErrFormat, bs)
	}
	b, err := newBuilder(int(bs), seed)
	if err != nil {
		return nil, err
	}
	b.paths = nil // files come sorted, so no path twice: no map needed
	m := b.m
	bud := &budget{left: opts.MaxMemory}
	// Read buffers outside the loop: a slice of a local array handed to
	// io.ReadFull escapes, and would cost an allocation per read.
	var path, prev [MaxPath]byte
	var prevLen int
	var scratch [16]byte
	blocks := 0
	var drop dropped
	full := true // every file so far kept whole; after a cut, all are dropped
	for i := range int(nfiles) {
		if err := c.full(scratch[:2], "path length"); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(scratch[:2]))
		if n == 0 || n > MaxPath {
			return nil, fmt.Errorf("%w: file %d: path of %d bytes", ErrFormat, i, n)
		}
		if err := c.full(path[:n], "path"); err != nil {
			return nil, err
		}
		if i > 0 && bytes.Compare(path[:n], prev[:prevLen]) <= 0 {
			return nil, fmt.Errorf("%w: file %d: path %q not after %q", ErrFormat, i, path[:n], prev[:prevLen])
		}
		if !validPath(path[:n]) {
			return nil, fmt.Errorf("%w: path %q", ErrFormat, path[:n])
		}
		prevLen = copy(prev[:], path[:n])
		if err := c.full(scratch[:8], "file size"); err != nil {
			return nil, err
		}
		size := binary.BigEndian.Uint64(scratch[:8])
		if size > MaxFileSize {
			return nil, fmt.Errorf("%w: %q has size %d", ErrFormat, path[:n], size)
		}
		k := blocksOf(int64(size), int(bs))
		if k > opts.MaxBlocks-blocks {
			return nil, fmt.Errorf("%w: more than %d blocks", ErrTooLarge, opts.MaxBlocks)
		}
		blocks += k
		// Room for the file's entry, its path (and its short last
		// block's index entry) and its blocks, or as many of its first
		// blocks as fit; else (keep -1) the file is read and dropped.
		keep := -1
		if full && growCharged(&m.files, 1, fileCost, 0, bud) == 1 &&
			bud.take(int64(n)+int64(n)/8+pathSlack+shortCost) {
			keep = growCharged(&m.hashes, k, hashCost, indexCost, bud)
			if keep == 0 && k > 0 {
				keep = -1
			}
		}
		if keep < k {
			full = false
		}
		first := len(m.hashes)
		for j := range k {
			if err := c.full(scratch[:], "block hash"); err != nil {
				return nil, err
			}
			if j < keep {
				m.hashes = append(m.hashes, Hash(scratch))
			}
		}
		if keep < 0 {
			drop.add(1, k, int64(size))
			continue
		}
		kept := int64(size)
		if keep < k {
			kept = int64(keep) * int64(bs)
			drop.add(0, k-keep, int64(size)-kept)
		}
		m.files = append(m.files, File{Path: string(path[:n]), Size: kept, first: first})
	}
	drop.limit = opts.MaxMemory
	m.dropped = drop
	var end [4]byte
	if err := c.full(end[:], "end marker"); err != nil {
		return nil, err
	}
	if string(end[:]) != endMagic {
		return nil, fmt.Errorf("%w: end marker %q, want %q", ErrFormat, end[:], endMagic)
	}
	want := c.crc.Sum32()
	if _, err := io.ReadFull(br, end[:]); err != nil {
		return nil, fmt.Errorf("%w: end of input in checksum: %w", ErrFormat, io.ErrUnexpectedEOF)
	}
	if got := binary.BigEndian.Uint32(end[:]); got != want {
		return nil, fmt.Errorf("%w: checksum %#08x, computed %#08x", ErrFormat, got, want)
	}
	return b.finish(), nil
}
