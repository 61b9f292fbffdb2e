package mbstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// rawChunk builds chunks by hand, valid or not, for tests.
type rawChunk struct {
	typ     ChunkType
	flags   byte
	path    string
	off     uint64
	payload []byte
	sparse  []SparseRange
	crc     *uint32 // checksum to write instead of the right one
	length  *uint64 // payload length to write instead of the real one
	magic   string  // instead of Magic
}

func (c rawChunk) bytes() []byte {
	var b []byte
	magic := Magic
	if c.magic != "" {
		magic = c.magic
	}
	b = append(b, magic...)
	b = append(b, c.flags, byte(c.typ))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.path)))
	b = append(b, c.path...)
	if c.typ == ChunkEOF {
		return b
	}
	var m []byte
	if c.typ == ChunkSparse {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c.sparse)))
		for _, s := range c.sparse {
			m = binary.LittleEndian.AppendUint32(m, s.Skip)
			m = binary.LittleEndian.AppendUint32(m, s.Len)
		}
	}
	n := uint64(len(c.payload))
	if c.length != nil {
		n = *c.length
	}
	b = binary.LittleEndian.AppendUint64(b, n)
	b = binary.LittleEndian.AppendUint64(b, c.off)
	sum := crc32.Update(crc32.ChecksumIEEE(m), crc32.IEEETable, c.payload)
	if c.crc != nil {
		sum = *c.crc
	}
	b = binary.LittleEndian.AppendUint32(b, sum)
	b = append(b, m...)
	return append(b, c.payload...)
}

func stream(chunks ...rawChunk) []byte {
	var b []byte
	for _, c := range chunks {
		b = append(b, c.bytes()...)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func pchunk(path string, off uint64, data string) rawChunk {
	return rawChunk{typ: ChunkPayload, path: path, off: off, payload: []byte(data)}
}

func echunk(path string) rawChunk { return rawChunk{typ: ChunkEOF, path: path} }

// errTooBig marks streams whose files are too large for readFiles.
var errTooBig = errors.New("file too large for the test")

// readFiles decodes a stream with a Reader into file contents, holes as
// zeros, the way Extract lays them out. It fails like Extract on a path
// that reappears after its end-of-file chunk or a file without one, and
// with errTooBig for files over maxSize bytes.
func readFiles(r io.Reader, opts ReaderOptions, maxSize int) (map[string][]byte, error) {
	rd := NewReaderOptions(r, opts)
	files := make(map[string][]byte)
	open := make(map[string]bool)
	for {
		c, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if _, ok := files[c.Path]; ok && !open[c.Path] {
			return nil, fmt.Errorf("%q reopened", c.Path)
		}
		buf := files[c.Path]
		if buf == nil {
			buf = []byte{}
		}
		if c.Type == ChunkEOF {
			files[c.Path] = buf
			open[c.Path] = false
			continue
		}
		open[c.Path] = true
		if c.Offset != uint64(len(buf)) {
			return nil, fmt.Errorf("Reader let offset %d through, want %d", c.Offset, len(buf))
		}
		if c.End() > uint64(maxSize) {
			return nil, errTooBig
		}
		data, err := io.ReadAll(rd)
		if err != nil {
			return nil, err
		}
		if uint64(len(data)) != c.Length {
			return nil, fmt.Errorf("read %d bytes of payload, header says %d", len(data), c.Length)
		}
		if c.Type == ChunkPayload {
			buf = append(buf, data...)
		} else {
			for _, s := range c.Sparse {
				buf = append(buf, make([]byte, s.Skip)...)
				buf = append(buf, data[:s.Len]...)
				data = data[s.Len:]
			}
		}
		files[c.Path] = buf
	}
	for p, o := range open {
		if o {
			return nil, fmt.Errorf("%q: no end-of-file chunk", p)
		}
	}
	return files, nil
}

func equalFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		t.Fatalf("got files %q, want %q", g, w)
	}
	for name, w := range want {
		if g := got[name]; !bytes.Equal(g, w) {
			t.Errorf("%s: got %d bytes, want %d (contents differ)", name, len(g), len(w))
		}
	}
}

