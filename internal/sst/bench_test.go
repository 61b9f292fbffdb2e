package sst

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/transfer"
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
	if _, err := mbstream.Extract(b.Context(), br, dir, mbstream.ExtractOptions{Workers: transfer.ExtractWorkers}); err != nil {
		return err
	}
	return <-sent
}

// BenchmarkSSTDataStage runs whole SSTs (both roles in process, the fake
// mariadb-backup streaming a 256 MiB table of sbtest-like pages) over
// loopback: the stock stream (transfer-v2=0) against transfer v2 with 1, 2
// and 4 streams, plain and compressed, into an empty joiner; "rejoin" is
// v2 into a joiner that already holds the table (everything referenced);
// tls is encrypt=3 without compression.
// It chose the default of [sst] parallel-streams (see README).
//
//	go test -run '^$' -bench SSTDataStage -benchtime 3x ./internal/sst/
func BenchmarkSSTDataStage(b *testing.B) {
	const mb = 256
	codecs := []struct{ name, cnf string }{
		{"plain", ""},
		{"lz4", "compressor=lz4\ndecompressor=lz4 -d\n"},
		{"zstd", "compressor=zstd -1\ndecompressor=zstd -d\n"},
	}
	modes := []struct {
		name, cnf string
		rejoin    bool
	}{
		{"stock", "transfer-v2=0\n", false},
		{"v2x1", "parallel-streams=1\n", false},
		{"v2x2", "parallel-streams=2\n", false},
		{"v2x4", "parallel-streams=4\n", false},
		{"v2x2-rejoin", "parallel-streams=2\n", true},
	}
	certs := makeCerts(b, b.TempDir(), time.Now().Add(time.Hour))
	codecs = append(codecs, struct{ name, cnf string }{"tls", fmt.Sprintf("encrypt=3\ntca=%s\ntcert=%s\ntkey=%s\n", certs.CA, certs.Cert, certs.Key)})
	for _, c := range codecs {
		for _, m := range modes {
			b.Run(m.name+"/"+c.name, func(b *testing.B) {
				b.Setenv("FAKE_BACKUP_MB", strconv.Itoa(mb))
				e := newSSTEnv(b, c.cnf+m.cnf)
				e.handler = NewLogHandler(io.Discard, slog.LevelWarn)
				sst := func() {
					ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
					defer cancel()
					addr, _, jdone := e.startJoiner(b, ctx)
					if _, err := e.runDonor(b, ctx, addr); err != nil {
						b.Fatalf("donor: %v", err)
					}
					if err := <-jdone; err != nil {
						b.Fatalf("joiner: %v", err)
					}
				}
				if m.rejoin {
					sst()
				}
				b.SetBytes(mb << 20)
				for b.Loop() {
					if !m.rejoin {
						b.StopTimer()
						must(b, os.RemoveAll(e.joiner))
						must(b, os.Mkdir(e.joiner, 0o755))
						b.StartTimer()
					}
					sst()
				}
			})
		}
	}
}
