// Command pipebench is the Go side of scripts/bench-pipe.sh: it moves a
// byte stream over TCP with the project's own stream and tlsx packages, so
// that the script can compare it with the socat (and lz4 | socat | lz4)
// pipelines of the stock wsrep_sst_mariabackup script. It is not installed
// and not used by the SST program.
//
// Usage:
//
//	pipebench recv -listen 127.0.0.1:PORT [-tls-cert F -tls-key F -tls-ca F] [-lz4]
//	pipebench send -addr 127.0.0.1:PORT [-tls-cert F -tls-key F -tls-ca F] [-lz4]
//	pipebench gen -size BYTES
//
// recv accepts one connection and writes the (decompressed) stream to
// stdout; send reads stdin and sends it (compressed). Both report the
// bytes moved on stderr. The stages are internal/pipe's, as the SST program
// uses them: TLS on the connection, a 64 KiB buffered reader on the
// receiving side, lz4 on top, stream.Copy moving the bytes, and pipe's
// Finish (TLS close_notify or a half-close) ending the stream. gen writes deterministic benchmark input: 1 MiB
// pieces alternating between pseudo-random bytes and repetitive SQL-like
// text, half of each.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/tlsx"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("PIPEBENCH_CPUPROFILE"); path != "" {
		// Profiling aid: PIPEBENCH_CPUPROFILE=/tmp/send.prof pipebench send ...
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "pipebench: cpu profile: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	switch os.Args[1] {
	case "recv":
		err = recv(ctx, os.Args[2:])
	case "send":
		err = send(ctx, os.Args[2:])
	case "gen":
		err = gen(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pipebench %s: %v\n", os.Args[1], err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pipebench recv -listen HOST:PORT [-tls-cert F -tls-key F -tls-ca F] [-lz4]\n"+
		"       pipebench send -addr HOST:PORT [-tls-cert F -tls-key F -tls-ca F] [-lz4]\n"+
		"       pipebench gen -size BYTES")
	os.Exit(2)
}

// options are the flags send and recv share.
type options struct {
	cert, key, ca string
	lz4           bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.cert, "tls-cert", "", "certificate `file` (enables TLS, encrypt=3)")
	fs.StringVar(&o.key, "tls-key", "", "private key `file`")
	fs.StringVar(&o.ca, "tls-ca", "", "CA certificate `file` verifying the peer")
	fs.BoolVar(&o.lz4, "lz4", false, "compress (send) or decompress (recv) with in-process lz4")
}

func (o *options) tls() bool { return o.cert != "" }

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func recv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("recv", flag.ExitOnError)
	listen := fs.String("listen", "", "`host:port` to listen on")
	var o options
	o.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-listen: bad port %q", portStr)
	}
	var cfg *tls.Config
	if o.tls() {
		// The joiner's side: no peer name, as the script passes
		// commonname='' to openssl-listen.
		cfg, err = tlsx.ServerConfig(tlsx.Params{Encrypt: 3, Mode: tlsx.ModeRequired, CA: o.ca, Cert: o.cert, Key: o.key})
		if err != nil {
			return err
		}
	}
	ln, err := stream.Listen(ctx, stream.ListenConfig{Host: host, Port: port})
	if err != nil {
		return err
	}
	conn, err := ln.Accept(ctx)
	ln.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	defer stream.CloseOnCancel(ctx, conn)()

	wire := &countingConn{Conn: conn}
	pc := pipe.Config{TLS: cfg, Peer: "sender"}
	if o.lz4 {
		codec, err := stream.ParseCodec("lz4 -d")
		if err != nil {
			return err
		}
		pc.Codec = &codec
	}
	r, err := pipe.OpenRecv(ctx, wire, pc)
	if err != nil {
		return err
	}
	defer r.Close()
	if st, ok := r.TLS(); ok {
		fmt.Fprintf(os.Stderr, "pipebench recv: %s %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	n, err := stream.Copy(ctx, os.Stdout, r)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	fmt.Fprintf(os.Stderr, "pipebench recv: %d bytes (%d on the wire)\n", n, wire.n)
	return nil
}

func send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	addr := fs.String("addr", "", "`host:port` to connect to")
	var o options
	o.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg *tls.Config
	if o.tls() {
		// The donor's side: the chain and the name the script's
		// commonname=localhost asks for.
		var err error
		cfg, err = tlsx.ClientConfig(tlsx.Params{Encrypt: 3, Mode: tlsx.ModeRequired, CA: o.ca, Cert: o.cert, Key: o.key, PeerName: "localhost"})
		if err != nil {
			return err
		}
	}
	conn, err := stream.Dial(ctx, stream.DialConfig{Addr: *addr, Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	defer stream.CloseOnCancel(ctx, conn)()

	pc := pipe.Config{TLS: cfg, Peer: "receiver"}
	if o.lz4 {
		codec, err := stream.ParseCodec("lz4 -z")
		if err != nil {
			return err
		}
		pc.Codec = &codec
	}
	w, err := pipe.OpenSend(ctx, conn, pc)
	if err != nil {
		return err
	}
	defer w.Abort()
	n, err := stream.Copy(ctx, w, os.Stdin)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	if err := w.Finish(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pipebench send: %d bytes\n", n)
	return nil
}

// countingConn counts the bytes read from the connection (the bytes on the
// wire, before TLS and decompression).
type countingConn struct {
	net.Conn
	n int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	return n, err
}

// gen writes -size bytes of benchmark input to stdout.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	size := fs.Int64("size", 1<<30, "bytes to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	const piece = 1 << 20
	rng := rand.NewChaCha8([32]byte{'p', 'i', 'p', 'e', 'b', 'e', 'n', 'c', 'h'})
	bw := bufio.NewWriterSize(os.Stdout, piece)
	buf := make([]byte, piece)
	text := make([]byte, 0, piece+256)
	row := 0
	for left, i := *size, 0; left > 0; i++ {
		p := buf
		if i%2 == 0 {
			rng.Read(p)
		} else {
			text = text[:0]
			for len(text) < piece {
				row++
				text = fmt.Appendf(text, "INSERT INTO sbtest1 VALUES (%d,%d,'%08d-galera-sst-pipe-benchmark','filler text filler text');\n", row, row%10007, row*7)
			}
			p = text[:piece]
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
		if _, err := bw.Write(p); err != nil {
			return err
		}
		left -= int64(len(p))
	}
	return bw.Flush()
}
