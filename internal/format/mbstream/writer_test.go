package mbstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// chunk is one decoded chunk; testChunks is a minimal decoder used to check
// the writer's framing independently of the writer's own code.
type chunk struct {
	flags   byte
	typ     ChunkType
	path    string
	off     uint64
	payload []byte
}

func (c chunk) String() string {
	if c.typ == ChunkEOF {
		return fmt.Sprintf("E %q", c.path)
	}
	return fmt.Sprintf("%c %q off=%d len=%d", c.typ, c.path, c.off, len(c.payload))
}

func testChunks(t testing.TB, data []byte) []chunk {
	t.Helper()
	var chunks []chunk
	for pos := 0; pos < len(data); {
		if len(data)-pos < 14 {
			t.Fatalf("chunk at %d: short header (%d bytes)", pos, len(data)-pos)
		}
		h := data[pos:]
		if string(h[:8]) != Magic {
			t.Fatalf("chunk at %d: magic %q, want %q", pos, h[:8], Magic)
		}
		c := chunk{flags: h[8], typ: ChunkType(h[9])}
		n := int(binary.LittleEndian.Uint32(h[10:14]))
		if n >= 512 || len(h) < 14+n {
			t.Fatalf("chunk at %d: path length %d", pos, n)
		}
		c.path = string(h[14 : 14+n])
		pos += 14 + n
		switch c.typ {
		case ChunkEOF:
		case ChunkPayload:
			p := data[pos:]
			if len(p) < 20 {
				t.Fatalf("chunk at %d: short payload header", pos)
			}
			size := binary.LittleEndian.Uint64(p[0:8])
			c.off = binary.LittleEndian.Uint64(p[8:16])
			sum := binary.LittleEndian.Uint32(p[16:20])
			if uint64(len(p)-20) < size {
				t.Fatalf("chunk at %d: payload of %d bytes, only %d left", pos, size, len(p)-20)
			}
			c.payload = p[20 : 20+size]
			if got := crc32.ChecksumIEEE(c.payload); got != sum {
				t.Fatalf("chunk at %d: crc %#x, header says %#x", pos, got, sum)
			}
			pos += 20 + int(size)
		default:
			t.Fatalf("chunk at %d: unknown type %q", pos, c.typ)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

// reassemble rebuilds files from chunks, checking offsets and E chunks.
func reassemble(t testing.TB, chunks []chunk) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	open := make(map[string]bool)
	for i, c := range chunks {
		switch c.typ {
		case ChunkPayload:
			if c.off != uint64(len(files[c.path])) {
				t.Fatalf("chunk %d (%v): offset %d, want %d", i, c, c.off, len(files[c.path]))
			}
			files[c.path] = append(files[c.path], c.payload...)
			open[c.path] = true
		case ChunkEOF:
			if _, ok := files[c.path]; !ok {
				files[c.path] = []byte{}
			}
			delete(open, c.path)
		}
	}
	if len(open) > 0 {
		t.Fatalf("files without E chunk: %v", open)
	}
	return files
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func mbstreamPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("mbstream")
	if err != nil {
		t.Skipf("mbstream (MariaDB's mariadb-backup package) not installed: %v", err)
	}
	return p
}

// mbstreamCreate returns what "mbstream -c" (the program bin) writes for
// the files names in dir.
func mbstreamCreate(t *testing.T, bin, dir string, names []string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"-c"}, names...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("mbstream -c: %v\n%s", err, stderr.Bytes())
	}
	return data
}

type testFile struct {
	name string
	data []byte
}