// testStream returns a stream written by our Writer with interleaved
// chunks of several files, and the files.
func testStream(t testing.TB) ([]byte, map[string][]byte) {
	t.Helper()
	files := map[string][]byte{
		"ibdata1":                randomBytes(20, ChunkSize+ChunkSize/3),
		"db/t1.ibd":              randomBytes(21, 200_000),
		"db/t2.frm":              []byte("frm"),
		"empty":                  {},
		"xtrabackup_checkpoints": []byte("backup_type = full-backuped\n"),
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	// Interleave: open every file, write in rounds of 64 KiB, close.
	names := slices.Sorted(maps.Keys(files))
	fws := make(map[string]io.WriteCloser)
	for _, n := range names {
		fw, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		fws[n] = fw
	}
	for off := 0; ; off += 64 << 10 {
		more := false
		for _, n := range names {
			d := files[n]
			if off < len(d) {
				more = true
				if _, err := fws[n].Write(d[off:min(len(d), off+64<<10)]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !more {
			break
		}
	}
	for _, n := range names {
		if err := fws[n].Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), files
}

func TestReaderRoundTrip(t *testing.T) {
	data, want := testStream(t)
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"OneByteReader", iotest.OneByteReader},
		{"HalfReader", iotest.HalfReader},
		{"DataErrReader", iotest.DataErrReader},
	}
	for _, rt := range readers {
		t.Run(rt.name, func(t *testing.T) {
			got, err := readFiles(rt.wrap(bytes.NewReader(data)), ReaderOptions{}, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			equalFiles(t, got, want)
		})
	}
}

// TestReaderChunks checks the chunk headers Next returns.
func TestReaderChunks(t *testing.T) {
	data := stream(
		pchunk("a", 0, "hello"),
		rawChunk{typ: 'X', flags: FlagIgnorable, path: "future", payload: []byte("skip me"), crc: ptr(uint32(1))},
		rawChunk{typ: ChunkSparse, path: "a", off: 5, payload: []byte("xyz"),
			sparse: []SparseRange{{Skip: 10, Len: 2}, {Skip: 0, Len: 1}, {Skip: 7, Len: 0}}},
		pchunk("a", 25, ""),
		echunk("a"),
		pchunk("a", 0, "again"),
		echunk("a"),
	)
	want := []string{
		`P "a" flags=0 off=0 len=5 sparse=[] "hello"`,
		`S "a" flags=0 off=5 len=3 sparse=[{10 2} {0 1} {7 0}] "xyz"`,
		`P "a" flags=0 off=25 len=0 sparse=[] ""`,
		`E "a" flags=0 off=0 len=0 sparse=[] ""`,
		`P "a" flags=0 off=0 len=5 sparse=[] "again"`,
		`E "a" flags=0 off=0 len=0 sparse=[] ""`,
	}
	rd := NewReader(bytes.NewReader(data))
	var got []string
	forEach(t, rd.Next, func(c *Chunk) {
		p, err := io.ReadAll(rd)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, fmt.Sprintf("%c %q flags=%d off=%d len=%d sparse=%v %q",
			c.Type, c.Path, c.Flags, c.Offset, c.Length, c.Sparse, p))
	})
	if !slices.Equal(got, want) {
		t.Errorf("got chunks\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := rd.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after end: got %v, want io.EOF", err)
	}
}

// TestReaderTestReader runs iotest.TestReader over a chunk's payload.
func TestReaderTestReader(t *testing.T) {
	payload := randomBytes(1, 100_000)
	rd := NewReader(bytes.NewReader(stream(rawChunk{typ: ChunkPayload, path: "f", payload: payload}, echunk("f"))))
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(rd, payload); err != nil {
		t.Fatal(err)
	}
}

func TestReaderErrors(t *testing.T) {
	good := stream(pchunk("db/t.ibd", 0, "0123456789"), echunk("db/t.ibd"))
	tests := []struct {
		name    string
		data    []byte
		opts    ReaderOptions
		read    bool // read each payload before Next
		wantErr error
		wantMsg string
	}{
		{"bad magic", stream(rawChunk{typ: ChunkPayload, path: "a", magic: "XBSTCK02"}), ReaderOptions{}, false,
			ErrHeader, `chunk 0 (stream byte 0): invalid chunk header: magic "XBSTCK02"`},
		{"path too long", stream(echunk(strings.Repeat("a", 512))), ReaderOptions{}, false,
			ErrHeader, "path length 512, limit 511"},
		{"empty path", stream(echunk("")), ReaderOptions{}, false,
			ErrHeader, "chunk 0 (stream byte 0): invalid chunk header: empty path"},
		{"NUL in path", stream(pchunk("a", 0, "x"), echunk("a"), echunk("\x000000")), ReaderOptions{}, false,
			ErrHeader, `chunk 2 (stream byte 51) path "\x000000": invalid chunk header: path has a NUL byte at byte 0`},
		{"NUL in payload path", stream(pchunk("db/t\x00.ibd", 0, "x")), ReaderOptions{}, false,
			ErrHeader, "path has a NUL byte at byte 4"},
		{"unknown type", stream(pchunk("a", 0, "x"), echunk("a"), rawChunk{typ: 'Z', path: "b"}), ReaderOptions{}, false,
			ErrHeader, `chunk 2 (stream byte 51) path "b": invalid chunk header: unknown chunk type 'Z'`},
		{"bad crc read", stream(rawChunk{typ: ChunkPayload, path: "db/t.ibd", off: 0, payload: []byte("abc"), crc: ptr(uint32(7))}),
			ReaderOptions{}, true, ErrChecksum, `chunk 0 (stream byte 0) path "db/t.ibd": checksum mismatch: computed 0x352441c2, header has 0x00000007`},
		{"bad crc skipped", stream(pchunk("db/t.ibd", 0, "abc"),
			rawChunk{typ: ChunkPayload, path: "db/t.ibd", off: 3, payload: []byte("def"), crc: ptr(uint32(7))}),
			ReaderOptions{}, false, ErrChecksum, `chunk 1 (stream byte 45) path "db/t.ibd" offset 3: checksum mismatch`},
		{"bad crc sparse map", stream(rawChunk{typ: ChunkSparse, path: "s", payload: []byte("ab"),
			sparse: []SparseRange{{1, 2}}, crc: ptr(crc32.ChecksumIEEE([]byte("ab")))}),
			ReaderOptions{}, true, ErrChecksum, "checksum mismatch"},
		{"huge length", stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(1) << 62)}), ReaderOptions{}, false,
			ErrTooLarge, "payload of 4611686018427387904 bytes, limit 67108864"},
		{"over custom cap", stream(pchunk("a", 0, "12345")), ReaderOptions{MaxPayload: 4}, false,
			ErrTooLarge, "payload of 5 bytes, limit 4"},
		{"huge sparse map", stream(rawChunk{typ: ChunkSparse, path: "a", sparse: make([]SparseRange, 3)}), ReaderOptions{MaxPayload: 16}, false,
			ErrTooLarge, "sparse map of 3 entries"},
		{"sparse entry without data", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("ab"), sparse: []SparseRange{{1, 1}, {5, 0}, {1, 1}}}),
			ReaderOptions{}, false, ErrHeader, "sparse map entry 1 of 3 has no data"},
		{"sparse entries over payload", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("a"), sparse: []SparseRange{{1, 1}, {1, 0}, {1, 0}}}),
			ReaderOptions{}, false, ErrHeader, "sparse map of 3 entries for 1 payload bytes"},
		{"too many sparse entries", stream(rawChunk{typ: ChunkSparse, path: "a", payload: make([]byte, MaxSparseEntries+1), sparse: slices.Repeat([]SparseRange{{0, 1}}, MaxSparseEntries+1)}),
			ReaderOptions{}, false, ErrTooLarge, "sparse map of 131073 entries, limit 131072"},
		{"sparse map mismatch", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("abc"), sparse: []SparseRange{{5, 2}}}), ReaderOptions{}, false,
			ErrHeader, "sparse map covers 2 bytes, payload has 3"},
		{"out of order", stream(pchunk("a", 0, "abc"), pchunk("a", 4, "d")), ReaderOptions{}, false,
			ErrOrder, `chunk 1 (stream byte 38) path "a" offset 4: out-of-order chunk: offset 4, want 3`},
		{"not from zero", stream(pchunk("a", 10, "abc")), ReaderOptions{}, false,
			ErrOrder, "offset 10, want 0"},
		{"after sparse", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("x"), sparse: []SparseRange{{100, 1}}}, pchunk("a", 1, "y")),
			ReaderOptions{}, false, ErrOrder, "offset 1, want 101"},
		{"truncated header", good[:10], ReaderOptions{}, false, ErrTruncated, "chunk 0 (stream byte 0): truncated stream: end of input in header"},
		{"truncated path", good[:16], ReaderOptions{}, false, ErrTruncated, "end of input in path"},
		{"truncated payload header", good[:30], ReaderOptions{}, false, ErrTruncated, `path "db/t.ibd": truncated stream: end of input in payload header`},
		{"truncated payload read", good[:50], ReaderOptions{}, true, ErrTruncated, "end of input in payload"},
		{"truncated payload skipped", good[:50], ReaderOptions{}, false, ErrTruncated, "end of input in payload"},
		{"truncated second chunk", good[:len(good)-1], ReaderOptions{}, false, ErrTruncated, "chunk 1 (stream byte 52)"},
		{"truncated ignorable", stream(rawChunk{typ: 'Q', flags: FlagIgnorable, path: "a", payload: []byte("abc")})[:37], ReaderOptions{}, false,
			ErrTruncated, "end of input in payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := drain(NewReaderOptions(bytes.NewReader(tt.data), tt.opts), tt.read)
			wantErr, wantMsg := tt.wantErr, tt.wantMsg
			if !errors.Is(err, wantErr) {
				t.Fatalf("got error %v, want %v", err, wantErr)
			}
			if !strings.Contains(err.Error(), wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, wantMsg)
			}
			if errors.Is(err, ErrTruncated) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
			}
			var ce *ChunkError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *ChunkError", err)
			}
		})
	}
}

