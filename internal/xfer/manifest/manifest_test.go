package manifest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const bs = MinBlockSize

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	files := map[string][]byte{
		"ibdata1":        randBytes(rng, 3*bs+100),
		"db/t1.ibd":      randBytes(rng, 2*bs),
		"db/t2.ibd":      nil,
		"db.x/y":         randBytes(rng, 10),
		"undo/undo001":   randBytes(rng, bs+1),
		"skip/big.ibd":   randBytes(rng, bs),
		"db/skipped.tmp": randBytes(rng, 5),
	}
	for n, d := range files {
		writeFile(t, dir, n, d)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "db", "link.ibd")); err != nil {
		t.Fatal(err)
	}
	var reports []Progress
	m, err := Build(t.Context(), dir, BuildOptions{
		BlockSize: bs, Seed: 42, Workers: 3,
		Include: func(p string, isDir bool) bool {
			return (!isDir || p != "skip") && !strings.HasSuffix(p, ".tmp")
		},
		Progress:      func(p Progress) { reports = append(reports, p) },
		ProgressEvery: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files() {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, " "), "db.x/y db/t1.ibd db/t2.ibd ibdata1 undo/undo001"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	if m.Seed() != 42 || m.BlockSize() != bs {
		t.Errorf("seed %d block size %d", m.Seed(), m.BlockSize())
	}
	var total int64
	for _, n := range []string{"ibdata1", "db/t1.ibd", "db.x/y", "undo/undo001", "db/t2.ibd"} {
		data := files[n]
		total += int64(len(data))
		blocks := m.FileBlocks(n)
		if len(blocks) != (len(data)+bs-1)/bs {
			t.Fatalf("%s: %d blocks for %d bytes", n, len(blocks), len(data))
		}
		for _, b := range blocks {
			piece := data[b.Offset : b.Offset+int64(b.Length)]
			if b.Hash != Sum(42, piece) {
				t.Errorf("%s block at %d: wrong hash", n, b.Offset)
			}
			got, ok := m.Lookup(Sum(42, piece), len(piece))
			if !ok || got.Hash != b.Hash || got.Length != b.Length {
				t.Errorf("Lookup of %s block at %d: %+v, %v", n, b.Offset, got, ok)
			}
		}
	}
	if m.Bytes() != total {
		t.Errorf("Bytes() = %d, want %d", m.Bytes(), total)
	}
	if _, ok := m.Lookup(Sum(42, []byte("not there")), 9); ok {
		t.Error("Lookup found a block that is not there")
	}
	// The tail of ibdata1 by hash but with the wrong length.
	tail := files["ibdata1"][3*bs:]
	if _, ok := m.Lookup(Sum(42, tail), len(tail)+1); ok {
		t.Error("Lookup ignored the length")
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done || reports[len(reports)-1].Bytes != total || reports[len(reports)-1].TotalBytes != total {
		t.Errorf("progress reports %+v, want a final one with %d bytes", reports, total)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Bytes < reports[i-1].Bytes {
			t.Errorf("progress went back: %+v", reports)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(t.Context(), filepath.Join(t.TempDir(), "missing"), BuildOptions{}); err == nil {
		t.Error("Build of a missing directory succeeded")
	}
	if _, err := Build(t.Context(), t.TempDir(), BuildOptions{BlockSize: 1000}); !errors.Is(err, ErrFormat) {
		t.Errorf("bad block size: %v", err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "a", make([]byte, 3*bs))
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := Build(ctx, dir, BuildOptions{BlockSize: bs}); err == nil {
		t.Error("Build with a cancelled context succeeded")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range 5 {
		writeFile(t, dir, "d/f"+string(rune('a'+i)), randBytes(rng, rng.IntN(3*bs)))
	}
	m, err := Build(t.Context(), dir, BuildOptions{BlockSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain": func(r io.Reader) io.Reader { return r }, "onebyte": iotest.OneByteReader, "dataerr": iotest.DataErrReader,
	} {
		m2, err := Decode(wrap(bytes.NewReader(buf.Bytes())), DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equalManifests(m, m2) {
			t.Errorf("%s: decoded manifest differs", name)
		}
	}
}

func equalManifests(a, b *Manifest) bool {
	if a.BlockSize() != b.BlockSize() || a.Seed() != b.Seed() || len(a.Files()) != len(b.Files()) || a.Blocks() != b.Blocks() {
		return false
	}
	for i, f := range a.Files() {
		g := b.Files()[i]
		if f.Path != g.Path || f.Size != g.Size {
			return false
		}
		ab, bb := a.FileBlocks(f.Path), b.FileBlocks(f.Path)
		for j := range ab {
			if ab[j] != bb[j] {
				return false
			}
		}
	}
	return true
}

// encoded builds a manifest encoding by hand, with a correct checksum.
func encoded(blockSize uint32, files ...any) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, blockSize)
	b = binary.BigEndian.AppendUint64(b, 7)
	b = binary.BigEndian.AppendUint32(b, uint32(len(files)/2))
	for i := 0; i < len(files); i += 2 {
		p, size := files[i].(string), files[i+1].(int)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
		b = binary.BigEndian.AppendUint64(b, uint64(size))
		b = append(b, make([]byte, 16*((size+int(blockSize)-1)/int(blockSize)))...)
	}
	return seal(b)
}

func seal(b []byte) []byte {
	b = append(b, endMagic...)
	return binary.BigEndian.AppendUint32(b, crc32c(b))
}

// rawHead is the start of a one-file manifest, up to the file's hashes:
// the header (blockSize, seed) and the entry of path, size bytes long.
func rawHead(blockSize uint32, seed uint64, path string, size uint64) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, blockSize)
	b = binary.BigEndian.AppendUint64(b, seed)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(path)))
	b = append(b, path...)
	return binary.BigEndian.AppendUint64(b, size)
}

// badEnd replaces the end marker and fixes the checksum.
func badEnd(b []byte) []byte {
	b = bytes.Clone(b[:len(b)-8])
	b = append(b, "XFMZ"...)
	return binary.BigEndian.AppendUint32(b, crc32c(b))
}

func TestDecodeHostile(t *testing.T) {
	good := encoded(bs, "a", 10)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0xff; return c }
	tests := []struct {
		name string
		in   []byte
		opts DecodeOptions
		want error
		msg  string
	}{
		{"empty", nil, DecodeOptions{}, ErrFormat, "end of input in header"},
		{"magic", flip(good, 0), DecodeOptions{}, ErrFormat, "magic"},
		{"version", flip(good, 5), DecodeOptions{}, ErrFormat, "version"},
		{"checksum", flip(good, len(good)-1), DecodeOptions{}, ErrFormat, "checksum"},
		{"payload bit", flip(good, len(good)-12), DecodeOptions{}, ErrFormat, "checksum"},
		{"truncated", good[:len(good)-10], DecodeOptions{}, io.ErrUnexpectedEOF, "end of input"},
		{"block size", encoded(1000, "a", 1), DecodeOptions{}, ErrFormat, "block size 1000"},
		{"huge block size", encoded(1 << 30), DecodeOptions{}, ErrFormat, "block size"},
		{"too many files", encoded(bs, "a", 1, "b", 1), DecodeOptions{MaxFiles: 1}, ErrTooLarge, "2 files"},
		{"too many blocks", encoded(bs, "a", 3*bs), DecodeOptions{MaxBlocks: 2}, ErrTooLarge, "more than 2 blocks"},
		{"unsorted", encoded(bs, "b", 1, "a", 1), DecodeOptions{}, ErrFormat, "not after"},
		{"duplicate", encoded(bs, "a", 1, "a", 1), DecodeOptions{}, ErrFormat, "not after"},
		{"dotdot", encoded(bs, "../a", 1), DecodeOptions{}, ErrFormat, `"../a"`},
		{"absolute", encoded(bs, "/a", 1), DecodeOptions{}, ErrFormat, "path"},
		{"end marker", badEnd(encoded(bs, "a", 1)), DecodeOptions{}, ErrFormat, "end marker"},
		{"trailing file", encoded(bs, "a", 1)[:len(encoded(bs, "a", 1))-8], DecodeOptions{}, io.ErrUnexpectedEOF, "end marker"},
	}
	// A claimed 2^50-byte file that never delivers its hashes: the limit
	// stops it before a single hash is allocated.
	huge := rawHead(bs, 1, "a", MaxFileSize)
	tests = append(tests, struct {
		name string
		in   []byte
		opts DecodeOptions
		want error
		msg  string
	}{"never ends", huge, DecodeOptions{}, ErrTooLarge, "more than"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.in), tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encoded(bs, "a", 10))
	f.Add(encoded(bs, "a/b", 2*bs+1, "c", 0))
	f.Add(encoded(bs))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := DecodeOptions{MaxBlocks: 1 << 12, MaxFiles: 1 << 10}
		m, err := Decode(bytes.NewReader(in), opts)
		// A small memory budget never changes whether the input is
		// accepted, only how much of it is kept: a prefix, the last
		// file possibly cut at a block boundary.
		opts.MaxMemory = 2 << 10
		small, serr := Decode(bytes.NewReader(in), opts)
		if (err == nil) != (serr == nil) {
			t.Fatalf("Decode: %v; with a small budget: %v", err, serr)
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := m.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		// Decode stops at the end of the manifest; what follows is the
		// caller's.
		if !bytes.HasPrefix(in, buf.Bytes()) {
			t.Fatalf("re-encoding differs from the accepted input")
		}
		if small.Warning() == "" != (len(small.Files()) == len(m.Files()) && small.Blocks() == m.Blocks()) {
			t.Fatalf("small budget kept %d of %d files, %d of %d blocks, warning %q", len(small.Files()), len(m.Files()), small.Blocks(), m.Blocks(), small.Warning())
		}
		for i, f := range small.Files() {
			full := m.Files()[i]
			got, want := small.FileBlocks(f.Path), m.FileBlocks(full.Path)
			if f.Path != full.Path || len(got) > len(want) || (i < len(small.Files())-1 && f.Size != full.Size) {
				t.Fatalf("small budget: file %d is %+v, the full decode's %+v", i, f, full)
			}
			for j, b := range got {
				if b != want[j] {
					t.Fatalf("small budget: %s block %d is %+v, want %+v", f.Path, j, b, want[j])
				}
				if lb, ok := small.Lookup(b.Hash, b.Length); !ok || lb.Hash != b.Hash || lb.Length != b.Length {
					t.Fatalf("small budget: Lookup of %+v = %+v, %v", b, lb, ok)
				}
			}
		}
	})
}

