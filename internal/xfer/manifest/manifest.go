package manifest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/zeebo/xxh3"
)

// Block sizes.
const (
	// DefaultBlockSize is the block size of Build unless told otherwise:
	// 1 MiB keeps the manifest at about 20 MiB per TiB and is small
	// enough that a rejoin after scattered row changes reuses most of a
	// table (InnoDB pages are 16 KiB; a changed page costs one block).
	DefaultBlockSize = 1 << 20
	// MinBlockSize is InnoDB's default page size: a block smaller than a
	// page finds no more matches.
	MinBlockSize = 16 << 10
	MaxBlockSize = 16 << 20
	// MaxFileSize is the largest file a manifest describes, 1 PiB.
	MaxFileSize = 1 << 50
	// MaxPath is the longest path in bytes.
	MaxPath = 1024
)

// Hash is a block's XXH3-128 hash, high half first.
type Hash [16]byte

// Sum returns the hash of b with the manifest seed.
func Sum(seed uint64, b []byte) Hash {
	u := xxh3.Hash128Seed(b, seed).Bytes()
	return Hash(u)
}

// File is one file of a manifest.
type File struct {
	Path  string
	Size  int64
	first int // index of its first block in Manifest.hashes
}

// Block locates a block of reference data.
type Block struct {
	Path   string
	Offset int64
	Length int
	Hash   Hash
}

// Manifest is the block-hash list of a set of reference files. It is
// immutable once built or decoded and safe for concurrent use.
type Manifest struct {
	blockSize int
	seed      uint64
	files     []File
	hashes    []Hash
	// index holds the numbers of the blocks of blockSize bytes sorted
	// by hash (then number), at most MaxDuplicates of one hash; short
	// those of the shorter blocks (the last of a file) sorted by hash
	// and length (then number), at most MaxDuplicates of one key.
	index   []uint32
	short   []shortBlock
	dropped dropped // what Decode left out
}

// shortBlock is an index entry of a block shorter than the block size.
type shortBlock struct {
	n      uint32 // block number
	length uint32
}

// MaxDuplicates is the most blocks of one hash and length that the
// lookup index keeps (runs of zero pages, say). Lookup returns the first
// (the lowest-numbered, i.e. in path order); the rest are for a caller
// that might prefer another copy, and the cap keeps the index, and the
// cost of a lookup, bounded whatever a manifest holds.
const MaxDuplicates = 4

// Errors of the package.
var (
	// ErrFormat means an encoded manifest is malformed.
	ErrFormat = errors.New("manifest: invalid encoding")
	// ErrTooLarge means an encoded manifest passes a DecodeOptions limit.
	ErrTooLarge = errors.New("manifest: too large")
)

// BlockSize returns the block size.
func (m *Manifest) BlockSize() int { return m.blockSize }

// Seed returns the hash seed.
func (m *Manifest) Seed() uint64 { return m.seed }

// Files returns the files in path order. The slice must not be modified.
func (m *Manifest) Files() []File { return m.files }

// Blocks returns the number of blocks.
func (m *Manifest) Blocks() int { return len(m.hashes) }

// Bytes returns the total size of the files.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.files {
		n += f.Size
	}
	return n
}

// Sum returns the hash of b with the manifest's seed.
func (m *Manifest) Sum(b []byte) Hash { return Sum(m.seed, b) }

// Lookup returns a block with hash h and the given length, and whether
// there is one. Blocks with equal contents (runs of zeros, say) are all
// equally good; Lookup returns the first the index keeps.
func (m *Manifest) Lookup(h Hash, length int) (Block, bool) {
	if length == m.blockSize {
		i := sort.Search(len(m.index), func(i int) bool {
			return bytes.Compare(m.hashes[m.index[i]][:], h[:]) >= 0
		})
		if i < len(m.index) && m.hashes[m.index[i]] == h {
			return m.block(int(m.index[i])), true
		}
		return Block{}, false
	}
	i := sort.Search(len(m.short), func(i int) bool {
		return m.compareShort(m.short[i], h, length) >= 0
	})
	if i < len(m.short) && m.compareShort(m.short[i], h, length) == 0 {
		return m.block(int(m.short[i].n)), true
	}
	return Block{}, false
}

