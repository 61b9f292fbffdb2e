package mbstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// scanned is a copy of a Segment.
type scanned struct {
	header  []byte
	typ     ChunkType
	flags   byte
	path    string
	off     int64
	sparse  bool
	smap    []SparseRange
	payload []byte
}

func (c scanned) String() string {
	return fmt.Sprintf("%c %q flags=%d off=%d sparse=%v map=%v hdr=%d %q",
		c.typ, c.path, c.flags, c.off, c.sparse, c.smap, len(c.header), c.payload)
}

// scanAll scans a stream to its end or first error. It returns copies of
// the segments, the concatenation of their bytes and the error, other than
// io.EOF, checking that the error is sticky.
func scanAll(r io.Reader, opts ScanOptions) ([]scanned, []byte, error) {
	var segs []scanned
	var out []byte
	s := NewScanner(r, opts)
	for {
		seg, err := s.Next()
		if errors.Is(err, io.EOF) {
			if _, err2 := s.Next(); !errors.Is(err2, io.EOF) {
				return segs, out, fmt.Errorf("next after io.EOF returned %w", err2)
			}
			return segs, out, nil
		}
		if err != nil {
			if seg != nil {
				return segs, out, fmt.Errorf("Next returned a segment with error %w", err)
			}
			if _, err2 := s.Next(); !errors.Is(err2, err) {
				return segs, out, fmt.Errorf("error not sticky: Next returned %w after %w", err2, err)
			}
			return segs, out, err
		}
		out = append(out, seg.Header...)
		out = append(out, seg.Payload...)
		segs = append(segs, scanned{
			header: slices.Clone(seg.Header), typ: seg.Type, flags: seg.Flags, path: seg.Path,
			off: seg.Offset, sparse: seg.Sparse, smap: slices.Clone(seg.Map), payload: bytes.Clone(seg.Payload),
		})
	}
}

// readerChunks decodes a stream with the Reader into the same form,
// without headers; the Reader skips ignorable chunks.
func readerChunks(r io.Reader, max int64) ([]scanned, error) {
	var out []scanned
	rd := NewReaderOptions(r, ReaderOptions{MaxPayload: max})
	for {
		c, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		p, err := io.ReadAll(rd)
		if err != nil {
			return out, err
		}
		sc := scanned{typ: c.Type, flags: c.Flags, path: c.Path, sparse: c.Type == ChunkSparse, smap: c.Sparse}
		if c.Type != ChunkEOF {
			sc.off, sc.payload = int64(c.Offset), p
		}
		out = append(out, sc)
	}
}

// known drops ignorable chunks of unknown type and headers, leaving what
// the Reader returns.
func known(segs []scanned) []scanned {
	var out []scanned
	for _, s := range segs {
		if s.typ == ChunkPayload || s.typ == ChunkSparse || s.typ == ChunkEOF {
			s.header = nil
			if len(s.smap) == 0 {
				s.smap = nil
			}
			if len(s.payload) == 0 {
				s.payload = nil
			}
			out = append(out, s)
		}
	}
	return out
}

// checkSegments checks that the segments are framed as their fields say:
// each header is what rawChunk would write for them.
func checkSegments(t *testing.T, segs []scanned) {
	t.Helper()
	for i, s := range segs {
		if s.typ == ChunkEOF {
			if s.payload != nil {
				t.Errorf("segment %d (%v): end-of-file chunk with a payload", i, s)
			}
		} else if s.payload == nil {
			t.Errorf("segment %d (%v): nil payload", i, s)
		}
		if s.typ != ChunkPayload && s.typ != ChunkSparse && s.typ != ChunkEOF {
			continue // the offset of ignorable chunks is not reported
		}
		want := rawChunk{typ: s.typ, flags: s.flags, path: s.path, off: uint64(s.off), payload: s.payload, sparse: s.smap}.bytes()
		if got := append(slices.Clone(s.header), s.payload...); !bytes.Equal(got, want) {
			t.Errorf("segment %d (%v): bytes differ from the chunk its fields describe", i, s)
		}
	}
}

