package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/zstd"
)

// mixedData returns n bytes alternating random runs (incompressible, like
// encrypted or compressed pages) and repetitive text (like InnoDB pages of
// similar rows), deterministic for a given seed.
func mixedData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.Grow(n)
	line := 0
	for b.Len() < n {
		run := 1 + rng.IntN(64<<10)
		if rng.IntN(2) == 0 {
			chunk := make([]byte, run)
			for i := range chunk {
				chunk[i] = byte(rng.Uint32())
			}
			b.Write(chunk)
		} else {
			for end := b.Len() + run; b.Len() < end; line++ {
				fmt.Fprintf(&b, "INSERT INTO t%d VALUES (%d, 'row %d', %d);\n", line%7, line, line%1000, rng.IntN(100))
			}
		}
	}
	return b.Bytes()[:n]
}

var testSizes = []int{0, 1, 1000, 64 << 10, 4<<20 + 12345, 9 << 20}

func mustCodec(tb testing.TB, cmd string) Codec {
	tb.Helper()
	c, err := ParseCodec(cmd)
	if err != nil {
		tb.Fatalf("ParseCodec(%q): %v", cmd, err)
	}
	return c
}

// compress runs data through c.NewWriter.
func compress(t *testing.T, c Codec, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := c.NewWriter(t.Context(), &out)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data)
	return out.Bytes()
}

// writeAll writes data to w in uneven pieces, which exercise the block
// buffering of the compressors, and closes w.
func writeAll(t *testing.T, w io.WriteCloser, data []byte) {
	t.Helper()
	for p := data; len(p) > 0; {
		n := min(len(p), 100_003)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// readBack reads r to the end, closes it and checks that it yielded want:
// the second half of every round trip.
func readBack(t *testing.T, r io.ReadCloser, want []byte) {
	t.Helper()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d bytes (content differs)", len(got), len(want))
	}
}

// decodeWrapped decodes z with the codec cmd through the plain reader, an
// iotest.HalfReader and, for data up to 1 MiB, an iotest.OneByteReader,
// each of which must give data.
func decodeWrapped(t *testing.T, cmd string, z, data []byte) {
	t.Helper()
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain": func(r io.Reader) io.Reader { return r },
		"half":  iotest.HalfReader,
		"one":   iotest.OneByteReader,
	} {
		if name == "one" && len(data) > 1<<20 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			r, err := mustCodec(t, cmd).NewReader(t.Context(), wrap(bytes.NewReader(z)))
			if err != nil {
				t.Fatal(err)
			}
			readBack(t, r, data)
		})
	}
}

func runCmd(t *testing.T, in []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	return out
}

// TestCodecExternal checks that other commands run as filters: gzip both
// ways, zstd made external with "exec", and the lz4 CLI used in the "wrong"
// direction (lz4 -d as the compressor decompresses, as in the script's
// pipe).
func TestCodecExternal(t *testing.T) {
	data := mixedData(3<<20, 9)
	for _, tt := range []struct {
		prog, comp, decomp string
		magic              []byte
	}{
		{"gzip", "gzip -c", "gzip -dc", []byte{0x1f, 0x8b}},
		{"zstd", "exec zstd -q -c", "exec zstd -q -d -c", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	} {
		t.Run(tt.comp, func(t *testing.T) {
			if _, err := exec.LookPath(tt.prog); err != nil {
				t.Skip(tt.prog+" not installed: ", err)
			}
			c := mustCodec(t, tt.comp)
			if c.InProcess() {
				t.Fatalf("%q runs in process", tt.comp)
			}
			z := compress(t, c, data)
			if len(z) >= len(data) || !bytes.HasPrefix(z, tt.magic) {
				t.Fatalf("compressed %d -> %d bytes, want %s output", len(data), len(z), tt.prog)
			}
			r, err := mustCodec(t, tt.decomp).NewReader(t.Context(), bytes.NewReader(z))
			if err != nil {
				t.Fatal(err)
			}
			readBack(t, r, data)
		})
	}
	t.Run("lz4 -d as compressor", func(t *testing.T) {
		lz4cli := lz4Path(t)
		z := runCmd(t, data, lz4cli, "-c")
		if got := compress(t, mustCodec(t, "lz4 -d"), z); !bytes.Equal(got, data) {
			t.Fatalf("lz4 -d as compressor wrote %d bytes, want the %d decompressed", len(got), len(data))
		}
	})
}

// SingleThreaded codecs still write standard frames that their
// multithreaded originals read back.
func TestCodecSingleThreaded(t *testing.T) {
	data := bytes.Repeat([]byte("single-threaded codec "), 200000)
	for _, cmd := range []string{"zstd -1 -T2", "lz4 -z"} {
		c, err := ParseCodec(cmd)
		if err != nil {
			t.Fatal(err)
		}
		st := c.SingleThreaded()
		if st.Concurrency != 1 || c.Concurrency != 0 {
			t.Errorf("%s: Concurrency %d (original %d)", cmd, st.Concurrency, c.Concurrency)
		}
		if c.zstd != nil && (!st.zstd.single || c.zstd.single) {
			t.Errorf("%s: single %v (original %v)", cmd, st.zstd.single, c.zstd.single)
		}
		z := compress(t, st, data)
		if c.zstd != nil {
			// The window is capped: a decoder allowing only 2 MiB reads it.
			zr, err := zstd.NewReader(bytes.NewReader(z), zstd.WithDecoderMaxWindow(singleWindow))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				t.Errorf("%s: a 2 MiB-window decoder: %v", cmd, err)
			}
			zr.Close()
		}
		d, _ := ParseCodec(strings.Fields(cmd)[0] + " -d")
		r, err := d.NewReader(t.Context(), bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: round trip: %v, %d of %d bytes", cmd, err, len(got), len(data))
		}
		r.Close()
	}
}

