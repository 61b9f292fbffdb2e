package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"wsrep_sst_mariabackup/internal/proc"
)

func zstdPath(tb testing.TB) string { return commandPath(tb, "zstd") }

// zstdSizes are smaller than testSizes: klauspost's encoders are slow
// under the race detector.
var zstdSizes = []int{0, 1, 1000, 64<<10 + 7, 5<<20 + 3}

// skippableFrame is a zstd skippable frame with magic 0x184D2A5n.
func skippableFrame(n byte, payload []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdSkippableMagic|uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// TestZstdWriterToCLI: what the in-process compressor writes, the zstd tool
// reads, at every encoder level and concurrency.
func TestZstdWriterToCLI(t *testing.T) {
	zcli := zstdPath(t)
	for _, cmd := range []string{"zstd", "zstd -1", "zstd --fast=4", "zstd -7", "zstd -19",
		"zstd -T2", "zstdmt -q", "zstd --single-thread --no-check"} {
		for _, size := range zstdSizes {
			if size > 1<<20 && cmd != "zstd" && cmd != "zstd -T2" {
				continue // enough at one level; encoders are slow under -race
			}
			t.Run(fmt.Sprintf("%s/%d", cmd, size), func(t *testing.T) {
				data := mixedData(size, uint64(size))
				c := mustCodec(t, cmd)
				if !c.InProcess() {
					t.Fatalf("%q does not run in process", cmd)
				}
				z := compress(t, c, data)
				if !bytes.HasPrefix(z, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
					t.Fatalf("output starts % x, want a zstd frame", z[:min(len(z), 4)])
				}
				got := runCmd(t, z, zcli, "-q", "-d", "-c")
				if !bytes.Equal(got, data) {
					t.Fatalf("zstd -d output: %d bytes, want %d bytes (content differs)", len(got), len(data))
				}
			})
		}
	}
}

// TestZstdReaderFromCLI: what the zstd tool writes, the in-process
// decompressor reads, through short and odd reads.
func TestZstdReaderFromCLI(t *testing.T) {
	zcli := zstdPath(t)
	for _, args := range [][]string{{"-c"}, {"-1"}, {"-19"}, {"--fast=5"}, {"-T2"}, {"--no-check"}, {"--ultra", "-20"}} {
		for _, size := range zstdSizes {
			if size > 1<<20 && len(args) > 1 || args[0] == "-19" && size > 1<<20 {
				continue // the CLI's strong levels are slow
			}
			t.Run(fmt.Sprintf("%s/%d", strings.Join(args, " "), size), func(t *testing.T) {
				data := mixedData(size, uint64(size)+1)
				z := runCmd(t, data, zcli, append([]string{"-q", "-c"}, args...)...)
				decodeWrapped(t, "zstd -dc", z, data)
			})
		}
	}
}

// TestZstdReaderIOTest runs testing/iotest's reader checks over the
// decompressor.
func TestZstdReaderIOTest(t *testing.T) {
	data := mixedData(300_000, 12)
	c, err := NewCodec(Zstd, 3)
	if err != nil {
		t.Fatal(err)
	}
	z := compress(t, c, data)
	r, err := c.NewReader(t.Context(), bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := iotest.TestReader(r, data); err != nil {
		t.Fatal(err)
	}
	// An input error after the first bytes comes back with the stage
	// named and the cause kept.
	for name, in := range map[string]io.Reader{
		"timeout":   iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(z))),
		"data+err":  io.MultiReader(bytes.NewReader(z[:len(z)/2]), iotest.ErrReader(io.ErrClosedPipe)),
		"early err": iotest.ErrReader(io.ErrClosedPipe),
	} {
		r, _ := c.NewReader(t.Context(), in)
		_, err := io.ReadAll(r)
		want := io.ErrClosedPipe
		if name == "timeout" {
			want = iotest.ErrTimeout
		}
		if !errors.Is(err, want) || !strings.HasPrefix(err.Error(), "zstd decompress: ") {
			t.Errorf("%s: ReadAll = %v, want %v named by the stage", name, err, want)
		}
		r.Close()
	}
}

