package mbstream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// readTree returns the regular files under dir, by slash path.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%v)", p, d.Type())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestExtractRoundTrip(t *testing.T) {
	data, want := testStream(t)
	for _, opts := range []ExtractOptions{
		{},
		{Workers: 1},
		{Workers: 3, MemoryLimit: 1}, // every chunk waits for the previous ones
		{Workers: 8, MaxPayload: ChunkSize},
	} {
		for _, wrap := range []struct {
			name string
			f    func(io.Reader) io.Reader
		}{
			{"plain", func(r io.Reader) io.Reader { return r }},
			{"HalfReader", iotest.HalfReader},
			{"DataErrReader", iotest.DataErrReader},
		} {
			t.Run(fmt.Sprintf("%+v/%s", opts, wrap.name), func(t *testing.T) {
				dir := t.TempDir()
				st, err := Extract(t.Context(), wrap.f(bytes.NewReader(data)), dir, opts)
				if err != nil {
					t.Fatal(err)
				}
				equalFiles(t, readTree(t, dir), want)
				var size int64
				for _, d := range want {
					size += int64(len(d))
				}
				if st.Files != len(want) || st.Bytes != size {
					t.Errorf("got stats %+v, want {Files:%d Bytes:%d}", st, len(want), size)
				}
			})
		}
	}
}

