package stream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func lz4Path(tb testing.TB) string { return commandPath(tb, "lz4") }

func TestLZ4WriterToCLI(t *testing.T) {
	lz4cli := lz4Path(t)
	for _, cmd := range []string{"lz4", "lz4 -B4 -BX --no-frame-crc", "lz4 -5"} {
		for _, size := range testSizes {
			t.Run(fmt.Sprintf("%s/%d", cmd, size), func(t *testing.T) {
				data := mixedData(size, uint64(size))
				c := mustCodec(t, cmd)
				c.Concurrency = 1 + size%3
				z := compress(t, c, data)
				got := runCmd(t, z, lz4cli, "-d", "-c")
				if !bytes.Equal(got, data) {
					t.Fatalf("lz4 -d output: %d bytes, want %d bytes (content differs)", len(got), len(data))
				}
			})
		}
	}
}

func TestLZ4WriterFrameHeader(t *testing.T) {
	// The frame descriptor the lz4 CLI writes for a 4 MB+ stream:
	// FLG 0x64 (version 1, independent blocks, content checksum),
	// BD 0x70 (4 MB blocks). Ours must say the same.
	z := compress(t, mustCodec(t, "lz4 -z"), mixedData(5<<20, 7))
	want := []byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x70}
	if !bytes.HasPrefix(z, want) {
		t.Errorf("header % x, want prefix % x", z[:min(len(z), 7)], want)
	}
}

func TestLZ4ReaderFromCLI(t *testing.T) {
	lz4cli := lz4Path(t)
	for _, args := range [][]string{{"-z", "-c"}, {"-BD", "-c"}, {"-9", "-B4", "-BX", "-c"}} {
		for _, size := range testSizes {
			t.Run(fmt.Sprintf("%s/%d", strings.Join(args, " "), size), func(t *testing.T) {
				data := mixedData(size, uint64(size)+1)
				z := runCmd(t, data, lz4cli, args...)
				decodeWrapped(t, "lz4 -dc", z, data)
			})
		}
	}
}

func TestLZ4ReaderConcatenatedFrames(t *testing.T) {
	lz4cli := lz4Path(t)
	// The SST sends two sessions, each with its own frame; lz4 -d reads
	// concatenated frames as one stream, and so must we. Mix CLI frames
	// and ours.
	a, b, c := mixedData(5<<20, 1), mixedData(1000, 2), mixedData(0, 3)
	var z []byte
	z = append(z, runCmd(t, a, lz4cli, "-c")...)
	z = append(z, compress(t, mustCodec(t, "lz4"), b)...)
	z = append(z, runCmd(t, c, lz4cli, "-c")...)
	r, _ := mustCodec(t, "lz4 -d").NewReader(t.Context(), bytes.NewReader(z))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append(append([]byte{}, a...), b...), c...); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d bytes (content differs)", len(got), len(want))
	}
	if cli := runCmd(t, z, lz4cli, "-dc"); !bytes.Equal(cli, got) {
		t.Errorf("lz4 -dc read %d bytes, we read %d", len(cli), len(got))
	}
}

func TestLZ4ReaderErrors(t *testing.T) {
	z := compress(t, mustCodec(t, "lz4"), mixedData(200_000, 5))
	corrupt := bytes.Clone(z)
	corrupt[len(corrupt)-2] ^= 0xff // content checksum
	tests := map[string][]byte{
		"truncated": z[:len(z)/2],
		"no end":    z[:len(z)-8],
		"checksum":  corrupt,
		"not lz4":   []byte("this is not an lz4 frame at all"),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			r, _ := mustCodec(t, "lz4 -d").NewReader(t.Context(), bytes.NewReader(in))
			_, err := io.ReadAll(r)
			if err == nil {
				t.Fatal("ReadAll: no error")
			}
			if !strings.HasPrefix(err.Error(), "lz4 decompress: ") {
				t.Errorf("error %q does not name the stage", err)
			}
		})
	}
}

func TestLZ4WriterErrors(t *testing.T) {
	w, err := mustCodec(t, "lz4").NewWriter(t.Context(), errWriter{io.ErrClosedPipe})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(mixedData(5<<20, 1))
	if err == nil {
		err = w.Close()
	}
	if !strings.Contains(fmt.Sprint(err), io.ErrClosedPipe.Error()) {
		t.Errorf("got %v, want the downstream error", err)
	}
	if err2 := w.Close(); err2 == nil {
		t.Error("Close after a failure returned nil")
	}
}

func benchData() []byte { return mixedData(32<<20, 42) }

func benchCompress(b *testing.B, c Codec) {
	data := benchData()
	var out countWriter
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		out = 0
		w, err := c.NewWriter(context.Background(), &out)
		if err != nil {
			b.Fatal(err)
		}
		for p := data; len(p) > 0; p = p[min(len(p), copyBufferSize):] {
			if _, err := w.Write(p[:min(len(p), copyBufferSize)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, len(data))
	b.ReportMetric(float64(len(data))/float64(out), "ratio")
}

// cpuTime is the CPU time used so far by this process and its waited-for
// children (an external filter).
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	d := func(tv syscall.Timeval) time.Duration { return time.Duration(tv.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(children.Utime) + d(children.Stime)
}

// reportCPU reports the CPU seconds spent per GB since start: on a shared
// machine wall-clock rates vary with the load, CPU cost much less.
func reportCPU(b *testing.B, start time.Duration, n int) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N)/(float64(n)/1e9), "cpu-s/GB")
}

// cliCompressed returns benchData compressed by the command-line tool.
func cliCompressed(b *testing.B, name string, args ...string) (data, z []byte) {
	data = benchData()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(data)
	z, err := cmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	return data, z
}

// benchDecompress reads z, which decompresses to data, through c.
func benchDecompress(b *testing.B, c Codec, data, z []byte) {
	buf := make([]byte, copyBufferSize)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		r, err := c.NewReader(context.Background(), bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for {
			m, err := r.Read(buf)
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		if n != int64(len(data)) {
			b.Fatalf("decompressed %d bytes, want %d", n, len(data))
		}
	}
	reportCPU(b, cpu, len(data))
	b.ReportMetric(float64(len(data))/float64(len(z)), "ratio")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func BenchmarkLZ4Compress(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("inprocess/conc=%d", n), func(b *testing.B) {
			c := mustCodec(b, "lz4 -z")
			c.Concurrency = n
			benchCompress(b, c)
		})
	}
	b.Run("cli", func(b *testing.B) {
		lz4Path(b)
		benchCompress(b, mustCodec(b, "exec lz4 -z")) // "exec" makes it external
	})
}

func BenchmarkLZ4Decompress(b *testing.B) {
	data, z := cliCompressed(b, lz4Path(b), "-c")
	b.Run("inprocess", func(b *testing.B) { benchDecompress(b, mustCodec(b, "lz4 -d"), data, z) })
	b.Run("cli", func(b *testing.B) { benchDecompress(b, mustCodec(b, "exec lz4 -d"), data, z) })
}
