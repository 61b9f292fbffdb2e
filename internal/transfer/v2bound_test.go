package transfer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
)

// TestV2WindowLog: the per-stream zstd window shrinks with the stream
// count, the total stays within the budget, and 8 MiB (the largest window
// of our donor and of the zstd CLI up to level 19) always fits.
func TestV2WindowLog(t *testing.T) {
	for n := 1; n <= xfer.MaxStreams; n++ {
		log := v2WindowLog(n)
		if log > v2ZstdMaxWindowLog || log < 23 {
			t.Errorf("v2WindowLog(%d) = %d, want 23..%d", n, log, v2ZstdMaxWindowLog)
		}
		if total := n << log; total > v2ZstdBudget {
			t.Errorf("%d streams x 2^%d = %d MiB, over the %d MiB budget", n, log, total>>20, v2ZstdBudget>>20)
		}
	}
	for _, tt := range []struct{ n, want int }{{1, 27}, {4, 27}, {5, 26}, {8, 26}, {16, 25}, {64, 23}} {
		if got := v2WindowLog(tt.n); got != tt.want {
			t.Errorf("v2WindowLog(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

// hostileZstdFrame is a zstd frame header declaring a window of
// 2^windowLog bytes, followed by one small raw block.
func hostileZstdFrame(windowLog int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0x00, byte(windowLog-10)<<3) // FHD: no size, no checksum; Window_Descriptor
	b = append(b, 0x19, 0x00, 0x00)            // last raw block of 3 bytes
	return append(b, "abc"...)
}

func readV2(t *testing.T, in []byte, streams int) ([]byte, error) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(in))
	var closers []io.Closer
	d := &v2Decoder{ctx: t.Context(), br: br, wire: br, streams: streams, onOpen: func(c io.Closer) { closers = append(closers, c) }}
	got, err := io.ReadAll(d)
	for _, c := range closers {
		c.Close()
	}
	return got, err
}

// TestV2DecoderWindowBound: a donor's frame declaring a window beyond the
// stream's share of the budget fails with an error naming the bound, and
// without allocating for it.
func TestV2DecoderWindowBound(t *testing.T) {
	for _, tt := range []struct {
		streams, windowLog int
		ok                 bool
	}{
		{1, 27, true},
		{1, 28, false},
		{1, 31, false},
		{1, 41, false},
		{8, 26, true},
		{8, 27, false},
		{64, 23, true},
		{64, 24, false},
		{64, 30, false},
	} {
		t.Run(fmt.Sprintf("%d-streams/2^%d", tt.streams, tt.windowLog), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := readV2(t, hostileZstdFrame(tt.windowLog), tt.streams)
			runtime.ReadMemStats(&after)
			if tt.ok {
				if err != nil || string(got) != "abc" {
					t.Fatalf("read %q, %v; want \"abc\", nil", got, err)
				}
				return
			}
			limit := fmt.Sprintf("the %d MiB limit", 1<<v2WindowLog(tt.streams)>>20)
			if err == nil || !strings.Contains(err.Error(), limit) || !strings.Contains(err.Error(), "512 MiB zstd window budget") {
				t.Fatalf("read: %v; want an error naming %s and the budget", err, limit)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("refusing the frame allocated %d MiB", grew>>20)
			}
		})
	}
}

// TestV2DecoderAcceptsOurDonor: what our donor's compressors write passes
// the bound at the stream counts they are used with: the in-process zstd
// at every level on one stream and SingleThreaded on 64, and the zstd CLI
// up to level 19 on 64.
func TestV2DecoderAcceptsOurDonor(t *testing.T) {
	data := make([]byte, 9<<20) // more than any window, half compressible
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(data); i += 4096 {
		if i%8192 == 0 {
			for j := i; j < i+4096; j++ {
				data[j] = byte(r.Uint32())
			}
		}
	}
	compress := func(c stream.Codec) []byte {
		var buf bytes.Buffer
		w, err := c.NewWriter(t.Context(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	check := func(name string, z []byte, streams int) {
		t.Helper()
		got, err := readV2(t, z, streams)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s on %d stream(s): read %d bytes, %v; want %d bytes", name, streams, len(got), err, len(data))
		}
	}
	for _, level := range []int{1, 3, 7, 19} {
		c, err := stream.NewCodec(stream.Zstd, level)
		if err != nil {
			t.Fatal(err)
		}
		check(c.Command(), compress(c), 1)
		check(c.Command()+" single-threaded", compress(c.SingleThreaded()), xfer.MaxStreams)
	}
	zcli, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("no zstd program")
	}
	for _, level := range []string{"-1", "-3", "-19"} {
		cmd := exec.CommandContext(t.Context(), zcli, "-q", "-c", level)
		cmd.Stdin = bytes.NewReader(data)
		z, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		check("zstd CLI "+level, z, xfer.MaxStreams)
	}
}