// TestExtractMbstreamCreate extracts what the real "mbstream -c" writes.
func TestExtractMbstreamCreate(t *testing.T) {
	bin := mbstreamPath(t)
	src := t.TempDir()
	want := map[string][]byte{
		"ibdata1":           randomBytes(30, 2*ChunkSize+5),
		"db/t.ibd":          randomBytes(31, 70_000),
		"db/empty.MYD":      {},
		"backup-my.cnf":     []byte("[mysqld]\n"),
		"mysql/user.frm":    randomBytes(32, 1000),
		"aria_log.00000001": randomBytes(33, 8192),
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		p := filepath.Join(src, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, want[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := mbstreamCreate(t, bin, src, names)
	dir := t.TempDir()
	if _, err := Extract(t.Context(), bytes.NewReader(data), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	equalFiles(t, readTree(t, dir), want)
}

func TestExtractSparse(t *testing.T) {
	data := stream(
		pchunk("s.ibd", 0, "head"),
		rawChunk{typ: ChunkSparse, path: "s.ibd", off: 4, payload: []byte("abcde"),
			sparse: []SparseRange{{Skip: 1 << 20, Len: 2}, {Skip: 3, Len: 3}, {Skip: 1 << 20, Len: 0}}},
		echunk("s.ibd"),
		rawChunk{typ: ChunkSparse, path: "hole", sparse: []SparseRange{{Skip: 5000, Len: 0}}},
		echunk("hole"),
	)
	want := map[string][]byte{"s.ibd": []byte("head"), "hole": make([]byte, 5000)}
	want["s.ibd"] = append(want["s.ibd"], make([]byte, 1<<20)...)
	want["s.ibd"] = append(want["s.ibd"], "ab\x00\x00\x00cde"...)
	want["s.ibd"] = append(want["s.ibd"], make([]byte, 1<<20)...)
	dir := t.TempDir()
	if _, err := Extract(t.Context(), bytes.NewReader(data), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	equalFiles(t, readTree(t, dir), want)
	fi, err := os.Stat(filepath.Join(dir, "s.ibd"))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 >= 1<<20 {
		t.Logf("s.ibd uses %d bytes on disk; the filesystem does not keep holes", st.Blocks*512)
	}
}

// TestExtractHostile feeds streams that must fail with a precise error
// and checks that nothing is written outside the target directory.
func TestExtractHostile(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(outside, "abs")
	tests := []struct {
		name    string
		data    []byte
		setup   func(t *testing.T, dir string)
		wantErr error
		wantMsg string
	}{
		{"dotdot", stream(pchunk("../x", 0, "evil"), echunk("../x")), nil,
			ErrUnsafePath, `chunk 0 (stream byte 0) path "../x": unsafe path: has a ".." component`},
		{"nested dotdot", stream(pchunk("ok", 0, "fine"), echunk("ok"), echunk("a/../../outside/x")), nil,
			ErrUnsafePath, `chunk 2 (stream byte 56) path "a/../../outside/x": unsafe path: has a ".." component`},
		{"trailing dotdot", stream(echunk("a/..")), nil, ErrUnsafePath, `has a ".." component`},
		{"absolute", stream(pchunk(abs, 0, "evil"), echunk(abs)), nil,
			ErrUnsafePath, "unsafe path: absolute"},
		// The Reader refuses these before Extract sees them.
		{"NUL", stream(echunk("a\x00b")), nil, ErrHeader, `path "a\x00b": invalid chunk header: path has a NUL byte at byte 1`},
		{"empty", stream(pchunk("", 0, "x")), nil, ErrHeader, "invalid chunk header: empty path"},
		{"backslash", stream(echunk(`..\x`)), nil, ErrUnsafePath, "contains a backslash"},
		{"dot", stream(echunk("./a")), nil, ErrUnsafePath, "not in clean form"},
		{"double slash", stream(echunk("a//b")), nil, ErrUnsafePath, "not in clean form"},
		{"symlink escape", stream(pchunk("link/file", 0, "evil"), echunk("link/file")),
			func(t *testing.T, dir string) {
				if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			}, nil, `path "link/file": create parent directory: `},
		{"symlink file escape", stream(pchunk("f", 0, "evil"), echunk("f")),
			func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(outside, "f"), filepath.Join(dir, "f")); err != nil {
					t.Fatal(err)
				}
			}, fs.ErrExist, `path "f": create: `},
		{"existing file", stream(pchunk("db/t.ibd", 0, "new"), echunk("db/t.ibd")),
			func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "db", "t.ibd"), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}, fs.ErrExist, `path "db/t.ibd": create: `},
		{"reopened", stream(pchunk("a", 0, "one"), echunk("a"), pchunk("a", 0, "two"), echunk("a")), nil,
			fs.ErrExist, `chunk 2 (stream byte 53) path "a": create: `},
		{"huge length", stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(1) << 40)}), nil,
			ErrTooLarge, "payload of 1099511627776 bytes"},
		{"bad crc", stream(pchunk("a", 0, "x"), rawChunk{typ: ChunkPayload, path: "a", off: 1, payload: []byte("y"), crc: ptr(uint32(0))}), nil,
			ErrChecksum, `chunk 1 (stream byte 36) path "a" offset 1: checksum mismatch`},
		{"truncated header", stream(pchunk("a", 0, "x"), echunk("a"))[:40], nil,
			io.ErrUnexpectedEOF, "chunk 1 (stream byte 36): truncated stream: end of input in header"},
		{"truncated payload", stream(pchunk("a", 0, "xyz"))[:36], nil,
			io.ErrUnexpectedEOF, `chunk 0 (stream byte 0) path "a": truncated stream: end of input in payload`},
		{"out of order", stream(pchunk("a", 0, "x"), pchunk("a", 2, "z")), nil,
			ErrOrder, `path "a" offset 2: out-of-order chunk: offset 2, want 1`},
		{"unknown type", stream(rawChunk{typ: 'T', path: "a", payload: []byte("x")}), nil,
			ErrHeader, "unknown chunk type 'T'"},
		{"no end of file", stream(pchunk("b", 0, "x"), pchunk("a", 0, "x"), echunk("c")), nil,
			ErrTruncated, `end of stream with 2 files lacking an end-of-file chunk: "a", "b"`},
		{"file then dir", stream(echunk("a"), echunk("a/b")), nil,
			syscall.EEXIST, `chunk 1 (stream byte 15) path "a/b": create parent directory: mkdirat a: file exists`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprintf("dir%d", i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			_, err := Extract(t.Context(), bytes.NewReader(tt.data), dir, ExtractOptions{Workers: 2})
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantMsg)
			}
			checkOutside(t, base, outside)
		})
	}
}

