package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// Codec is a parsed [sst] compressor or decompressor command. The script
// puts the command in a shell pipe ("$scomp | $tcmd", "$sdecomp | $strmcmd");
// a Codec does the same job as a stream stage. When the command is a plain
// lz4 filter (lz4, lz4 -z, lz4 -dc, /usr/bin/lz4 -q -B7 -1, unlz4, lz4cat ...)
// the work is done in process with github.com/pierrec/lz4/v4, producing and
// reading standard LZ4 frames compatible with the lz4 command-line tool;
// anything else runs as `sh -c <command>` (see StartFilterWriter).
//
// The zero Codec is not usable; create one with ParseCodec. A Codec is a
// plain value: set the exported fields before calling NewWriter or NewReader.
type Codec struct {
	// Stderr, if not nil, receives the external filter's standard error
	// as it is written (e.g. a line-prefixing log writer). Not used in
	// process.
	Stderr io.Writer
	// Env is the external filter's environment; nil means the current
	// process's environment, as the script's shell pipe has.
	Env []string
	// Concurrency is the number of goroutines the in-process lz4 writer
	// uses to compress blocks; 0 means 2, 1 compresses on the calling
	// goroutine. The reader always decodes on the calling goroutine.
	Concurrency int

	cmd string
	lz4 *lz4Options // nil: external filter
}

// lz4Options are the lz4 CLI flags that matter for a filter.
type lz4Options struct {
	decompress      bool
	level           lz4.CompressionLevel
	blockSize       lz4.BlockSize
	blockChecksum   bool
	contentChecksum bool
}

// defaultLZ4Concurrency: on a 2-core machine BenchmarkLZ4Compress (32 MiB of
// mixed data) ran at about 0.79 GB/s with 1 goroutine and 1.1-1.2 GB/s with
// 2; each goroutine holds 4 MB block buffers, and the rest of the pipeline
// (mariabackup, TLS) needs CPU too, so it is not GOMAXPROCS.
const defaultLZ4Concurrency = 2

// ParseCodec parses a compressor or decompressor shell command. It fails
// only for an empty command. Whether an lz4 command is recognised never
// changes the result, only how it is obtained: an lz4 command line with an
// option this parser does not know runs as an external process, so the lz4
// tool itself judges it.
func ParseCodec(cmd string) (Codec, error) {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" {
		return Codec{}, errors.New("parse compression command: empty command")
	}
	return Codec{cmd: cmd, lz4: parseLZ4(cmd)}, nil
}

// Command returns the command as configured, trimmed.
func (c Codec) Command() string { return c.cmd }

// InProcess reports whether the command is an lz4 filter handled in process:
// NewWriter does so when it compresses, NewReader when it decompresses.
func (c Codec) InProcess() bool { return c.lz4 != nil }

// String describes the codec for log messages, e.g.
// `"lz4 -dc" (in-process lz4 decompression)`.
func (c Codec) String() string {
	switch {
	case c.lz4 == nil:
		return strconv.Quote(c.cmd)
	case c.lz4.decompress:
		return strconv.Quote(c.cmd) + " (in-process lz4 decompression)"
	default:
		return strconv.Quote(c.cmd) + " (in-process lz4 compression)"
	}
}

// NewWriter returns a writer that passes everything written to it through
// the command and writes the result to w: the compress side, where
// mariabackup's output is written and the connection receives the
// compressed stream. Close must be called to finish the stream (write the
// lz4 frame end, or close the filter's input and wait for it); it does not
// close w. A command that decompresses (lz4 -d used as a compressor) runs as
// an external process, as the script would run it.
func (c Codec) NewWriter(ctx context.Context, w io.Writer) (io.WriteCloser, error) {
	if c.lz4 != nil && !c.lz4.decompress {
		return newLZ4Writer(w, c.lz4, c.Concurrency)
	}
	return StartFilterWriter(ctx, c.filterConfig(), w)
}

// NewReader returns a reader of the output of the command fed with r: the
// decompress side, where the connection is read and mbstream receives the
// plain stream. Close releases resources (and stops an external filter that
// has not finished); it does not close r. A command that compresses runs as
// an external process.
func (c Codec) NewReader(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	if c.lz4 != nil && c.lz4.decompress {
		return newLZ4Reader(r), nil
	}
	return StartFilterReader(ctx, c.filterConfig(), r)
}

func (c Codec) filterConfig() FilterConfig {
	return FilterConfig{Command: c.cmd, Env: c.Env, Stderr: c.Stderr}
}

// parseLZ4 recognises an lz4 command line that reads stdin and writes
// stdout and returns its options, or nil when the command is anything else
// (another program, a file argument, shell syntax, an unknown or
// unsupported option). It follows the option loop of lz4's lz4cli.c (v1.9):
// short options may be combined ("-dc", "-qB7"), digits after "-" set the
// level, and "-B" takes a number or D/X.
func parseLZ4(cmd string) *lz4Options {
	if strings.ContainsAny(cmd, "|&;<>()$`\\\"'*?[]#~=%{}\n") && !onlyFastEq(cmd) {
		return nil
	}
	args := strings.Fields(cmd)
	o := &lz4Options{level: lz4.Fast, blockSize: lz4.Block4Mb, contentChecksum: true}
	switch path.Base(args[0]) {
	case "lz4":
	case "unlz4", "lz4cat":
		o.decompress = true
	default:
		return nil
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "--") {
			if !o.long(a) {
				return nil
			}
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			return nil // a file name, or "-" (stdin) which we do not expect
		}
		if !o.short(a[1:]) {
			return nil
		}
	}
	return o
}