// compareShort orders short-block entries by hash, then length.
func (m *Manifest) compareShort(e shortBlock, h Hash, length int) int {
	if c := bytes.Compare(m.hashes[e.n][:], h[:]); c != 0 {
		return c
	}
	return cmp.Compare(int(e.length), length)
}

// Warning describes what Decode left out of the manifest to stay within
// DecodeOptions.MaxMemory, "" if nothing: those blocks are not found by
// Lookup, so the donor sends them as data.
func (m *Manifest) Warning() string {
	d := m.dropped
	if d.blocks == 0 && d.files == 0 {
		return ""
	}
	return fmt.Sprintf("the joiner's manifest is larger than the donor's %d MiB budget for it: %d blocks (%d bytes, %d whole files) of its reference data are not used and are sent as data",
		d.limit>>20, d.blocks, d.bytes, d.files)
}

// block returns block number n.
func (m *Manifest) block(n int) Block {
	fi := sort.Search(len(m.files), func(i int) bool { return m.files[i].first > n }) - 1
	f := m.files[fi]
	off := int64(n-f.first) * int64(m.blockSize)
	return Block{Path: f.Path, Offset: off, Length: int(min(int64(m.blockSize), f.Size-off)), Hash: m.hashes[n]}
}

// FileBlocks returns the blocks of the file at path, nil if there is none.
func (m *Manifest) FileBlocks(path string) []Block {
	fi, ok := slices.BinarySearchFunc(m.files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return nil
	}
	f := m.files[fi]
	n := blocksOf(f.Size, m.blockSize)
	out := make([]Block, n)
	for i := range out {
		out[i] = m.block(f.first + i)
	}
	return out
}

func blocksOf(size int64, bs int) int {
	return int((size + int64(bs) - 1) / int64(bs))
}

// builder assembles a Manifest from files given in any order.
type builder struct {
	m     *Manifest
	paths map[string]bool
}

func newBuilder(blockSize int, seed uint64) (*builder, error) {
	if blockSize < MinBlockSize || blockSize > MaxBlockSize || blockSize&(blockSize-1) != 0 {
		return nil, fmt.Errorf("%w: block size %d, want a power of two in %d..%d", ErrFormat, blockSize, MinBlockSize, MaxBlockSize)
	}
	return &builder{m: &Manifest{blockSize: blockSize, seed: seed}, paths: make(map[string]bool)}, nil
}

// add appends a file; hashes must have blocksOf(size) entries.
func (b *builder) add(path string, size int64, hashes []Hash) error {
	switch {
	case !ValidPath(path):
		return fmt.Errorf("%w: path %q", ErrFormat, path)
	case b.paths[path]:
		return fmt.Errorf("%w: path %q twice", ErrFormat, path)
	case size < 0 || size > MaxFileSize:
		return fmt.Errorf("%w: %q has size %d", ErrFormat, path, size)
	case len(hashes) != blocksOf(size, b.m.blockSize):
		return fmt.Errorf("%w: %q has %d hashes for %d bytes", ErrFormat, path, len(hashes), size)
	}
	b.paths[path] = true
	b.m.files = append(b.m.files, File{Path: path, Size: size, first: len(b.m.hashes)})
	b.m.hashes = append(b.m.hashes, hashes...)
	return nil
}