// checkOutside fails if anything but the dirN directories and the empty
// outside directory exists in base.
func checkOutside(t *testing.T, base, outside string) {
	t.Helper()
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "outside" && !strings.HasPrefix(e.Name(), "dir") {
			t.Errorf("%s was written outside the target", filepath.Join(base, e.Name()))
		}
	}
	if ents, err := os.ReadDir(outside); err != nil || len(ents) > 0 {
		t.Errorf("outside directory: %v, entries %v", err, ents)
	}
}

func TestExtractIgnorable(t *testing.T) {
	data := stream(
		pchunk("a", 0, "ab"),
		rawChunk{typ: 'Y', flags: FlagIgnorable, path: "../../evil", payload: []byte("zzz"), crc: ptr(uint32(5))},
		pchunk("a", 2, "c"),
		echunk("a"),
	)
	dir := t.TempDir()
	if _, err := Extract(t.Context(), bytes.NewReader(data), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	equalFiles(t, readTree(t, dir), map[string][]byte{"a": []byte("abc")})
}

// cancelReader cancels a context once n bytes were read through it.
type cancelReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// TestExtractBuffers mixes payload sizes that share, fill, overflow and
// exceed the slabs payloads are carved from, under several budgets.
func TestExtractBuffers(t *testing.T) {
	sizes := []int{1, 100_000, 300_000, ChunkSize, 5000, ChunkSize - 1, 2, ChunkSize + 1, 70_000, ChunkSize / 2, ChunkSize/2 + 1, 3}
	var chunks []rawChunk
	want := make(map[string][]byte)
	for i, n := range sizes {
		// Three files in turn, so that ops of one slab go to several workers.
		name := fmt.Sprintf("f%d", i%3)
		d := randomBytes(uint64(100+i), n)
		chunks = append(chunks, rawChunk{typ: ChunkPayload, path: name, off: uint64(len(want[name])), payload: d})
		want[name] = append(want[name], d...)
	}
	for name := range want {
		chunks = append(chunks, echunk(name))
	}
	data := stream(chunks...)
	for _, opts := range []ExtractOptions{
		{},
		{Workers: 1},
		{Workers: 3, MemoryLimit: 1},
		{Workers: 3, MemoryLimit: ChunkSize},
		{Workers: 2, MemoryLimit: ChunkSize + ChunkSize/2},
		{Workers: 4, MemoryLimit: 5 * ChunkSize},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Extract(t.Context(), iotest.HalfReader(bytes.NewReader(data)), dir, opts); err != nil {
				t.Fatal(err)
			}
			equalFiles(t, readTree(t, dir), want)
		})
	}
}