// onlyFastEq reports whether the only shell-special character in cmd is
// the "=" of "--fast=N", which is harmless.
func onlyFastEq(cmd string) bool {
	for _, f := range strings.Fields(cmd) {
		if strings.ContainsAny(f, "|&;<>()$`\\\"'*?[]#~%{}\n") {
			return false
		}
		if strings.Contains(f, "=") && !strings.HasPrefix(f, "--fast=") {
			return false
		}
	}
	return true
}

func (o *lz4Options) long(a string) bool {
	switch {
	case a == "--compress":
		o.decompress = false
	case a == "--decompress", a == "--uncompress":
		o.decompress = true
	case a == "--stdout", a == "--to-stdout", a == "--quiet", a == "--verbose",
		a == "--force", a == "--keep", a == "--sparse", a == "--no-sparse",
		a == "--favor-decSpeed", a == "--no-content-size":
		// No effect on a stdin-to-stdout stream.
	case a == "--fast" || strings.HasPrefix(a, "--fast="):
		// Negative levels trade ratio for speed; the pure-Go fast
		// compressor has no acceleration knob and is used as it is.
		if n, ok := strings.CutPrefix(a, "--fast="); ok {
			if v, err := strconv.Atoi(n); err != nil || v < 1 {
				return false
			}
		}
		o.level = lz4.Fast
	case a == "--best":
		o.level = cliLevel(12)
	case a == "--no-frame-crc":
		o.contentChecksum = false
	case a == "--frame-crc":
		o.contentChecksum = true
	default:
		return false // --content-size, --list, --test, --multiple, ...
	}
	return true
}

func (o *lz4Options) short(s string) bool {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= '0' && ch <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(s[i:j])
			o.level = cliLevel(n)
			i = j - 1
		case ch == 'z':
			o.decompress = false
		case ch == 'd':
			o.decompress = true
		case ch == 'c', ch == 'q', ch == 'v', ch == 'f', ch == 'k', ch == 'S':
			// stdout, quiet, verbose, force, keep, sparse: no effect here.
		case ch == 'B':
			i++
			for i < len(s) {
				switch {
				case s[i] == 'D':
					// Linked blocks: we write independent blocks, which
					// any lz4 -d reads; the ratio is slightly lower.
					i++
				case s[i] == 'X':
					o.blockChecksum = true
					i++
				case s[i] >= '0' && s[i] <= '9':
					j := i
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
					n, _ := strconv.Atoi(s[i:j])
					bs, ok := blockSize(n)
					if !ok {
						return false
					}
					o.blockSize = bs
					i = j
				default:
					goto next
				}
			}
		next:
			i-- // the loop's i++ moves to the character after -B's value
		default:
			return false // -l (legacy), -m, -r, -t, -b, -h, -V, -T ...
		}
	}
	return true
}

// blockSize maps -B4..-B7 to a block size; lz4 also accepts a byte count
// (-B32 and up), which it rounds to a predefined size in a way we do not
// mirror, so those run externally.
func blockSize(n int) (lz4.BlockSize, bool) {
	switch n {
	case 4:
		return lz4.Block64Kb, true
	case 5:
		return lz4.Block256Kb, true
	case 6:
		return lz4.Block1Mb, true
	case 7:
		return lz4.Block4Mb, true
	}
	return 0, false
}

// cliLevel maps an lz4 CLI level to pierrec/lz4: 1 and 2 are the fast
// compressor in liblz4 (LZ4HC starts at 3), 3 to 9 map one to one, and 10 to
// 12 (LZ4HC's optimal parser) to the strongest level available.
func cliLevel(n int) lz4.CompressionLevel {
	levels := [...]lz4.CompressionLevel{lz4.Level3, lz4.Level4, lz4.Level5,
		lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9}
	switch {
	case n < 3:
		return lz4.Fast
	case n > 9:
		return lz4.Level9
	}
	return levels[n-3]
}

// lz4Writer adapts lz4.Writer: errors name the stage, and Close is
// idempotent.
type lz4Writer struct {
	zw     *lz4.Writer
	gate   *gateWriter
	closed bool
	err    error
}