// mixedStream returns a stream written by our Writer, with interleaved
// files, in which hand-made sparse chunks, ignorable chunks and empty
// payload chunks are spliced between the Writer's chunks. Its chunks
// follow no fixed pattern: seed decides.
func mixedStream(t testing.TB, seed uint64, maxFile int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var buf bytes.Buffer
	w := NewWriter(&buf)
	type open struct {
		name string
		w    io.WriteCloser
		data []byte
	}
	var files []*open
	for i := range 1 + rng.IntN(6) {
		name := fmt.Sprintf("db%d/t%d.ibd", i%2, i)
		fw, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, &open{name, fw, randomBytes(seed*100+uint64(i), rng.IntN(maxFile+1))})
	}
	sparseOff := map[string]uint64{}
	for len(files) > 0 {
		switch rng.IntN(8) {
		case 0: // a sparse chunk of a file of its own
			name := fmt.Sprintf("sparse%d", rng.IntN(3))
			var m []SparseRange
			var payload []byte
			for j := range rng.IntN(4) {
				n := uint32(1 + rng.IntN(3000))
				m = append(m, SparseRange{Skip: uint32(rng.IntN(1 << 16)), Len: n})
				payload = append(payload, randomBytes(seed+uint64(j), int(n))...)
			}
			if rng.IntN(2) == 0 {
				m = append(m, SparseRange{Skip: uint32(rng.IntN(100))}) // trailing hole
			}
			c := rawChunk{typ: ChunkSparse, path: name, off: sparseOff[name], payload: payload, sparse: m}
			buf.Write(c.bytes())
			sparseOff[name] = (&Chunk{Offset: c.off, Length: uint64(len(payload)), Sparse: m}).End()
			if rng.IntN(3) == 0 {
				buf.Write(echunk(name).bytes())
				delete(sparseOff, name)
			}
		case 1: // an ignorable chunk of a future type, with a wrong CRC
			buf.Write(rawChunk{typ: 'Y', flags: FlagIgnorable | 0x80, path: "future", off: rng.Uint64(),
				payload: randomBytes(seed, rng.IntN(100)), crc: ptr(rng.Uint32())}.bytes())
		default: // a piece of one of the Writer's files
			i := rng.IntN(len(files))
			f := files[i]
			n := min(len(f.data), rng.IntN(3*ChunkSize/2))
			if _, err := f.w.Write(f.data[:n]); err != nil {
				t.Fatal(err)
			}
			if f.data = f.data[n:]; len(f.data) == 0 && rng.IntN(2) == 0 {
				if err := f.w.Close(); err != nil {
					t.Fatal(err)
				}
				files = slices.Delete(files, i, i+1)
			}
		}
	}
	for name, off := range sparseOff {
		buf.Write(pchunk(name, off, "").bytes())
		buf.Write(echunk(name).bytes())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkScan scans data read through r and checks the segments against
// the input and against the Reader.
func checkScan(t *testing.T, data []byte, r io.Reader) []scanned {
	t.Helper()
	segs, out, err := scanAll(r, ScanOptions{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("segments give %d bytes, want the %d bytes of the input (contents differ)", len(out), len(data))
	}
	checkSegments(t, segs)
	want, err := readerChunks(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("Reader: %v", err)
	}
	if got := known(segs); !slices.EqualFunc(got, want, func(a, b scanned) bool { return a.String() == b.String() }) {
		t.Errorf("Scanner and Reader disagree: got %d chunks, want %d", len(got), len(want))
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || got[i].String() != want[i].String() {
				t.Logf("first difference at chunk %d", i)
				break
			}
		}
	}
	return segs
}

func TestScanRoundTrip(t *testing.T) {
	big, _ := testStream(t)
	readers := []struct {
		name  string
		wrap  func(io.Reader) io.Reader
		small bool // too slow for big streams
	}{
		{"plain", func(r io.Reader) io.Reader { return r }, false},
		{"HalfReader", iotest.HalfReader, false},
		{"DataErrReader", iotest.DataErrReader, false},
		{"OneByteReader", iotest.OneByteReader, true},
	}
	streams := []struct {
		name  string
		data  []byte
		small bool
	}{
		{"empty", nil, true},
		{"writer", big, false},
	}
	for seed := range uint64(12) {
		streams = append(streams, struct {
			name  string
			data  []byte
			small bool
		}{fmt.Sprintf("mixed%d", seed), mixedStream(t, seed, 100_000), true})
	}
	streams = append(streams, struct {
		name  string
		data  []byte
		small bool
	}{"mixedBig", mixedStream(t, 99, 5*ChunkSize/2), false})
	for _, st := range streams {
		for _, rt := range readers {
			if rt.small && !st.small {
				continue
			}
			t.Run(st.name+"/"+rt.name, func(t *testing.T) {
				checkScan(t, st.data, rt.wrap(bytes.NewReader(st.data)))
			})
		}
	}
}

// TestScanSegments checks the fields of each kind of chunk.
func TestScanSegments(t *testing.T) {
	chunks := []rawChunk{
		pchunk("a", 0, "hello"),
		{typ: 'X', flags: FlagIgnorable, path: "future", off: 1 << 63, payload: []byte("skip me"), crc: ptr(uint32(1))},
		{typ: ChunkSparse, path: "a", off: 5, payload: []byte("xyz"),
			sparse: []SparseRange{{Skip: 10, Len: 2}, {Skip: 0, Len: 1}, {Skip: 7, Len: 0}}},
		pchunk("a", 25, ""),
		echunk("a"),
		pchunk("a", 0, "again"),
		echunk("a"),
		{typ: 'X', flags: FlagIgnorable, path: ""},
	}
	want := []string{
		`P "a" flags=0 off=0 sparse=false map=[] hdr=35 "hello"`,
		`X "future" flags=1 off=0 sparse=false map=[] hdr=40 "skip me"`,
		`S "a" flags=0 off=5 sparse=true map=[{10 2} {0 1} {7 0}] hdr=63 "xyz"`,
		`P "a" flags=0 off=25 sparse=false map=[] hdr=35 ""`,
		`E "a" flags=0 off=0 sparse=false map=[] hdr=15 ""`,
		`P "a" flags=0 off=0 sparse=false map=[] hdr=35 "again"`,
		`E "a" flags=0 off=0 sparse=false map=[] hdr=15 ""`,
		`X "" flags=1 off=0 sparse=false map=[] hdr=34 ""`,
	}
	data := stream(chunks...)
	segs, out, err := scanAll(bytes.NewReader(data), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, s := range segs {
		got = append(got, s.String())
		if c := chunks[i].bytes(); !bytes.Equal(s.header, c[:len(c)-len(s.payload)]) {
			t.Errorf("segment %d: header %q, want %q", i, s.header, c[:len(c)-len(s.payload)])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got segments\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !bytes.Equal(out, data) {
		t.Errorf("segments do not reproduce the stream")
	}
	checkSegments(t, segs)
}

// TestScanErrors checks that the Scanner fails as the Reader does, with
// the same error, and that the segments before the failing chunk give the
// stream up to it.
func TestScanErrors(t *testing.T) {
	good := stream(pchunk("db/t.ibd", 0, "0123456789"), echunk("db/t.ibd"))
	ign := stream(rawChunk{typ: 'Q', flags: FlagIgnorable, path: "a", payload: []byte("abc")})
	tests := []struct {
		name    string
		data    []byte
		max     int64
		wantErr error
		wantMsg string
		unlike  bool // the Reader returns another error
	}{
		{"bad magic", stream(rawChunk{typ: ChunkPayload, path: "a", magic: "XBSTCK02"}), 0,
			ErrHeader, `chunk 0 (stream byte 0): invalid chunk header: magic "XBSTCK02"`, false},
		{"path too long", stream(echunk(strings.Repeat("a", 512))), 0, ErrHeader, "path length 512, limit 511", false},
		{"empty path", stream(echunk("")), 0, ErrHeader, "chunk 0 (stream byte 0): invalid chunk header: empty path", false},
		{"NUL in path", stream(pchunk("a", 0, "x"), echunk("a"), echunk("\x000000")), 0,
			ErrHeader, `chunk 2 (stream byte 51) path "\x000000": invalid chunk header: path has a NUL byte at byte 0`, false},
		{"unknown type", stream(pchunk("a", 0, "x"), echunk("a"), rawChunk{typ: 'Z', path: "b"}), 0,
			ErrHeader, `chunk 2 (stream byte 51) path "b": invalid chunk header: unknown chunk type 'Z'`, false},
		{"bad crc", stream(pchunk("db/t.ibd", 0, "abc"),
			rawChunk{typ: ChunkPayload, path: "db/t.ibd", off: 3, payload: []byte("def"), crc: ptr(uint32(7))}), 0,
			ErrChecksum, `chunk 1 (stream byte 45) path "db/t.ibd" offset 3: checksum mismatch: computed 0x`, false},
		{"bad crc sparse map", stream(rawChunk{typ: ChunkSparse, path: "s", payload: []byte("ab"),
			sparse: []SparseRange{{1, 2}}, crc: ptr(crc32.ChecksumIEEE([]byte("ab")))}), 0, ErrChecksum, "checksum mismatch", false},
		{"bad crc empty", stream(rawChunk{typ: ChunkPayload, path: "e", crc: ptr(uint32(1))}), 0, ErrChecksum, "checksum mismatch", false},
		{"huge length", stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(1) << 62)}), 0,
			ErrTooLarge, "payload of 4611686018427387904 bytes, limit 67108864", false},
		{"over custom cap", stream(pchunk("a", 0, "12345")), 4, ErrTooLarge, "payload of 5 bytes, limit 4", false},
		{"huge sparse map", stream(rawChunk{typ: ChunkSparse, path: "a", sparse: make([]SparseRange, 3)}), 16,
			ErrTooLarge, "sparse map of 3 entries", false},
		{"sparse entry without data", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("ab"), sparse: []SparseRange{{1, 1}, {5, 0}, {1, 1}}}), 0,
			ErrHeader, "sparse map entry 1 of 3 has no data", false},
		{"sparse entries over payload", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("a"), sparse: []SparseRange{{1, 1}, {1, 0}, {1, 0}}}), 0,
			ErrHeader, "sparse map of 3 entries for 1 payload bytes", false},
		{"too many sparse entries", stream(rawChunk{typ: ChunkSparse, path: "a", payload: make([]byte, MaxSparseEntries+1), sparse: slices.Repeat([]SparseRange{{0, 1}}, MaxSparseEntries+1)}), 0,
			ErrTooLarge, "sparse map of 131073 entries, limit 131072", false},
		{"sparse map mismatch", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("abc"), sparse: []SparseRange{{5, 2}}}), 0,
			ErrHeader, "sparse map covers 2 bytes, payload has 3", false},
		{"offset past 2^63", stream(rawChunk{typ: ChunkPayload, path: "a", off: 1 << 63}), 0, ErrOrder, "want 0", false},
		{"out of order", stream(pchunk("a", 0, "abc"), pchunk("a", 4, "d")), 0,
			ErrOrder, `chunk 1 (stream byte 38) path "a" offset 4: out-of-order chunk: offset 4, want 3`, false},
		{"after sparse", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("x"), sparse: []SparseRange{{100, 1}}}, pchunk("a", 1, "y")), 0,
			ErrOrder, "offset 1, want 101", false},
		{"truncated header", good[:10], 0, ErrTruncated, "chunk 0 (stream byte 0): truncated stream: end of input in header", false},
		{"truncated path", good[:16], 0, ErrTruncated, "end of input in path", false},
		{"truncated payload header", good[:30], 0, ErrTruncated, `path "db/t.ibd": truncated stream: end of input in payload header`, false},
		{"truncated payload", good[:50], 0, ErrTruncated, "end of input in payload", false},
		{"truncated second chunk", good[:len(good)-1], 0, ErrTruncated, "chunk 1 (stream byte 52)", false},
		{"truncated sparse map length", stream(rawChunk{typ: ChunkSparse, path: "a"})[:17], 0, ErrTruncated, "end of input in sparse map length", false},
		{"truncated sparse map", stream(rawChunk{typ: ChunkSparse, path: "a", payload: []byte("ab"), sparse: []SparseRange{{1, 1}, {1, 1}}})[:50], 0,
			ErrTruncated, "end of input in sparse map", false},
		{"truncated ignorable", ign[:len(ign)-1], 0, ErrTruncated, "end of input in payload", false},
		// The Scanner holds an ignorable chunk in memory; the Reader
		// discards it whatever its size.
		{"ignorable over cap", ign, 2, ErrTooLarge, `chunk 0 (stream byte 0) path "a": chunk too large: payload of 3 bytes, limit 2`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, out, err := scanAll(bytes.NewReader(tt.data), ScanOptions{MaxPayload: tt.max})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantMsg)
			}
			if errors.Is(err, ErrTruncated) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
			}
			var ce *ChunkError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ChunkError", err)
			}
			if ce.Index != int64(len(segs)) || !bytes.Equal(out, tt.data[:ce.Pos]) {
				t.Errorf("got %d segments and %d bytes before chunk %d at byte %d", len(segs), len(out), ce.Index, ce.Pos)
			}
			_, rerr := readerChunks(bytes.NewReader(tt.data), tt.max)
			if same := rerr != nil && rerr.Error() == err.Error(); same == tt.unlike {
				t.Errorf("Reader error %v, Scanner error %v", rerr, err)
			}
		})
	}
}