func TestSniffFormat(t *testing.T) {
	for _, f := range []Format{LZ4, Zstd} {
		c, err := NewCodec(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := SniffFormat(compress(t, c, []byte("some data"))); got != f {
			t.Errorf("SniffFormat of a %s frame = %q", f, got)
		}
	}
	for _, b := range [][]byte{nil, []byte("XFRS\x00\x01"), []byte("XBSTCK01"), {0x04, 0x22}} {
		if got := SniffFormat(b); got != "" {
			t.Errorf("SniffFormat(%q) = %q, want none", b, got)
		}
	}
}

// waitGoroutines waits up to 5 s until no more goroutines run than
// before: exited ones may take a moment to be accounted for.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling, not timing the code
	}
}

// commandPath returns the path of the command name, or skips tb.
func commandPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s command not installed (make deps installs it): %v", name, err)
	}
	return p
}

// copyCodecs are the in-process compressors whose writers read straight
// from Copy's source, each with the command line that decompresses its
// output and how much of an endless source it may read after the stream
// below failed at 1 MiB.
var copyCodecs = []struct {
	cmd         string
	concurrency int      // lz4 only; 0 leaves the codec's own
	unzip       []string // decompressing command line
	random      bool     // an incompressible source for the dead-stream test
	srcLen      int64    // bytes that source has before it fails
	maxRead     int64    // bytes of it the compressor may read
}{
	{"lz4", 1, []string{"lz4", "-d", "-c"}, false, 256 << 20, 64 << 20},
	{"lz4", 2, []string{"lz4", "-d", "-c"}, false, 256 << 20, 64 << 20},
	// zstd needs an incompressible source: a repeated pattern fits in
	// its window and never reaches the failure.
	{"zstd", 0, []string{"zstd", "-q", "-d", "-c"}, true, 512 << 20, 160 << 20},
	{"zstd -T2", 0, []string{"zstd", "-q", "-d", "-c"}, true, 512 << 20, 160 << 20},
	{"zstd --single-thread", 0, []string{"zstd", "-q", "-d", "-c"}, true, 512 << 20, 160 << 20},
}

// copyCodec returns the codec cmd with the lz4 concurrency (0: the
// codec's own) and a name for t.Run.
func copyCodec(tb testing.TB, cmd string, concurrency int) (Codec, string) {
	tb.Helper()
	c := mustCodec(tb, cmd)
	if concurrency == 0 {
		return c, cmd
	}
	c.Concurrency = concurrency
	return c, fmt.Sprintf("%s/concurrency=%d", cmd, concurrency)
}

