package mbstream

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// newDirSink returns a DirSink on a fresh directory "root" inside a
// temporary directory that also holds "outside" and "ref", the reference
// directory the sink clones from.
// openRoot opens dir as an os.Root that is closed when the test ends.
func openRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

func newDirSink(t *testing.T, opts DirSinkOptions) (s *DirSink, base string) {
	t.Helper()
	base = t.TempDir()
	for _, d := range []string{"root", "outside", "ref"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := openRoot(t, filepath.Join(base, "root"))
	if opts.Refs == nil {
		refs := openRoot(t, filepath.Join(base, "ref"))
		opts.Refs = refs
	}
	return NewDirSink(root, opts), base
}

func TestDirSinkConfinement(t *testing.T) {
	s, base := newDirSink(t, DirSinkOptions{})
	outside := filepath.Join(base, "outside")
	if err := os.Symlink(outside, filepath.Join(base, "root", "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "f"), filepath.Join(base, "root", "outf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(base, "ref", "secret")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		unsafe bool // ErrUnsafePath, before touching the filesystem
	}{
		{"../f", true},
		{"a/../../f", true},
		{"/etc/passwd", true},
		{filepath.Join(outside, "f"), true},
		{"./f", true},
		{"", true},
		{"out/f", false},   // a parent that is a symlink out of the root
		{"out/d/f", false}, // MkdirAll through it
		{"outf", false},    // a symlink to a file outside
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := s.Create(tc.name)
			if err == nil {
				f.Close()
				t.Fatalf("Create(%q) succeeded", tc.name)
			}
			if got := errors.Is(err, ErrUnsafePath); got != tc.unsafe {
				t.Errorf("Create(%q) = %v; ErrUnsafePath %v, want %v", tc.name, err, got, tc.unsafe)
			}
		})
	}
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 1 {
		t.Errorf("outside directory: %v, entries %v, want only secret", err, ents)
	}

	f, err := s.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, ref := range []string{"../outside/secret", "/etc/passwd", "secret"} {
		c := Clone{Ref: ref, Len: 6, CRC: crc32.ChecksumIEEE([]byte("secret"))}
		if err := f.Clone(c); err == nil {
			t.Errorf("Clone from %q succeeded", ref)
		}
	}
}