// TestScanUnderlyingError checks that an error of the underlying reader in
// a chunk is returned as is, with the chunk's position, and between chunks
// too.
func TestScanUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	good := stream(pchunk("db/t.ibd", 0, "0123456789"), echunk("db/t.ibd"))
	tests := []struct {
		n    int
		want string
	}{
		{45, `mbstream: chunk 0 (stream byte 0) path "db/t.ibd": read payload: boom`},
		{52, `mbstream: chunk 1 (stream byte 52): read header: boom`},
	}
	for _, tt := range tests {
		_, _, err := scanAll(io.MultiReader(bytes.NewReader(good[:tt.n]), iotest.ErrReader(boom)), ScanOptions{})
		if !errors.Is(err, boom) || err.Error() != tt.want {
			t.Errorf("after %d bytes: got %v, want %s", tt.n, err, tt.want)
		}
	}
	_, _, err := scanAll(iotest.TimeoutReader(bytes.NewReader(good)), ScanOptions{})
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("TimeoutReader: got %v, want iotest.ErrTimeout", err)
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestScanHostileAllocation checks that lengths in headers cost memory only
// as far as the stream holds the bytes they announce.
func TestScanHostileAllocation(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"payload at limit", stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(DefaultMaxPayload)), payload: []byte("x")}), ErrTruncated},
		{"huge payload", stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(1) << 62)}), ErrTooLarge},
		{"ignorable at limit", stream(rawChunk{typ: 'I', flags: FlagIgnorable, path: "a", length: ptr(uint64(DefaultMaxPayload))}), ErrTruncated},
		{"full sparse map", stream(rawChunk{typ: ChunkSparse, path: "a", length: ptr(uint64(DefaultMaxPayload)),
			sparse: make([]SparseRange, MaxSparseEntries)})[:200], ErrTruncated},
		{"huge sparse map", stream(rawChunk{typ: ChunkSparse, path: "a", length: ptr(uint64(DefaultMaxPayload)),
			sparse: make([]SparseRange, MaxSparseEntries+1)})[:200], ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				s := NewScanner(bytes.NewReader(tt.data), ScanOptions{})
				_, err = s.Next()
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			if n > 256<<10 {
				t.Errorf("allocated %d bytes for a %d-byte stream", n, len(tt.data))
			}
		})
	}
}