// BenchmarkSum measures the block hash over 1 MiB blocks.
func BenchmarkSum(b *testing.B) {
	buf := randBytes(rand.New(rand.NewPCG(3, 3)), DefaultBlockSize)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Sum(1, buf)
	}
}

// BenchmarkBuild hashes a 64 MiB file from the page cache with 1 and 2
// workers.
func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	writeFile(b, dir, "ibdata1", randBytes(rand.New(rand.NewPCG(4, 4)), 64<<20))
	for _, w := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[w], func(b *testing.B) {
			b.SetBytes(64 << 20)
			for b.Loop() {
				if _, err := Build(b.Context(), dir, BuildOptions{Workers: w, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMemoryPerTiB decodes a manifest of 1 TiB of reference data in 1 MiB
// blocks and checks what it keeps on the heap against the budget of
// issue 11, 32 MiB per TB.
func TestMemoryPerTiB(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 16 MiB of hashes")
	}
	const blocks = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pr, pw := io.Pipe()
	go func() {
		b := rawHead(DefaultBlockSize, 3, "ibdata1", blocks*DefaultBlockSize)
		crc := crc32c(b)
		pw.Write(b)
		var h Hash
		for i := range blocks {
			binary.BigEndian.PutUint64(h[:], uint64(i)*0x9e3779b97f4a7c15)
			crc = crc32.Update(crc, castagnoli, h[:])
			pw.Write(h[:])
		}
		crc = crc32.Update(crc, castagnoli, []byte(endMagic))
		pw.Write(binary.BigEndian.AppendUint32([]byte(endMagic), crc))
		pw.Close()
	}()
	m, err := Decode(pr, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(m)
	t.Logf("manifest of 1 TiB: %d blocks, %.1f MiB on the heap", m.Blocks(), float64(used)/(1<<20))
	if used > 32<<20 {
		t.Errorf("manifest of 1 TiB keeps %d bytes, budget %d", used, 32<<20)
	}
}

// A build stopped early describes only files hashed whole, with the
// hashes a full build gives them, and its lookups find only those.
func TestBuildStop(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 24 {
		writeFile(t, dir, fmt.Sprintf("db/t%02d.ibd", i), randBytes(rng, (i%4)*stripe*bs/8+7))
	}
	full, err := Build(t.Context(), dir, BuildOptions{BlockSize: bs, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, after := range []int{0, 3, 20} {
		stop := make(chan struct{})
		var last Progress
		reports := 0
		m, err := Build(t.Context(), dir, BuildOptions{BlockSize: bs, Seed: 9, Workers: 2, Stop: stop, ProgressEvery: time.Nanosecond,
			Progress: func(p Progress) {
				last = p
				if reports++; reports == after+1 {
					close(stop)
				}
			}})
		if reports <= after {
			close(stop)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Files()) > len(full.Files()) || !last.Done {
			t.Fatalf("stop after %d reports: %d files of %d, last report %+v", after, len(m.Files()), len(full.Files()), last)
		}
		var bytes int64
		for _, f := range m.Files() {
			bytes += f.Size
			if got, want := m.FileBlocks(f.Path), full.FileBlocks(f.Path); !slices.Equal(got, want) {
				t.Errorf("%s: blocks differ from the full build's", f.Path)
			}
		}
		if last.Stopped && last.Bytes != bytes {
			t.Errorf("last report says %d bytes, the manifest has %d", last.Bytes, bytes)
		}
		for _, f := range full.Files() {
			for _, b := range full.FileBlocks(f.Path) {
				got, ok := m.Lookup(b.Hash, b.Length)
				if ok && m.FileBlocks(got.Path) == nil {
					t.Fatalf("lookup found %s, which is not in the manifest", got.Path)
				}
			}
		}
		t.Logf("stopped after %d reports: %d of %d files (stopped=%v)", after, len(m.Files()), len(full.Files()), last.Stopped)
	}
}

func TestChooseBlockSize(t *testing.T) {
	const budget = 16 << 20
	for _, tc := range []struct {
		total int64
		want  int
	}{
		{0, MinBlockSize},
		{2 << 30, MinBlockSize},         // 131072 blocks: 2.5 MiB
		{13 << 30, 32 << 10},            // 851968 blocks at 16 KiB would be 16.3 MiB
		{100 << 30, 128 << 10},          // 819200 blocks: 15.6 MiB
		{1 << 40, DefaultBlockSize},     // 1 Mi blocks at 1 MiB: 20 MiB, the per-TiB regime
		{6 << 40, 2 * DefaultBlockSize}, // 6 Mi blocks at 1 MiB would pass DefaultMaxBlocks
		{1 << 50, MaxBlockSize},
	} {
		got := ChooseBlockSize(tc.total, budget)
		if got != tc.want {
			t.Errorf("ChooseBlockSize(%d) = %d, want %d", tc.total, got, tc.want)
		}
		// The smallest that fits: half of it would not.
		if half := got / 2; half >= MinBlockSize && half < DefaultBlockSize {
			if blocks := tc.total/int64(half) + 1; blocks*bytesPerBlock <= budget && blocks <= DefaultMaxBlocks {
				t.Errorf("ChooseBlockSize(%d) = %d, but %d fits", tc.total, got, half)
			}
		}
	}
}