func TestZstdReaderConcatenatedFrames(t *testing.T) {
	zcli := zstdPath(t)
	// Two SST sessions' frames, an empty CLI frame and a skippable frame
	// read as one stream, as zstd -d reads them.
	a, b := mixedData(3<<20, 1), mixedData(1000, 2)
	var z []byte
	z = append(z, skippableFrame(0xE, []byte("metadata"))...)
	z = append(z, runCmd(t, a, zcli, "-q", "-c")...)
	z = append(z, compress(t, mustCodec(t, "zstd -1"), b)...)
	z = append(z, runCmd(t, nil, zcli, "-q", "-c")...)
	z = append(z, skippableFrame(0, nil)...)
	want := append(append([]byte{}, a...), b...)
	r, err := mustCodec(t, "zstd -d").NewReader(t.Context(), bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	readBack(t, r, want)
	if cli := runCmd(t, z, zcli, "-q", "-dc"); !bytes.Equal(cli, want) {
		t.Errorf("zstd -dc read %d bytes, want %d", len(cli), len(want))
	}
}

// TestZstdEmptyStream: the in-process compressor writes a frame for empty
// input, as the CLI does, since zstd -d refuses an empty stream.
func TestZstdEmptyStream(t *testing.T) {
	zcli := zstdPath(t)
	z := compress(t, mustCodec(t, "zstd"), nil)
	if len(z) == 0 {
		t.Fatal("no frame for empty input")
	}
	if got := runCmd(t, z, zcli, "-q", "-dc"); len(got) != 0 {
		t.Errorf("zstd -dc read %d bytes, want 0", len(got))
	}
}

func TestZstdReaderErrors(t *testing.T) {
	c, err := NewCodec(Zstd, 3)
	if err != nil {
		t.Fatal(err)
	}
	z := compress(t, c, mixedData(200_000, 5))
	badSum := bytes.Clone(z)
	badSum[len(badSum)-1] ^= 0xff // content checksum
	badData := bytes.Clone(z)
	badData[len(badData)/2] ^= 0x55
	tests := map[string][]byte{
		"truncated":   z[:len(z)/2],
		"no checksum": z[:len(z)-4],
		"header only": z[:6],
		"magic only":  z[:4],
		"empty":       nil,
		"checksum":    badSum,
		"corrupt":     badData,
		"not zstd":    []byte("this is not a zstd frame at all"),
		"trailing":    append(bytes.Clone(z), "garbage after the frame"...),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			r, _ := c.NewReader(t.Context(), bytes.NewReader(in))
			defer r.Close()
			_, err := io.ReadAll(r)
			if err == nil {
				t.Fatal("ReadAll: no error")
			}
			if !strings.HasPrefix(err.Error(), "zstd decompress: ") {
				t.Errorf("error %q does not name the stage", err)
			}
			if _, err2 := r.Read(make([]byte, 10)); err2 == nil {
				t.Error("Read after the error: no error")
			}
		})
	}
	for _, name := range []string{"truncated", "no checksum", "header only", "empty"} {
		r, _ := c.NewReader(t.Context(), bytes.NewReader(tests[name]))
		if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want io.ErrUnexpectedEOF", name, err)
		}
	}
}

// hostileFrame is a zstd frame header asking for a window of 2^windowLog
// bytes, followed by one small raw block.
func hostileFrame(windowLog int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	b = append(b, 0x00, byte(windowLog-10)<<3) // FHD: no size, no checksum; Window_Descriptor
	b = append(b, 0x19, 0x00, 0x00)            // last raw block of 3 bytes
	return append(b, "abc"...)
}