// TestScanBuffer checks that the Scanner reuses one payload buffer, as
// large as the largest payload.
func TestScanBuffer(t *testing.T) {
	sizes := []int{100, 5000, 300, 200_000, 70_000, 0, 200_000}
	var chunks []rawChunk
	var off uint64
	for i, n := range sizes {
		chunks = append(chunks, rawChunk{typ: ChunkPayload, path: "f", off: off, payload: randomBytes(uint64(i), n)})
		off += uint64(n)
	}
	s := NewScanner(bytes.NewReader(stream(chunks...)), ScanOptions{})
	var largest int
	var last *byte
	for i, n := range sizes {
		seg, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(seg.Payload, chunks[i].payload) {
			t.Fatalf("chunk %d: wrong payload", i)
		}
		if n > largest {
			largest = n
		} else if n > 0 && &seg.Payload[0] != last {
			t.Errorf("chunk %d of %d bytes: new buffer, after a payload of %d", i, n, largest)
		}
		if cap(s.buf) != largest {
			t.Errorf("chunk %d: buffer of %d bytes, largest payload %d", i, cap(s.buf), largest)
		}
		if n > 0 {
			last = &seg.Payload[0]
		}
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want io.EOF", err)
	}
}

// TestScanMbstreamCreate scans what "mbstream -c" writes.
func TestScanMbstreamCreate(t *testing.T) {
	bin := mbstreamPath(t)
	dir := t.TempDir()
	files := map[string][]byte{
		"ibdata1": randomBytes(1, 2*ChunkSize+12345),
		"empty":   nil,
		"small":   []byte("hello"),
	}
	var names []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	data := mbstreamCreate(t, bin, dir, names)
	checkScan(t, data, bytes.NewReader(data))
}