// refFile writes a reference file under base/ref and returns its content.
func refFile(t *testing.T, base, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(filepath.Join(base, "ref", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func cloneOf(ref []byte, name string, refOff, n, off int64) Clone {
	b := ref[refOff : refOff+n]
	return Clone{Ref: name, RefOff: refOff, Len: n, Off: off, CRC: crc32.ChecksumIEEE(b), Sum: []byte(fmt.Sprint(len(b), b[0]))}
}

func TestDirSinkOps(t *testing.T) {
	var verified int
	s, base := newDirSink(t, DirSinkOptions{Verify: func(c Clone, b []byte) error {
		verified++
		if string(c.Sum) != fmt.Sprint(len(b), b[0]) {
			return fmt.Errorf("%w: sum", ErrCloneMismatch)
		}
		return nil
	}})
	ref := refFile(t, base, "old.ibd", 64<<10)
	f, err := s.Create("db/new.ibd")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 256<<10)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = f.WriteAt([]byte("head"), 0)
	step("write", err)
	copy(want, "head")
	step("clone", f.Clone(cloneOf(ref, "old.ibd", 4096, 16<<10, 8192)))
	copy(want[8192:], ref[4096:4096+16<<10])
	_, err = f.WriteAt(bytes.Repeat([]byte("x"), 64<<10), 64<<10)
	step("write", err)
	copy(want[64<<10:], bytes.Repeat([]byte("x"), 64<<10))
	step("punch", f.Punch(80<<10, 16<<10)) // over written data
	clear(want[80<<10 : 96<<10])
	step("punch", f.Punch(200<<10, 8<<10)) // past it: End's size makes the hole
	step("end", f.End(int64(len(want))))
	if verified != 1 {
		t.Errorf("Verify called %d times, want 1", verified)
	}
	got, err := os.ReadFile(filepath.Join(base, "root", "db", "new.ibd"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("file has %d bytes, want %d (contents differ: %v)", len(got), len(want), len(got) == len(want))
	}
}

func TestDirSinkCloneErrors(t *testing.T) {
	s, base := newDirSink(t, DirSinkOptions{Verify: func(c Clone, b []byte) error {
		if string(c.Sum) == "bad" {
			return fmt.Errorf("%w: hash", ErrCloneMismatch)
		}
		return nil
	}})
	ref := refFile(t, base, "old", 8192)
	bad := cloneOf(ref, "old", 0, 100, 0)
	bad.CRC++
	badSum := cloneOf(ref, "old", 0, 100, 0)
	badSum.Sum = []byte("bad")
	for _, tc := range []struct {
		name string
		c    Clone
		want error  // errors.Is target, or nil to only check the text
		text string // substring of the error
	}{
		{"crc", bad, ErrCloneMismatch, "CRC-32"},
		{"sum", badSum, ErrCloneMismatch, "hash"},
		{"past end", Clone{Ref: "old", RefOff: 8000, Len: 500}, io.ErrUnexpectedEOF, `read "old" at 8000`},
		{"missing", Clone{Ref: "nope", Len: 1}, fs.ErrNotExist, "open reference"},
		{"empty", Clone{Ref: "old", Len: 0}, nil, "invalid range"},
		{"negative", Clone{Ref: "old", RefOff: -1, Len: 1}, nil, "invalid range"},
		{"too large", Clone{Ref: "old", Len: DefaultMaxPayload + 1}, ErrTooLarge, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := s.Create(strings.ReplaceAll(tc.name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = f.Clone(tc.c)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Clone = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

// memSink is a Sink in memory that checks the order of the calls.
type memSink struct {
	mu    sync.Mutex
	files map[string][]byte
	open  map[string]bool
}

type memFile struct {
	s    *memSink
	name string
	b    []byte
}

func (s *memSink) Create(name string) (SinkFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[name]; ok || s.open[name] {
		return nil, fmt.Errorf("create %q: %w", name, fs.ErrExist)
	}
	s.open[name] = true
	return &memFile{s: s, name: name}, nil
}

func (f *memFile) grow(n int64) {
	if int64(len(f.b)) < n {
		f.b = append(f.b, make([]byte, n-int64(len(f.b)))...)
	}
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.grow(off + int64(len(p)))
	return copy(f.b[off:], p), nil
}

func (f *memFile) Punch(off, n int64) error {
	f.grow(off)
	clear(f.b[off:min(off+n, int64(len(f.b)))])
	return nil
}

func (f *memFile) Clone(Clone) error { return errors.New("no clones in an mbstream") }

func (f *memFile) End(size int64) error {
	if size < int64(len(f.b)) {
		return fmt.Errorf("end %q at %d after %d bytes", f.name, size, len(f.b))
	}
	f.grow(size)
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	delete(f.s.open, f.name)
	f.s.files[f.name] = f.b
	return nil
}

func (f *memFile) Close() error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	delete(f.s.open, f.name)
	return nil
}

// randomStream makes up to 8 files of random content with runs of zeros,
// cuts each into chunks of random size, some of them sparse chunks whose
// zero runs become holes, and interleaves the files' chunks at random.
func randomStream(rng *rand.Rand) ([]byte, map[string][]byte) {
	files := make(map[string][]byte)
	var queues [][]rawChunk
	for i := range rng.IntN(8) + 1 {
		name := fmt.Sprintf("d%d/f%d", rng.IntN(3), i)
		var content []byte
		for range rng.IntN(6) {
			n := rng.IntN(5000)
			if rng.IntN(3) == 0 {
				content = append(content, make([]byte, n)...)
				continue
			}
			for range n {
				content = append(content, byte(rng.IntN(255)+1))
			}
		}
		files[name] = content
		var q []rawChunk
		for off := 0; off < len(content); {
			n := min(len(content)-off, rng.IntN(3000)+1)
			piece := content[off : off+n]
			if rng.IntN(2) == 0 {
				q = append(q, rawChunk{typ: ChunkPayload, path: name, off: uint64(off), payload: piece})
			} else {
				q = append(q, sparseChunk(name, off, piece))
			}
			off += n
		}
		queues = append(queues, append(q, echunk(name)))
	}
	var out []byte
	for len(queues) > 0 {
		i := rng.IntN(len(queues))
		out = append(out, queues[i][0].bytes()...)
		if queues[i] = queues[i][1:]; len(queues[i]) == 0 {
			queues = slices.Delete(queues, i, i+1)
		}
	}
	return out, files
}

// sparseChunk encodes piece, which starts at off of its file, as a sparse
// chunk: each run of zeros is a skip, the rest payload.
func sparseChunk(name string, off int, piece []byte) rawChunk {
	c := rawChunk{typ: ChunkSparse, path: name, off: uint64(off)}
	for i := 0; i < len(piece); {
		var r SparseRange
		for i < len(piece) && piece[i] == 0 {
			r.Skip++
			i++
		}
		for i < len(piece) && piece[i] != 0 {
			r.Len++
			c.payload = append(c.payload, piece[i])
			i++
		}
		c.sparse = append(c.sparse, r)
	}
	if c.payload == nil {
		c.payload = []byte{}
	}
	return c
}

// TestExtractRandomFiles is a property test: random files, cut into random
// chunks (payload and sparse) and interleaved, come out of the extractor
// byte for byte, through a DirSink and through a Sink in memory.
func TestExtractRandomFiles(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 18))
			data, want := randomStream(rng)
			workers := rng.IntN(4) + 1

			ms := &memSink{files: make(map[string][]byte), open: make(map[string]bool)}
			st, err := ExtractTo(t.Context(), bytes.NewReader(data), ms, ExtractOptions{Workers: workers})
			if err != nil {
				t.Fatalf("ExtractTo: %v", err)
			}
			if st.Files != len(want) || len(ms.open) != 0 {
				t.Errorf("ExtractTo: %d files, %d left open; want %d, 0", st.Files, len(ms.open), len(want))
			}
			equalFiles(t, ms.files, want)

			dir := t.TempDir()
			if _, err := Extract(t.Context(), bytes.NewReader(data), dir, ExtractOptions{Workers: workers}); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			equalFiles(t, readTree(t, dir), want)
		})
	}
}

// TestDirSinkRandomOps applies random writes, clones and punches, in any
// order and overlapping, to a DirSink file and to a model in memory, and
// compares the results.
func TestDirSinkRandomOps(t *testing.T) {
	s, base := newDirSink(t, DirSinkOptions{})
	ref := refFile(t, base, "old", 64<<10)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		name := fmt.Sprintf("f%d", seed)
		f, err := s.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		m := &fileModel{}
		randomOps(rng, 128<<10,
			func(off int64) { m.write(t, rng, f, off) },
			func(off int64) {
				m.clone(t, rng, f, ref, off, func(refOff, n int64) Clone { return cloneOf(ref, "old", refOff, n, off) })
			},
			func(off int64) { m.punch(t, rng, f, off) })
		size := int64(len(m.want)) + rng.Int64N(5000)
		m.end(t, f, size)
		m.check(t, filepath.Join(base, "root", name))
	}
}

// randomOps runs 1 to 30 operations, each one of ops picked at random and
// given a random offset below maxOff.
func randomOps(rng *rand.Rand, maxOff int64, ops ...func(off int64)) {
	for range rng.IntN(30) + 1 {
		off := rng.Int64N(maxOff)
		ops[rng.IntN(len(ops))](off)
	}
}

// fileModel is what a SinkFile under random operations must hold.
type fileModel struct{ want []byte }

func (m *fileModel) grow(n int64) {
	if int64(len(m.want)) < n {
		m.want = append(m.want, make([]byte, n-int64(len(m.want)))...)
	}
}

// write writes up to 9000 random bytes at off, through f and in the model.
func (m *fileModel) write(t *testing.T, rng *rand.Rand, f SinkFile, off int64) {
	t.Helper()
	b := make([]byte, rng.IntN(9000)+1)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatalf("write: %v", err)
	}
	m.grow(off + int64(len(b)))
	copy(m.want[off:], b)
}