// TestWriterCopy: Copy hands the source to the lz4 and zstd writers, which
// read straight into their blocks; the frame is what the command line
// tool reads, a source error comes back as it is and leaves the frame
// incomplete, and a cancellation stops the copy.
func TestWriterCopy(t *testing.T) {
	data := mixedData(9<<20+5, 7)
	for _, tc := range copyCodecs {
		c, name := copyCodec(t, tc.cmd, tc.concurrency)
		t.Run(name, func(t *testing.T) {
			cli := commandPath(t, tc.unzip[0])
			var out bytes.Buffer
			w, err := c.NewWriter(t.Context(), &out)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := w.(contextReaderFrom); !ok {
				t.Fatalf("the %s writer does not read from Copy's source directly", tc.cmd)
			}
			n, err := Copy(t.Context(), w, iotest.HalfReader(bytes.NewReader(data)))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("Copy = %d, %v; want %d, nil", n, err, len(data))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := runCmd(t, out.Bytes(), cli, tc.unzip[1:]...); !bytes.Equal(got, data) {
				t.Fatalf("%s output: %d bytes, want %d bytes (content differs)", strings.Join(tc.unzip, " "), len(got), len(data))
			}
		})
		t.Run(name+"/source error", func(t *testing.T) {
			cli := commandPath(t, tc.unzip[0])
			errSrc := errors.New("mariabackup pipe broke")
			var out bytes.Buffer
			w, err := c.NewWriter(t.Context(), &out)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Copy(t.Context(), w, io.MultiReader(bytes.NewReader(data[:5<<20]), iotest.ErrReader(errSrc)))
			if !errors.Is(err, errSrc) {
				t.Fatalf("Copy = %v, want the source's error %v as it is", err, errSrc)
			}
			if err := w.Close(); err == nil {
				t.Error("Close after a failed copy returned nil: it would end the frame as if complete")
			}
			// What was written must not pass for a complete frame.
			cmd := exec.CommandContext(t.Context(), cli, tc.unzip[1:]...)
			cmd.Stdin = bytes.NewReader(out.Bytes())
			if err := cmd.Run(); err == nil {
				t.Errorf("%s accepted the %d bytes written before the failure as a complete frame", strings.Join(tc.unzip, " "), out.Len())
			}
		})
		t.Run(name+"/cancelled", func(t *testing.T) {
			errStop := errors.New("parent died")
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			w, err := c.NewWriter(ctx, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			src := &cancelAfterReader{r: iotest.OneByteReader(bytes.NewReader(data)), n: 3, cancel: cancel, cause: errStop}
			if _, err := Copy(ctx, w, src); !errors.Is(err, errStop) {
				t.Fatalf("Copy = %v, want %v", err, errStop)
			}
			if err := w.Close(); !errors.Is(err, errStop) {
				t.Errorf("Close = %v, want %v", err, errStop)
			}
		})
	}
}

// TestWriterStopsOnDeadStream: once the stream below fails (the joiner
// is gone), the lz4 and zstd compressors stop within a few blocks, with
// that error, instead of compressing the whole source (the donor's entire
// backup) first. Both Copy's path and plain Writes.
func TestWriterStopsOnDeadStream(t *testing.T) {
	errGone := errors.New("connection reset by peer")
	pat := mixedData(1<<20, 3)
	for _, tc := range copyCodecs {
		c, name := copyCodec(t, tc.cmd, tc.concurrency)
		for _, viaCopy := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/copy=%v", name, viaCopy), func(t *testing.T) {
				w, err := c.NewWriter(t.Context(), &failAfterWriter{limit: 1 << 20, err: errGone})
				if err != nil {
					t.Fatal(err)
				}
				src := &endlessReader{pat: pat, max: tc.srcLen}
				if tc.random {
					src = &endlessReader{rng: rand.New(rand.NewPCG(1, 2)), max: tc.srcLen}
				}
				if viaCopy {
					_, err = Copy(t.Context(), w, src)
				} else {
					_, err = copyBuffer(t.Context(), w, src, make([]byte, copyBufferSize))
				}
				if !errors.Is(err, errGone) {
					t.Fatalf("Copy = %v, want the stream's error %v", err, errGone)
				}
				t.Logf("read %d MiB of the source", src.n>>20)
				if src.n > tc.maxRead {
					t.Errorf("read %d MiB of the source after the stream failed at 1 MiB", src.n>>20)
				}
				if err := w.Close(); !errors.Is(err, errGone) {
					t.Errorf("Close = %v, want %v", err, errGone)
				}
			})
		}
	}
}

// failAfterWriter accepts limit bytes, then fails every write.
type failAfterWriter struct {
	limit int
	err   error
}

func (w *failAfterWriter) Write(p []byte) (int, error) {
	if w.limit <= 0 {
		return 0, w.err
	}
	n := min(len(p), w.limit)
	w.limit -= n
	if n < len(p) {
		return n, w.err
	}
	return n, nil
}

// endlessReader yields data until it has given max bytes, then fails: a
// source that must not be drained to the end. The data is random
// (incompressible) if rng is set, else pat over and over.
type endlessReader struct {
	pat []byte
	rng *rand.Rand
	n   int64
	max int64
}

var errReadTooFar = errors.New("read far past the failure")

func (r *endlessReader) Read(p []byte) (int, error) {
	if r.n >= r.max {
		return 0, errReadTooFar
	}
	if r.rng == nil {
		n := copy(p, r.pat[r.n%int64(len(r.pat)):])
		r.n += int64(n)
		return n, nil
	}
	p = p[:min(int64(len(p)), r.max-r.n)]
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.rng.Uint64())
	}
	r.n += int64(len(p))
	return len(p), nil
}