// TestScanMariadbBackup scans what mariadb-backup --backup
// --stream=mbstream writes for a real server, a one-node Galera cluster
// holding some tables, with --parallel so that the chunks of several files
// interleave. It runs only with SST_INTEGRATION=1, under the shared lock:
//
//	flock /tmp/sst-integration.lock env SST_INTEGRATION=1 go test -count=1 -run TestScanMariadbBackup ./internal/format/mbstream/
func TestScanMariadbBackup(t *testing.T) {
	galeratest.Integration(t)
	if r := os.Getenv(galeratest.ServerRootEnv); r != "" && r != galeratest.HostRoot {
		t.Skipf("%s=%s: the node's server is not the host's mariadb-backup's", galeratest.ServerRootEnv, r)
	}
	dir := t.TempDir()
	c := galeratest.NewTestCluster(t, galeratest.Options{Dir: dir, Method: "scantest", Log: t.Logf})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	n, err := c.AddNode(galeratest.NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	galeratest.StartSynced(ctx, t, n, true)
	if err := galeratest.LoadData(ctx, n, "sbtest", 20000); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(dir, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "mariadb-backup", "--defaults-file="+n.DefaultsFile(),
		"--backup", "--stream=mbstream", "--parallel=4", "--target-dir="+target,
		"--user=root", "--socket="+n.Socket())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("mariadb-backup: %v\n%s", err, stderr.Bytes())
	}
	segs := checkScan(t, data, bytes.NewReader(data))

	paths := map[string]bool{}
	var payloads, big int
	for _, s := range segs {
		paths[s.path] = true
		if s.typ == ChunkPayload {
			payloads++
			if len(s.payload) >= ChunkSize {
				big++
			}
		}
	}
	t.Logf("mariadb-backup wrote %d bytes: %d chunks, %d payload chunks (%d of %d bytes or more), %d files",
		len(data), len(segs), payloads, big, ChunkSize, len(paths))
	for _, p := range []string{"ibdata1", "sbtest/t1.frm", "sbtest/t3.MAD", "xtrabackup_checkpoints"} {
		if !paths[p] {
			t.Errorf("no chunk of %s in the stream", p)
		}
	}
	if t.Failed() {
		t.Logf("paths: %v", slices.Sorted(maps.Keys(paths)))
	}
	if big == 0 {
		t.Errorf("no payload chunk of %d bytes or more: the test does not cover large chunks", ChunkSize)
	}
}