// finish sorts the files by path and builds the index.
func (b *builder) finish() *Manifest {
	m := b.m
	if !slices.IsSortedFunc(m.files, func(x, y File) int { return strings.Compare(x.Path, y.Path) }) {
		files := slices.Clone(m.files)
		slices.SortFunc(files, func(x, y File) int { return strings.Compare(x.Path, y.Path) })
		hashes := make([]Hash, 0, len(m.hashes))
		for i, f := range files {
			n := blocksOf(f.Size, m.blockSize)
			hashes = append(hashes, m.hashes[f.first:f.first+n]...)
			files[i].first = len(hashes) - n
		}
		m.files, m.hashes = files, hashes
	}
	var nshort int
	for _, f := range m.files {
		if f.Size%int64(m.blockSize) != 0 {
			nshort++
		}
	}
	m.index = make([]uint32, 0, len(m.hashes)-nshort)
	m.short = make([]shortBlock, 0, nshort)
	for _, f := range m.files {
		n := blocksOf(f.Size, m.blockSize)
		for i := range n {
			if i == n-1 && f.Size%int64(m.blockSize) != 0 {
				m.short = append(m.short, shortBlock{n: uint32(f.first + i), length: uint32(f.Size % int64(m.blockSize))})
				continue
			}
			m.index = append(m.index, uint32(f.first+i))
		}
	}
	slices.SortFunc(m.index, func(x, y uint32) int {
		if c := bytes.Compare(m.hashes[x][:], m.hashes[y][:]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	m.index = capRuns(m.index, func(x, y uint32) bool { return m.hashes[x] == m.hashes[y] })
	slices.SortFunc(m.short, func(x, y shortBlock) int {
		if c := m.compareShort(x, m.hashes[y.n], int(y.length)); c != 0 {
			return c
		}
		return cmp.Compare(x.n, y.n)
	})
	m.short = capRuns(m.short, func(x, y shortBlock) bool { return m.hashes[x.n] == m.hashes[y.n] && x.length == y.length })
	return m
}

// capRuns keeps at most MaxDuplicates of each run of equal entries of the
// sorted s, in place.
func capRuns[T any](s []T, equal func(x, y T) bool) []T {
	out := s[:0]
	run := 0
	for i, e := range s {
		if i > 0 && equal(s[i-1], e) {
			run++
		} else {
			run = 0
		}
		if run < MaxDuplicates {
			out = append(out, e)
		}
	}
	return out
}

// Merge returns one manifest of the files of all of ms, which must have
// the same block size and seed and no path in common (build them with
// one seed and a different BuildOptions.Prefix each).
func Merge(ms ...*Manifest) (*Manifest, error) {
	if len(ms) == 0 {
		return nil, errors.New("manifest: merge of nothing")
	}
	b, err := newBuilder(ms[0].blockSize, ms[0].seed)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, m := range ms {
		n += len(m.hashes)
	}
	b.m.hashes = make([]Hash, 0, n)
	for _, m := range ms {
		if m.blockSize != b.m.blockSize || m.seed != b.m.seed {
			return nil, fmt.Errorf("manifest: merge: block size %d and seed %#x differ from %d and %#x", m.blockSize, m.seed, b.m.blockSize, b.m.seed)
		}
		for _, f := range m.files {
			if err := b.add(f.Path, f.Size, m.hashes[f.first:f.first+blocksOf(f.Size, m.blockSize)]); err != nil {
				return nil, fmt.Errorf("manifest: merge: %w", err)
			}
		}
	}
	return b.finish(), nil
}

// ValidPath reports whether p may name a reference file: relative,
// slash-separated, in clean form, without "." or ".." components, NUL
// bytes or backslashes, and at most MaxPath bytes.
func ValidPath(p string) bool { return validPath(p) }

// validPath is ValidPath for a string or, without converting it (which
// would allocate), a byte slice.
func validPath[S ~string | ~[]byte](p S) bool {
	if len(p) == 0 || len(p) > MaxPath {
		return false
	}
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if p[i] == 0 || p[i] == '\\' {
				return false
			}
			continue
		}
		switch e := p[start:i]; {
		case len(e) == 0, len(e) == 1 && e[0] == '.', len(e) == 2 && e[0] == '.' && e[1] == '.':
			return false
		}
		start = i + 1
	}
	return true
}

// bytesPerBlock is the memory a block costs in a manifest: its hash and
// its place in the index.
const bytesPerBlock = 16 + 4

// ChooseBlockSize returns the block size for total bytes of reference
// data: the smallest, from MinBlockSize (one InnoDB page, so that
// scattered row changes cost only their pages), whose manifest fits in
// budget bytes of memory; past DefaultBlockSize only as far as needed to
// stay within DefaultMaxBlocks, whatever the budget.
func ChooseBlockSize(total, budget int64) int {
	bs := MinBlockSize
	for bs < MaxBlockSize {
		blocks := total/int64(bs) + 1
		if bs < DefaultBlockSize && blocks*bytesPerBlock > budget || blocks > DefaultMaxBlocks {
			bs *= 2
			continue
		}
		break
	}
	return bs
}

// Empty returns a manifest without files: what a joiner with no
// reference data sends.
func Empty(blockSize int, seed uint64) (*Manifest, error) {
	b, err := newBuilder(blockSize, seed)
	if err != nil {
		return nil, err
	}
	return b.finish(), nil
}