// writeMethods write one file through the Writer in different ways that all
// must give the same bytes as mbstream -c for files up to any size (those
// marked small only for files below ChunkSize).
var writeMethods = []struct {
	name      string
	smallOnly bool
	write     func(w *Writer, f testFile) error
}{
	{"WriteFile", false, func(w *Writer, f testFile) error { return w.WriteFile(f.name, f.data) }},
	{"ChunkSizeWrites", false, func(w *Writer, f testFile) error {
		// mbstream -c reads and writes XBSTREAM_BUFFER_SIZE = 10 MiB blocks.
		fw, err := w.Create(f.name)
		if err != nil {
			return err
		}
		for d := f.data; len(d) > 0; d = d[min(len(d), ChunkSize):] {
			if _, err := fw.Write(d[:min(len(d), ChunkSize)]); err != nil {
				return err
			}
		}
		return fw.Close()
	}},
	{"OneByteWrites", true, func(w *Writer, f testFile) error {
		fw, err := w.Create(f.name)
		if err != nil {
			return err
		}
		if _, err := io.Copy(fw, iotest.OneByteReader(bytes.NewReader(f.data))); err != nil {
			return err
		}
		return fw.Close()
	}},
}

// TestWriterMatchesMbstreamCreate compares our stream byte for byte with
// what "mbstream -c <files>" emits for the same files.
func TestWriterMatchesMbstreamCreate(t *testing.T) {
	bin := mbstreamPath(t)
	tests := []struct {
		name  string
		files []testFile
	}{
		{"small", []testFile{
			{"a", []byte("hello")},
			{"empty", nil},
			{"xtrabackup_galera_info", []byte("5f0b2a9e-0000-11ee-8000-000000000000:42 0\n")},
		}},
		{"subdir", []testFile{{"db", nil}, {"db/t1.ibd", randomBytes(1, 100_000)}}},
		{"big", []testFile{{"ibdata1", randomBytes(2, 2*ChunkSize+12345)}, {"tail", []byte("x")}}},
		{"exactChunk", []testFile{{"exact", randomBytes(3, ChunkSize)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var names []string
			for _, f := range tt.files {
				if f.name == "db" {
					if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
					t.Fatal(err)
				}
				names = append(names, f.name)
			}
			want := mbstreamCreate(t, bin, dir, names)
			wantChunks := testChunks(t, want)

			for _, m := range writeMethods {
				t.Run(m.name, func(t *testing.T) {
					var buf bytes.Buffer
					w := NewWriter(&buf)
					for _, f := range tt.files {
						if f.name == "db" {
							continue
						}
						if m.smallOnly && len(f.data) >= ChunkSize {
							t.Skip("file too big for one-byte writes to match mbstream -c")
						}
						if err := m.write(w, f); err != nil {
							t.Fatalf("write %s: %v", f.name, err)
						}
					}
					if err := w.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
					got := testChunks(t, buf.Bytes())
					if len(got) != len(wantChunks) {
						t.Fatalf("got %d chunks %v, want %d %v", len(got), got, len(wantChunks), wantChunks)
					}
					for i := range got {
						g, w := got[i], wantChunks[i]
						if g.String() != w.String() || g.flags != w.flags || !bytes.Equal(g.payload, w.payload) {
							t.Errorf("chunk %d: got %v (flags %#x), want %v (flags %#x)", i, g, g.flags, w, w.flags)
						}
					}
					if !bytes.Equal(buf.Bytes(), want) {
						t.Errorf("stream differs from mbstream -c output (%d vs %d bytes)", buf.Len(), len(want))
					}
				})
			}
		})
	}
}

// TestWriterExtractWithMbstream pipes our stream into "mbstream -x" and
// compares the extracted files.
func TestWriterExtractWithMbstream(t *testing.T) {
	bin := mbstreamPath(t)
	files := map[string][]byte{
		"empty":                  {},
		"xtrabackup_galera_info": []byte("5f0b2a9e-0000-11ee-8000-000000000000:42 0\n"),
		"ibdata1":                randomBytes(10, ChunkSize+ChunkSize/2+7),
		"db/t1.ibd":              randomBytes(11, 3*ChunkSize/2),
		"db/t2.ibd":              randomBytes(12, ChunkSize+1),
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, name := range []string{"empty", "xtrabackup_galera_info", "ibdata1"} {
		if err := w.WriteFile(name, files[name]); err != nil {
			t.Fatalf("WriteFile(%q): %v", name, err)
		}
	}
	// Two files written concurrently in irregular pieces, so that their
	// chunks interleave in the stream.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"db/t1.ibd", "db/t2.ibd"} {
		wg.Go(func() {
			errs[i] = writeInPieces(w, name, files[name], uint64(i))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bin, "-x", "-C", dir)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mbstream -x: %v\n%s", err, out)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("extracted file: %v", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %d bytes, want %d (contents differ)", name, len(got), len(want))
		}
	}
}