func newLZ4Writer(w io.Writer, o *lz4Options, concurrency int) (*lz4Writer, error) {
	if concurrency <= 0 {
		concurrency = defaultLZ4Concurrency
	}
	gate := &gateWriter{w: w}
	zw := lz4.NewWriter(gate)
	// The lz4 CLI writes independent 4 MB blocks (-B7) with a content
	// checksum and no block checksums or content size; match it.
	err := zw.Apply(
		lz4.BlockSizeOption(o.blockSize),
		lz4.ChecksumOption(o.contentChecksum),
		lz4.BlockChecksumOption(o.blockChecksum),
		lz4.CompressionLevelOption(o.level),
		lz4.ConcurrencyOption(concurrency),
	)
	if err != nil {
		return nil, fmt.Errorf("set up lz4 compression: %w", err)
	}
	return &lz4Writer{zw: zw, gate: gate}, nil
}

// Write compresses p. Errors, including those of the underlying writer, are
// sticky.
func (w *lz4Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("lz4 compress: write after close")
	}
	if err := w.gate.failed(); err != nil {
		w.abandon(fmt.Errorf("lz4 compress: %w", err))
		return 0, w.err
	}
	n, err := w.zw.Write(p)
	if err != nil {
		w.fail(fmt.Errorf("lz4 compress: %w", err))
		return n, w.err
	}
	return n, nil
}

// readFrom compresses everything r yields until EOF, reading straight into
// the lz4 block buffers (Copy's path for this writer: it saves a copy of
// every byte). ctx is checked before every read, and the stream below
// after every block written. A failure of r (returned as it is), of the
// stream below, or ctx ends the copy and leaves the frame without its end
// mark.
func (w *lz4Writer) readFrom(ctx context.Context, r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("lz4 compress: write after close")
	}
	src := &stopReader{ctx: ctx, r: r, gate: w.gate}
	n, err := w.zw.ReadFrom(src)
	if err != nil {
		w.fail(fmt.Errorf("lz4 compress: %w", err))
		return n, w.err
	}
	if src.err != nil {
		// pierrec/lz4 saw a clean end, so that the goroutines
		// compressing the last blocks run to completion.
		w.abandon(src.err)
		return n, w.err
	}
	return n, nil
}

// stopReader reads from r until ctx is done, r fails or the stream below
// failed, then reports a clean end and keeps the reason in err.
type stopReader struct {
	ctx  context.Context
	r    io.Reader
	gate *gateWriter
	err  error
}

func (s *stopReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, io.EOF
	}
	if s.ctx.Err() != nil {
		s.err = context.Cause(s.ctx)
		return 0, io.EOF
	}
	if err := s.gate.failed(); err != nil {
		s.err = fmt.Errorf("lz4 compress: %w", err)
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
		err = io.EOF
	}
	return n, err
}

// errAbandoned is what the gate answers once shut.
var errAbandoned = errors.New("lz4 compress: stream abandoned")

// gateWriter passes writes to w until shut, then refuses them, and keeps
// the first error of w. pierrec/lz4's concurrent writer writes blocks
// from its own goroutine and reports their errors only at Close; the gate
// lets the writer notice a dead connection at the next block instead of
// compressing (and the donor backing up) everything first.
type gateWriter struct {
	w    io.Writer
	mu   sync.Mutex
	shut bool
	err  error
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	shut := g.shut
	g.mu.Unlock()
	if shut {
		return 0, errAbandoned
	}
	n, err := g.w.Write(p)
	if err != nil {
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
	return n, err
}

// close shuts the gate: later writes fail with errAbandoned.
func (g *gateWriter) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

// failed returns the first error of the underlying writer, if any.
func (g *gateWriter) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// abandon records err and ends the frame without its end mark: with the
// gate shut nothing more reaches the stream, and Close waits for the
// goroutines still compressing blocks (Reset, in fail, would race with
// them).
func (w *lz4Writer) abandon(err error) {
	w.err = err
	w.gate.close()
	_ = w.zw.Close()
}

// fail records err and releases the lz4.Writer: after an error its Close
// returns early without stopping the goroutine that orders concurrent
// blocks, which Reset does.
func (w *lz4Writer) fail(err error) {
	w.err = err
	w.zw.Reset(io.Discard)
}

// Close flushes pending blocks and writes the frame end (and checksum). It
// does not close the underlying writer.
func (w *lz4Writer) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil {
		w.fail(fmt.Errorf("lz4 compress: finish frame: %w", err))
	}
	return w.err
}

// lz4Reader adapts lz4.Reader, which reads concatenated frames (and skips
// skippable ones) as lz4 -d does.
type lz4Reader struct {
	zr *lz4.Reader
}

// The reader decodes on the calling goroutine: with pierrec/lz4's
// ConcurrencyOption(2) BenchmarkLZ4Decompress fell from about 1.9 GB/s to
// 1.4 GB/s on 2 cores (the decoder is faster than the hand-off).
func newLZ4Reader(r io.Reader) *lz4Reader {
	return &lz4Reader{zr: lz4.NewReader(r)}
}

// Read decompresses into p. The end of the input is io.EOF only at a frame
// boundary; a truncated frame is an error.
func (r *lz4Reader) Read(p []byte) (int, error) {
	n, err := r.zr.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("lz4 decompress: %w", err)
	}
	return n, err
}

// Close does nothing and returns nil: the reader owns no resources beyond
// memory. It does not close the underlying reader.
func (r *lz4Reader) Close() error { return nil }