// TestZstdWindowLimit: a frame may not make the decoder allocate more than
// the zstd CLI's limit (128 MiB, or 2^N with --long=N); the error says so
// and what to do.
func TestZstdWindowLimit(t *testing.T) {
	for _, tt := range []struct {
		cmd       string
		windowLog int
		ok        bool
	}{
		{"zstd -dc", 27, true},
		{"zstd -dc", 28, false},
		{"zstd -dc", 31, false},
		{"zstd -dc", 41, false},
		{"zstd -dc --long=28", 28, true},
		{"zstd -dc --long=30", 31, false},
	} {
		t.Run(fmt.Sprintf("%s/%d", tt.cmd, tt.windowLog), func(t *testing.T) {
			r, err := mustCodec(t, tt.cmd).NewReader(t.Context(), bytes.NewReader(hostileFrame(tt.windowLog)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := io.ReadAll(r)
			runtime.ReadMemStats(&after)
			if tt.ok {
				if err != nil || string(got) != "abc" {
					t.Fatalf("ReadAll = %q, %v; want \"abc\", nil", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "larger than the") || !strings.Contains(err.Error(), "--long=N") {
				t.Fatalf("ReadAll: %v, want the window limit error", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("refusing the frame allocated %d MiB", grew>>20)
			}
		})
	}
	// A real --long=28 frame from the CLI: refused by default, as zstd -d
	// refuses it, read with --long=28.
	zcli := zstdPath(t)
	data := mixedData(1<<20, 8)
	z := runCmd(t, data, zcli, "-q", "-c", "--long=28")
	r, _ := mustCodec(t, "zstd -dc").NewReader(t.Context(), bytes.NewReader(z))
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "128 MiB limit") {
		t.Errorf("default limit: %v, want the 128 MiB limit error", err)
	}
	r.Close()
	cmd := exec.CommandContext(t.Context(), zcli, "-q", "-dc")
	cmd.Stdin = bytes.NewReader(z)
	if err := cmd.Run(); err == nil {
		t.Error("zstd -dc (CLI) read a --long=28 frame without --long: the limits differ")
	}
	r, _ = mustCodec(t, "zstd -dc --long=28").NewReader(t.Context(), bytes.NewReader(z))
	readBack(t, r, data)
}

// TestZstdLimitIsNotOutputLimit: the window limit bounds memory, not the
// length of the stream (an SST is much larger than any window).
func TestZstdLimitIsNotOutputLimit(t *testing.T) {
	data := mixedData(6<<20, 4)
	c := mustCodec(t, "zstd -1") // 4 MiB window
	z := compress(t, c, data)
	d := newZstdDecoder(bytes.NewReader(z), &zstdOptions{check: true, windowLog: 22})
	defer d.Close()
	got, err := io.ReadAll(d)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
}

// TestZstdReaderFallback: a stream that does not start with a zstd frame
// goes to the zstd program, which decodes gzip and lz4 and, as zstdcat,
// passes plain data through; so the result is what the script's pipe gives.
func TestZstdReaderFallback(t *testing.T) {
	zstdPath(t)
	data := mixedData(1<<20, 6)
	gz := runCmd(t, data, "gzip", "-c")
	tests := []struct {
		name, cmd string
		in        []byte
		wantErr   bool
	}{
		{"gzip", "zstd -dc", gz, false},
		{"plain via zstdcat", "zstdcat", data, false},
		{"plain", "zstd -dc", data, true},
		{"empty", "zstd -dc", nil, true},
		{"three bytes", "zstd -dc", []byte{0x28, 0xb5, 0x2f}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := mustCodec(t, tt.cmd).NewReader(t.Context(), bytes.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if cerr := r.Close(); err == nil {
				err = cerr
			}
			if tt.wantErr {
				var ee *proc.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("got %v, want the zstd program's exit error", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.in) && !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
		})
	}
	if lz4, err := exec.LookPath("lz4"); err == nil {
		r, _ := mustCodec(t, "unzstd").NewReader(t.Context(), bytes.NewReader(runCmd(t, data, lz4, "-c")))
		readBack(t, r, data)
	}
}

func TestZstdWriterErrors(t *testing.T) {
	for _, cmd := range []string{"zstd", "zstd -T2", "zstd --single-thread"} {
		t.Run(cmd, func(t *testing.T) {
			w, err := mustCodec(t, cmd).NewWriter(t.Context(), errWriter{io.ErrClosedPipe})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.Write(mixedData(5<<20, 1))
			if err == nil {
				err = w.Close()
			}
			if !errors.Is(err, io.ErrClosedPipe) || !strings.HasPrefix(err.Error(), "zstd compress: ") {
				t.Errorf("got %v, want the downstream error named by the stage", err)
			}
			if err2 := w.Close(); err2 == nil {
				t.Error("Close after a failure returned nil")
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Error("Write after a failure returned nil")
			}
		})
	}
}

// TestZstdNoGoroutineLeak: failed and finished writers and readers leave
// no goroutines behind (the job workers of -T2 included).
func TestZstdNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	data := mixedData(3<<20, 2)
	for _, cmd := range []string{"zstd", "zstd -T2"} {
		for _, dst := range []io.Writer{io.Discard, errWriter{io.ErrClosedPipe}} {
			w, err := mustCodec(t, cmd).NewWriter(t.Context(), dst)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			w.Close()
		}
	}
	z := compress(t, mustCodec(t, "zstd"), data)
	r, _ := mustCodec(t, "zstd -d").NewReader(t.Context(), bytes.NewReader(z))
	io.ReadFull(r, make([]byte, 1000))
	r.Close()
	waitGoroutines(t, before)
}

// FuzzZstdDecoder feeds the in-process decoder arbitrary input under an
// 8 MiB window limit (our encoder's window): it must not panic or allocate without bound, every
// error names the stage, and what it decodes, our writer encodes and it
// decodes back unchanged.
func FuzzZstdDecoder(f *testing.F) {
	for i, cmd := range []string{"zstd -1", "zstd", "zstd -7", "zstd --no-check"} {
		c := mustCodec(f, cmd)
		var out bytes.Buffer
		w, err := c.NewWriter(context.Background(), &out)
		if err != nil {
			f.Fatal(err)
		}
		w.Write(mixedData(1000*i*i+10, uint64(i)))
		w.Close()
		f.Add(out.Bytes())
		f.Add(out.Bytes()[:out.Len()/2])
	}
	f.Add(hostileFrame(23))
	f.Add(hostileFrame(24))
	f.Add(skippableFrame(3, []byte("skip")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		o := &zstdOptions{check: true, windowLog: 23}
		d := newZstdDecoder(bytes.NewReader(in), o)
		defer d.Close()
		got, err := io.ReadAll(io.LimitReader(d, 64<<20))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "zstd decompress: ") {
				t.Fatalf("error %q does not name the stage", err)
			}
			return
		}
		var z bytes.Buffer
		w, err := newZstdWriter(&z, &zstdOptions{level: 1, threads: 1, single: true, check: true})
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, got)
		d2 := newZstdDecoder(&z, o)
		defer d2.Close()
		again, err := io.ReadAll(d2)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-encoded %d bytes decode to %d bytes, %v", len(got), len(again), err)
		}
	})
}

