package manifest

import (
	"bytes"
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
	index     []uint32 // block numbers sorted by hash
}

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
// equally good; Lookup returns one of them.
func (m *Manifest) Lookup(h Hash, length int) (Block, bool) {
	i := sort.Search(len(m.index), func(i int) bool {
		return bytes.Compare(m.hashes[m.index[i]][:], h[:]) >= 0
	})
	for ; i < len(m.index) && m.hashes[m.index[i]] == h; i++ {
		b := m.block(int(m.index[i]))
		if b.Length == length {
			return b, true
		}
	}
	return Block{}, false
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
	m.index = make([]uint32, len(m.hashes))
	for i := range m.index {
		m.index[i] = uint32(i)
	}
	slices.SortFunc(m.index, func(x, y uint32) int { return bytes.Compare(m.hashes[x][:], m.hashes[y][:]) })
	return m
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
func ValidPath(p string) bool {
	if p == "" || len(p) > MaxPath || strings.ContainsAny(p, "\x00\\") {
		return false
	}
	for e := range strings.SplitSeq(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
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