// BenchmarkScan scans 1 GiB of 10 MiB chunks in memory.
func BenchmarkScan(b *testing.B) {
	data := benchStream(b, 8, 128<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		forSegments(b, data, ScanOptions{}, func(*Segment) {})
	}
}

// SkipChecksum passes a payload whose CRC does not match, and the bytes
// still come back as they were.
func TestScanSkipChecksum(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteFile("db/t.ibd", bytes.Repeat([]byte("p"), 5000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	in := bytes.Clone(buf.Bytes())
	in[bytes.Index(in, []byte("ppp"))] = 'q'
	var out []byte
	forSegments(t, in, ScanOptions{SkipChecksum: true}, func(seg *Segment) {
		out = append(append(out, seg.Header...), seg.Payload...)
	})
	if !bytes.Equal(out, in) {
		t.Error("segments differ from the input")
	}
	if _, err := NewScanner(bytes.NewReader(in), ScanOptions{}).Next(); !errors.Is(err, ErrChecksum) {
		t.Errorf("without SkipChecksum: %v, want ErrChecksum", err)
	}
}

// forSegments scans stream, which must scan without error, with opts and
// calls fn with each chunk; the Segment is valid during the call.
func forSegments(tb testing.TB, stream []byte, opts ScanOptions, fn func(*Segment)) {
	tb.Helper()
	forEach(tb, NewScanner(bytes.NewReader(stream), opts).Next, fn)
}

// forEach calls next until it returns io.EOF, and fn with each item it
// returns before; any other error of next fails tb.
func forEach[T any](tb testing.TB, next func() (T, error), fn func(T)) {
	tb.Helper()
	for {
		v, err := next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		fn(v)
	}
}