// BenchmarkZstdCompress compares the in-process encoder with the zstd
// program as a filter ("exec" makes a command external) on 32 MiB of mixed
// data, at the levels and thread counts DBAs configure.
func BenchmarkZstdCompress(b *testing.B) {
	for _, args := range []string{"-1", "-3", "-3 --single-thread", "-3 -T2", "-7", "-19"} {
		b.Run("inprocess/"+args, func(b *testing.B) { benchCompress(b, mustCodec(b, "zstd "+args)) })
		b.Run("cli/"+args, func(b *testing.B) {
			zstdPath(b)
			if args == "-19" && !testing.Verbose() {
				b.Skip("zstd -19 takes over a minute per 32 MiB here; run with -v to include it")
			}
			benchCompress(b, mustCodec(b, "exec zstd -q -c "+args))
		})
	}
}

// BenchmarkZstdDecompress reads what zstd -3 wrote, in process and through
// the zstd program.
func BenchmarkZstdDecompress(b *testing.B) {
	data, z := cliCompressed(b, zstdPath(b), "-q", "-c", "-3")
	b.Run("inprocess", func(b *testing.B) { benchDecompress(b, mustCodec(b, "zstd -dc"), data, z) })
	b.Run("cli", func(b *testing.B) { benchDecompress(b, mustCodec(b, "exec zstd -q -dc"), data, z) })
}