// writeInPieces writes data through Create in pieces of random sizes from
// 1 byte to 2*ChunkSize.
func writeInPieces(w *Writer, name string, data []byte, seed uint64) error {
	f, err := w.Create(name)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for len(data) > 0 {
		n := min(len(data), 1+r.IntN(2*ChunkSize/(1+r.IntN(1000))))
		if _, err := f.Write(data[:n]); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		data = data[n:]
	}
	return f.Close()
}

// TestWriterChunking checks the xb_stream_write_data splitting rule.
func TestWriterChunking(t *testing.T) {
	const C = ChunkSize
	tests := []struct {
		name   string
		writes []int
		want   []string // chunks as "off+len"
	}{
		{"none", nil, nil},
		{"emptyWrite", []int{0}, nil},
		{"small", []int{5}, []string{"0+5"}},
		{"merged", []int{10, 20, 0, 30}, []string{"0+60"}},
		{"justBelow", []int{C - 1}, []string{"0+10485759"}},
		{"exact", []int{C}, []string{"0+10485760"}},
		{"fillsFree", []int{10, C - 10}, []string{"0+10", "10+10485750"}},
		{"belowFree", []int{10, C - 11}, []string{"0+10485759"}},
		{"afterDirect", []int{C, 7, 8}, []string{"0+10485760", "10485760+15"}},
		{"huge", []int{2*C + 1}, []string{"0+10485760", "10485760+10485760", "20971520+1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			f, err := w.Create("f")
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			for i, n := range tt.writes {
				p := randomBytes(uint64(i), n)
				all = append(all, p...)
				if got, err := f.Write(p); got != n || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, got, err, n)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatalf("file Close: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			chunks := testChunks(t, buf.Bytes())
			var got []string
			for _, c := range chunks[:len(chunks)-1] {
				got = append(got, fmt.Sprintf("%d+%d", c.off, len(c.payload)))
			}
			if last := chunks[len(chunks)-1]; last.typ != ChunkEOF || last.path != "f" {
				t.Errorf("last chunk %v, want E \"f\"", last)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("payload chunks %v, want %v", got, tt.want)
			}
			if files := reassemble(t, chunks); !bytes.Equal(files["f"], all) {
				t.Errorf("reassembled file differs from what was written")
			}
		})
	}
}

// TestWriterInterleaving checks that chunks of open files interleave in the
// order they are emitted and are never split.
func TestWriterInterleaving(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	a, err := w.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.Create("b")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := a.Write(make([]byte, ChunkSize)); return err },
		func() error { _, err := b.Write(make([]byte, ChunkSize)); return err },
		func() error { _, err := a.Write([]byte("aaaaa")); return err },
		func() error { _, err := b.Write([]byte("bbbbb")); return err },
		a.Close,
		b.Close,
		w.Close,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	var got []string
	for _, c := range testChunks(t, buf.Bytes()) {
		got = append(got, c.String())
	}
	want := []string{
		`P "a" off=0 len=10485760`,
		`P "b" off=0 len=10485760`,
		`P "a" off=10485760 len=5`,
		`E "a"`,
		`P "b" off=10485760 len=5`,
		`E "b"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("chunks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWriterConcurrent writes many files from many goroutines (run with
// -race) and checks every chunk is intact and every file complete.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	want := make(map[string][]byte)
	for i := range 8 {
		want[fmt.Sprintf("db/t%d.ibd", i)] = randomBytes(uint64(100+i), (i+1)*ChunkSize/8)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	seed := uint64(0)
	for name, data := range want {
		seed++
		s := seed
		wg.Go(func() {
			if err := writeInPieces(w, name, data, s); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := reassemble(t, testChunks(t, buf.Bytes()))
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d", len(got), len(want))
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s: got %d bytes, want %d (contents differ)", name, len(got[name]), len(data))
		}
	}
}

func TestCreatePath(t *testing.T) {
	tests := []struct {
		path    string
		wantErr string
	}{
		{"ibdata1", ""},
		{"db/t.ibd", ""},
		{strings.Repeat("p", MaxPathLen), ""},
		{"", "empty"},
		{strings.Repeat("p", MaxPathLen+1), "more than 511"},
		{"a\x00b", "NUL"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.path), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			f, err := w.Create(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if err := f.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create error %v, want one containing %q", err, tt.wantErr)
			}
			if err := w.WriteFile(tt.path, []byte("x")); err == nil {
				t.Errorf("WriteFile succeeded, want error")
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written for a rejected path", buf.Len())
			}
		})
	}
}

func TestWriterCloseWithOpenFiles(t *testing.T) {
	w := NewWriter(io.Discard)
	if _, err := w.Create("b"); err != nil {
		t.Fatal(err)
	}
	a, err := w.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	done, err := w.Create("done")
	if err != nil {
		t.Fatal(err)
	}
	if err := done.Close(); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if want := `mbstream: close: 2 files still open: "a", "b"`; err == nil || err.Error() != want {
		t.Fatalf("Close = %v, want %s", err, want)
	}
	if _, err := a.Write([]byte("late")); err != nil {
		t.Fatalf("buffered Write after Writer.Close: %v", err)
	}
	if err := a.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("file Close after Writer.Close = %v, want ErrClosed", err)
	}
	if _, err := w.Create("c"); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Close = %v, want ErrClosed", err)
	}
	if err := done.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second file Close = %v, want ErrClosed", err)
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct {
	n     int
	err   error
	short bool // fail with a short write and no error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	if f.short {
		return n, nil
	}
	return n, f.err
}

func TestWriterUnderlyingError(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fw   *failWriter
		want error
	}{
		{"error", &failWriter{n: 54, err: errBoom}, errBoom},
		{"shortWrite", &failWriter{n: 54, short: true}, io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(tt.fw)
			if err := w.WriteFile("a", []byte("fits")); err != nil {
				t.Fatalf("first WriteFile: %v", err)
			}
			err := w.WriteFile("b", []byte("does not fit"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("second WriteFile = %v, want %v", err, tt.want)
			}
			if _, err := w.Create("c"); !errors.Is(err, tt.want) {
				t.Errorf("Create after failure = %v, want %v", err, tt.want)
			}
			if err := w.Close(); !errors.Is(err, tt.want) {
				t.Errorf("Close = %v, want %v", err, tt.want)
			}
		})
	}
}

func BenchmarkWriter(b *testing.B) {
	const size = 64 << 20
	data := randomBytes(1, size)
	benches := []struct {
		name  string
		write func(w *Writer) error
	}{
		{"WriteFile", func(w *Writer) error { return w.WriteFile("ibdata1", data) }},
		{"Writes32KiB", func(w *Writer) error {
			f, err := w.Create("ibdata1")
			if err != nil {
				return err
			}
			for d := data; len(d) > 0; d = d[32<<10:] {
				if _, err := f.Write(d[:32<<10]); err != nil {
					return err
				}
			}
			return f.Close()
		}},
		{"Concurrent4x1MiB", func(w *Writer) error {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range 4 {
				wg.Go(func() {
					f, err := w.Create(fmt.Sprintf("t%d.ibd", i))
					if err != nil {
						errs[i] = err
						return
					}
					part := data[i*size/4 : (i+1)*size/4]
					for d := part; len(d) > 0; d = d[1<<20:] {
						if _, err := f.Write(d[:1<<20]); err != nil {
							errs[i] = err
							return
						}
					}
					errs[i] = f.Close()
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				w := NewWriter(io.Discard)
				if err := bb.write(w); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