func TestExtractCancel(t *testing.T) {
	data, _ := testStream(t)
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Extract(ctx, bytes.NewReader(data), t.TempDir(), ExtractOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := &cancelReader{r: iotest.HalfReader(bytes.NewReader(data)), n: len(data) / 2, cancel: cancel}
		_, err := Extract(ctx, r, t.TempDir(), ExtractOptions{Workers: 2, MemoryLimit: 1})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

// TestExtractWorkerErrorNoDeadlock fails a write early in a long stream
// with a tiny memory budget: Extract must return the error, not hang.
func TestExtractWorkerErrorNoDeadlock(t *testing.T) {
	var chunks []rawChunk
	chunks = append(chunks, echunk("a"), pchunk("a/b", 0, "x"))
	for i := range 200 {
		chunks = append(chunks, pchunk(fmt.Sprint("f", i%7), uint64(i/7*1000), strings.Repeat("y", 1000)))
	}
	data := stream(chunks...)
	done := make(chan error, 1)
	go func() {
		_, err := Extract(t.Context(), bytes.NewReader(data), t.TempDir(), ExtractOptions{Workers: 2, MemoryLimit: 1})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("got %v, want EEXIST", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Extract hung after a worker error")
	}
}

func TestExtractMissingDir(t *testing.T) {
	_, err := Extract(t.Context(), bytes.NewReader(nil), filepath.Join(t.TempDir(), "nope"), ExtractOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}

// BenchmarkExtractFromEnv is the extractor side of
// scripts/bench-extract.sh: it extracts the stream in
// $MBSTREAM_EXTRACT_STREAM into $MBSTREAM_EXTRACT_DIR, emptied before each
// iteration (run it with -benchtime 1x to leave the files there).
// $MBSTREAM_EXTRACT_WORKERS and $MBSTREAM_EXTRACT_MEMORY, if set, override
// the default Workers and MemoryLimit.
func BenchmarkExtractFromEnv(b *testing.B) {
	src, dir := os.Getenv("MBSTREAM_EXTRACT_STREAM"), os.Getenv("MBSTREAM_EXTRACT_DIR")
	if src == "" || dir == "" {
		b.Skip("MBSTREAM_EXTRACT_STREAM and MBSTREAM_EXTRACT_DIR not set; see scripts/bench-extract.sh")
	}
	var opts ExtractOptions
	var err error
	if v := os.Getenv("MBSTREAM_EXTRACT_WORKERS"); v != "" {
		if opts.Workers, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	if v := os.Getenv("MBSTREAM_EXTRACT_MEMORY"); v != "" {
		if opts.MemoryLimit, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Extract(b.Context(), f, dir, opts)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Bytes)
	}
}

// BenchmarkExtract extracts a 256 MiB stream of 8 interleaved files.
func BenchmarkExtract(b *testing.B) {
	benchExtract(b, benchStream(b, 8, 32<<20))
}

// BenchmarkExtractSmallFiles extracts 2000 files of 16 to 112 KiB, as
// the many small tablespaces of a datadir.
func BenchmarkExtractSmallFiles(b *testing.B) {
	var chunks []rawChunk
	for i := range 2000 {
		name := fmt.Sprintf("db%d/t%d.ibd", i%10, i)
		chunks = append(chunks, rawChunk{typ: ChunkPayload, path: name, payload: randomBytes(uint64(i), 16<<10*(1+i%7))}, echunk(name))
	}
	benchExtract(b, stream(chunks...))
}

func benchExtract(b *testing.B, data []byte) {
	base := b.TempDir()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		dir := filepath.Join(base, fmt.Sprint(i))
		i++
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := Extract(b.Context(), bytes.NewReader(data), dir, ExtractOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// fakeFile is an outWriter that keeps nothing and calls write, if set, for
// each WriteAt.
type fakeFile struct {
	name  string
	write func(name string) error
}

func (f *fakeFile) WriteAt(p []byte, off int64) (int, error) {
	if f.write != nil {
		if err := f.write(f.name); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
func (f *fakeFile) Truncate(int64) error { return nil }
func (f *fakeFile) Close() error         { return nil }

// eofFunc calls fn once the reader it wraps is exhausted.
type eofFunc struct {
	r  io.Reader
	fn func()
}

func (e *eofFunc) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.fn()
	}
	return n, err
}

// TestExtractSparseMemory sends a hostile stream of sparse chunks with the
// largest maps and tiny payloads to workers that cannot write, and
// measures the live heap when the reader can go no further (it waits for
// memory, or has read everything): the maps must be counted against
// MemoryLimit. Before they were, all 40 maps of 512 KiB were held against
// a limit of 4 MiB.
func TestExtractSparseMemory(t *testing.T) {
	const (
		files   = 40
		entries = MaxSparseEntries / 2
		limit   = 4 << 20
	)
	// One body for every chunk: the map {1, 1}... then one byte per entry.
	body := make([]byte, 0, 9*entries)
	for range entries {
		body = binary.LittleEndian.AppendUint32(body, 1)
		body = binary.LittleEndian.AppendUint32(body, 1)
	}
	body = append(body, bytes.Repeat([]byte{'x'}, entries)...)
	sum := crc32.ChecksumIEEE(body)
	var parts []io.Reader
	for i := range files {
		path := fmt.Sprintf("f%03d", i)
		h := append([]byte(Magic), 0, byte(ChunkSparse))
		h = binary.LittleEndian.AppendUint32(h, uint32(len(path)))
		h = append(h, path...)
		h = binary.LittleEndian.AppendUint32(h, entries)
		h = binary.LittleEndian.AppendUint64(h, entries) // payload bytes
		h = binary.LittleEndian.AppendUint64(h, 0)
		h = binary.LittleEndian.AppendUint32(h, sum)
		parts = append(parts, bytes.NewReader(h), bytes.NewReader(body))
	}
	for i := range files {
		parts = append(parts, bytes.NewReader(echunk(fmt.Sprintf("f%03d", i)).bytes()))
	}

	var base, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	gate := make(chan struct{})
	var once sync.Once
	measure := func() {
		once.Do(func() {
			runtime.GC()
			runtime.ReadMemStats(&peak)
			close(gate)
		})
	}
	opts := ExtractOptions{
		Workers:     2,
		MemoryLimit: limit,
		create: func(name string) (outWriter, error) {
			return &fakeFile{name: name, write: func(string) error { <-gate; return nil }}, nil
		},
		onWait: measure,
	}
	src := &eofFunc{r: io.MultiReader(parts...), fn: measure}
	st, err := Extract(t.Context(), src, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != files {
		t.Errorf("got %d files, want %d", st.Files, files)
	}
	// The limit, plus the one map the Reader holds before it is counted,
	// plus slack for the runtime. (The doc's "plus one chunk" is for a
	// chunk larger than the limit; these are smaller.)
	grown := int64(peak.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("live heap grew by %d KiB", grown>>10)
	if bound := int64(limit + 8*entries + 2<<20); grown > bound {
		t.Errorf("live heap grew by %d KiB with the reader stalled, want at most %d KiB (limit %d KiB)",
			grown>>10, bound>>10, limit>>10)
	}
}

// TestExtractAbort fails the first write with ENOSPC while the stream
// blocks, as a socket does when the donor has more to send: Abort must be
// called once with the error, and once it closes the stream, Extract must
// return an error that names the path and satisfies errors.Is ENOSPC.
func TestExtractAbort(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(stream(pchunk("db/t.ibd", 0, "data")))
	var calls atomic.Int32
	opts := ExtractOptions{
		create: func(name string) (outWriter, error) {
			return &fakeFile{name: name, write: func(name string) error {
				return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}
			}}, nil
		},
		Abort: func(err error) {
			calls.Add(1)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Abort(%v), want an ENOSPC error", err)
			}
			pr.CloseWithError(fmt.Errorf("closed by Abort: %w", err))
		},
	}
	_, err := Extract(t.Context(), pr, t.TempDir(), opts)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), `path "db/t.ibd"`) {
		t.Errorf("error %q does not name the path", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Abort called %d times, want 1", n)
	}
}

// TestExtractAbortCancel cancels ctx while the stream blocks: Abort gets
// the cancellation, and Extract returns once it has closed the stream.
func TestExtractAbortCancel(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		pw.Write(stream(pchunk("a", 0, "x")))
		cancel()
	}()
	var calls atomic.Int32
	opts := ExtractOptions{Abort: func(err error) {
		calls.Add(1)
		pr.CloseWithError(err)
	}}
	_, err := Extract(ctx, pr, t.TempDir(), opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Abort called %d times, want 1", n)
	}
}

// TestExtractNoAbortOnStreamError checks that a corrupt stream ends
// Extract without Abort: the reader is not blocked then.
func TestExtractNoAbortOnStreamError(t *testing.T) {
	data := stream(rawChunk{typ: ChunkPayload, path: "a", payload: []byte("x"), crc: ptr(uint32(1))})
	opts := ExtractOptions{Abort: func(err error) { t.Errorf("Abort(%v) for a stream error", err) }}
	if _, err := Extract(t.Context(), bytes.NewReader(data), t.TempDir(), opts); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
}

// WriteBehind changes nothing in what is written.
func TestExtractWriteBehind(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := w.WriteFile("db/t.ibd", data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Extract(t.Context(), &stream, dir, ExtractOptions{WriteBehind: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "db", "t.ibd"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("extracted file differs (%v, %d of %d bytes)", err, len(got), len(data))
	}
}
