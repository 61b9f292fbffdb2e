package manifest

import (
	"bufio"
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
	// MaxBlocks is the most blocks accepted; 0 means DefaultMaxBlocks.
	// Memory stays within about 20 bytes a block.
	MaxBlocks int
	// MaxFiles is the most files accepted; 0 means DefaultMaxFiles.
	MaxFiles int
}

// Default limits of Decode: 4 Mi blocks (4 TiB at 1 MiB, 80 MiB of
// memory) and a million files.
const (
	DefaultMaxBlocks = 4 << 20
	DefaultMaxFiles  = 1 << 20
)

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
	var path [MaxPath]byte
	var hashes []Hash
	blocks := 0
	prev := ""
	for i := range int(nfiles) {
		var l [2]byte
		if err := c.full(l[:], "path length"); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if n == 0 || n > MaxPath {
			return nil, fmt.Errorf("%w: file %d: path of %d bytes", ErrFormat, i, n)
		}
		if err := c.full(path[:n], "path"); err != nil {
			return nil, err
		}
		p := string(path[:n])
		if i > 0 && p <= prev {
			return nil, fmt.Errorf("%w: file %d: path %q not after %q", ErrFormat, i, p, prev)
		}
		prev = p
		var s [8]byte
		if err := c.full(s[:], "file size"); err != nil {
			return nil, err
		}
		size := binary.BigEndian.Uint64(s[:])
		if size > MaxFileSize {
			return nil, fmt.Errorf("%w: %q has size %d", ErrFormat, p, size)
		}
		k := blocksOf(int64(size), int(bs))
		if k > opts.MaxBlocks-blocks {
			return nil, fmt.Errorf("%w: more than %d blocks", ErrTooLarge, opts.MaxBlocks)
		}
		blocks += k
		hashes = hashes[:0]
		for range k {
			var x Hash
			if err := c.full(x[:], "block hash"); err != nil {
				return nil, err
			}
			hashes = append(hashes, x)
		}
		if err := b.add(p, int64(size), hashes); err != nil {
			return nil, err
		}
	}
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