// clone clones up to 9000 bytes from a random offset of ref to off,
// through f and in the model; mk makes the Clone of the n bytes at refOff.
func (m *fileModel) clone(t *testing.T, rng *rand.Rand, f SinkFile, ref []byte, off int64, mk func(refOff, n int64) Clone) {
	t.Helper()
	n := rng.Int64N(9000) + 1
	refOff := rng.Int64N(int64(len(ref)) - n)
	if err := f.Clone(mk(refOff, n)); err != nil {
		t.Fatalf("clone: %v", err)
	}
	m.grow(off + n)
	copy(m.want[off:], ref[refOff:refOff+n])
}

// punch punches up to 20000 bytes at off, through f and in the model.
func (m *fileModel) punch(t *testing.T, rng *rand.Rand, f SinkFile, off int64) {
	t.Helper()
	n := rng.Int64N(20000) + 1
	if err := f.Punch(off, n); err != nil {
		t.Fatalf("punch: %v", err)
	}
	if off < int64(len(m.want)) {
		clear(m.want[off:min(off+n, int64(len(m.want)))])
	}
}

// end ends f at size, which the model takes too.
func (m *fileModel) end(t *testing.T, f SinkFile, size int64) {
	t.Helper()
	m.grow(size)
	m.want = m.want[:size]
	if err := f.End(size); err != nil {
		t.Fatalf("end: %v", err)
	}
}

// check compares the file at path with the model.
func (m *fileModel) check(t *testing.T, path string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m.want) {
		t.Errorf("%s has %d bytes, want %d (contents differ)", path, len(got), len(m.want))
	}
}