// drain reads a whole stream, reading payloads if read is set, and returns
// the first error other than io.EOF. It checks that the error is sticky.
func drain(rd *Reader, read bool) error {
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil && read {
			_, err = io.Copy(io.Discard, rd)
		}
		if err != nil {
			if _, err2 := rd.Next(); !errors.Is(err2, err) {
				return fmt.Errorf("error not sticky: Next returned %w after %w", err2, err)
			}
			if _, err2 := rd.Read(make([]byte, 1)); !errors.Is(err2, err) {
				return fmt.Errorf("error not sticky: Read returned %w after %w", err2, err)
			}
			return err
		}
	}
}

// TestReaderTimeout checks that an error of the underlying reader between
// reads (iotest.TimeoutReader) comes back, not a truncation.
func TestReaderTimeout(t *testing.T) {
	data, _ := testStream(t)
	rd := NewReader(iotest.TimeoutReader(bytes.NewReader(data)))
	err := drain(rd, true)
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("got %v, want iotest.ErrTimeout", err)
	}
}

// TestReaderLateError checks that an error of the underlying reader in the
// middle of a chunk is returned as is, with the chunk's position.
func TestReaderLateError(t *testing.T) {
	boom := errors.New("boom")
	good := stream(pchunk("db/t.ibd", 0, "0123456789"), echunk("db/t.ibd"))
	for _, read := range []bool{false, true} {
		r := io.MultiReader(bytes.NewReader(good[:45]), iotest.ErrReader(boom))
		err := drain(NewReader(r), read)
		const want = `mbstream: chunk 0 (stream byte 0) path "db/t.ibd": read payload: boom`
		if !errors.Is(err, boom) || err.Error() != want {
			t.Errorf("read=%v: got %v, want %s", read, err, want)
		}
	}
}

// benchStream returns a stream of files files of size bytes each, their
// chunks interleaved as mariadb-backup --parallel writes them.
func benchStream(b *testing.B, files, size int) []byte {
	b.Helper()
	var buf bytes.Buffer
	buf.Grow(files*size + files*size/ChunkSize*64 + 4096)
	w := NewWriter(&buf)
	data := randomBytes(7, size)
	fws := make([]io.WriteCloser, files)
	for i := range fws {
		fw, err := w.Create(fmt.Sprintf("db%d/t%d.ibd", i%3, i))
		if err != nil {
			b.Fatal(err)
		}
		fws[i] = fw
	}
	for off := 0; off < size; off += ChunkSize {
		for _, fw := range fws {
			if _, err := fw.Write(data[off:min(size, off+ChunkSize)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, fw := range fws {
		if err := fw.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchStream(b, 4, 16<<20)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rd := NewReader(bytes.NewReader(data))
		forEach(b, rd.Next, func(*Chunk) {
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rd}, buf); err != nil {
				b.Fatal(err)
			}
		})
	}
}
