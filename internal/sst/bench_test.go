package sst

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"

	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream/mbstream"
)

// BenchmarkRecvBuffer measures the joiner's receive path, a loopback
// connection read through a bufio.Reader of several sizes into
// mbstream.Extract, to choose pipe.RecvBufferSize: a 256 MiB stream of 8
// interleaved files.
func BenchmarkRecvBuffer(b *testing.B) {
	var stream bytes.Buffer
	w := mbstream.NewWriter(&stream)
	files := make([]io.WriteCloser, 8)
	for i := range files {
		f, err := w.Create(fmt.Sprintf("db/t%d.ibd", i))
		if err != nil {
			b.Fatal(err)
		}
		files[i] = f
	}
	piece := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{})
	for range 32 {
		for _, f := range files {
			_, _ = rng.Read(piece)
			if _, err := f.Write(piece); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := stream.Bytes()

	for _, size := range []int{1 << 20, pipe.RecvBufferSize} {
		b.Run(fmt.Sprintf("buf=%dKiB", size>>10), func(b *testing.B) {
			base := b.TempDir()
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				dir := filepath.Join(base, fmt.Sprint(i))
				i++
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := receiveOnce(b, data, size, dir); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// receiveOnce sends data over a loopback connection and extracts it into
// dir through a bufio.Reader of size bytes, as openRecv and receiveSST do.
func receiveOnce(b *testing.B, data []byte, size int, dir string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			_, err = c.Write(data)
			c.Close()
		}
		sent <- err
	}()
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, size)
	if _, err := br.Peek(1); err != nil {
		return err
	}
	if _, err := mbstream.Extract(b.Context(), br, dir, mbstream.ExtractOptions{Workers: extractWorkers}); err != nil {
		return err
	}
	return <-sent
}
