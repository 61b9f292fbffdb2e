package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Codec is a parsed [sst] compressor or decompressor command. The script
// puts the command in a shell pipe ("$scomp | $tcmd", "$sdecomp | $strmcmd");
// a Codec does the same job as a stream stage. When the command is a plain
// lz4 or zstd filter the work is done in process, producing and reading
// standard frames that the lz4 and zstd command-line tools read and write:
//
//   - lz4, lz4 -z, lz4 -dc, /usr/bin/lz4 -q -B7 -1, unlz4, lz4cat ... with
//     github.com/pierrec/lz4/v4;
//   - zstd, zstd -1 ... -19, zstd --fast=N, zstd -T0, zstd -dc, zstdmt,
//     unzstd, zstdcat ... with github.com/klauspost/compress/zstd (see
//     zstdOptions.encoderLevel for how levels map).
//
// Anything else runs as `sh -c <command>` (see StartFilterWriter), and so
// does a recognised command with an option whose meaning the in-process
// code does not reproduce.
//
// The zero Codec is not usable; create one with ParseCodec or NewCodec. A
// Codec is a plain value: set the exported fields before calling NewWriter
// or NewReader.
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
	// goroutine. The zstd writer follows the command's -T instead. Readers
	// always decode on the calling goroutine.
	Concurrency int

	cmd  string
	lz4  *lz4Options  // nil unless an lz4 filter handled in process
	zstd *zstdOptions // nil unless a zstd filter handled in process
	// both is set by NewCodec: NewWriter compresses and NewReader
	// decompresses in process, whichever way the command goes.
	both bool
}

// Format is a compression format that a Codec can handle in process.
type Format string

// The formats of NewCodec.
const (
	LZ4  Format = "lz4"
	Zstd Format = "zstd"
)

// ParseCodec parses a compressor or decompressor shell command. It fails
// only for an empty command. Whether an lz4 or zstd command is recognised
// never changes the result, only how it is obtained: a command line with
// an option this parser does not know runs as an external process, so the
// tool itself judges it.
func ParseCodec(cmd string) (Codec, error) {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" {
		return Codec{}, errors.New("parse compression command: empty command")
	}
	return Codec{cmd: cmd, lz4: parseLZ4(cmd), zstd: parseZstd(cmd)}, nil
}

// NewCodec returns a codec for format f at a level of the format's
// command-line tool, for a transport that chooses the compression itself
// instead of taking an [sst] command: lz4 1 to 12, zstd 1 to 22 or -1 to
// -131072 for --fast=N; 0 means the tool's default. NewWriter compresses
// and NewReader decompresses, both in process (a zstd stream that does not
// start with a zstd frame is an error, not handed to the zstd program).
// Command returns the equivalent command line, e.g. "zstd -19" or
// "zstd --fast=3", for the log and for a peer that runs the tool.
func NewCodec(f Format, level int) (Codec, error) {
	var cmd string
	switch {
	case f == LZ4 && level == 0:
		cmd = "lz4"
	case f == LZ4 && level > 0 && level <= 12:
		cmd = fmt.Sprintf("lz4 -%d", level)
	case f == Zstd && level == 0:
		cmd = "zstd"
	case f == Zstd && level < 0 && level >= -1<<17:
		cmd = fmt.Sprintf("zstd --fast=%d", -level)
	case f == Zstd && level > 0 && level <= 19:
		cmd = fmt.Sprintf("zstd -%d", level)
	case f == Zstd && level > 19 && level <= 22:
		cmd = fmt.Sprintf("zstd --ultra -%d", level)
	default:
		return Codec{}, fmt.Errorf("new codec: unsupported format %q or level %d", f, level)
	}
	c, err := ParseCodec(cmd)
	if err != nil {
		return Codec{}, err
	}
	c.both = true
	return c, nil
}

// singleWindow is the zstd window of SingleThreaded codecs: the encoder's
// history and the decoder's buffer per connection, where InnoDB pages
// find their repeats.
const singleWindow = 2 << 20

// SingleThreaded returns c compressing on the calling goroutine (lz4
// Concurrency 1, zstd as --single-thread with a 2 MiB window), for callers
// that run one codec per connection and get their parallelism, and their
// memory bound, from the number of connections.
func (c Codec) SingleThreaded() Codec {
	c.Concurrency = 1
	if c.zstd != nil {
		o := *c.zstd
		o.single = true
		o.window = singleWindow
		c.zstd = &o
	}
	return c
}

// MaxWindowLog returns c with its in-process zstd decompression refusing,
// before allocating for it, any frame whose window exceeds 2^log bytes
// (log 10 to 31); the error names the limit and note, which says where
// the limit comes from (e.g. "the zstd window budget of a v2 stream").
// The default is the zstd CLI's: 2^27 (128 MiB), or --long=N. It has no
// effect on lz4 or on a filter program.
func (c Codec) MaxWindowLog(log int, note string) Codec {
	if c.zstd != nil {
		o := *c.zstd
		o.windowLog = min(max(log, 10), maxZstdWindowLog)
		o.limitNote = note
		c.zstd = &o
	}
	return c
}

// lz4FrameMagic starts every lz4 frame (the lz4 frame format, little-endian
// 0x184D2204).
var lz4FrameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

// SniffFormat returns the format whose frame starts b (at least 4 bytes):
// LZ4 or Zstd, "" for anything else.
func SniffFormat(b []byte) Format {
	switch {
	case len(b) >= 4 && bytes.Equal(b[:4], lz4FrameMagic):
		return LZ4
	case isZstdStart(b):
		return Zstd
	}
	return ""
}

// Format returns the format the codec handles in process, "" for a
// filter program.
func (c Codec) Format() Format {
	switch {
	case c.lz4 != nil:
		return LZ4
	case c.zstd != nil:
		return Zstd
	}
	return ""
}

// Command returns the command as configured, trimmed.
func (c Codec) Command() string { return c.cmd }

// InProcess reports whether the command is an lz4 or zstd filter handled in
// process: NewWriter does so when it compresses, NewReader when it
// decompresses (a zstd reader still hands input that does not start with a
// zstd frame to the zstd program, see NewReader).
func (c Codec) InProcess() bool { return c.lz4 != nil || c.zstd != nil }

// String describes the codec for log messages, e.g.
// `"lz4 -dc" (in-process lz4 decompression)` or `"zstd -19 -T4" (in-process
// zstd compression, level 19 as klauspost "best", 2 goroutines)`.
func (c Codec) String() string {
	q := strconv.Quote(c.cmd)
	switch {
	case c.lz4 != nil && c.both:
		return q + " (in-process lz4)"
	case c.lz4 != nil && c.lz4.decompress:
		return q + " (in-process lz4 decompression)"
	case c.lz4 != nil:
		return q + " (in-process lz4 compression)"
	case c.zstd != nil && c.both:
		return q + " (in-process zstd, level " + strconv.Itoa(c.zstd.level) + ")"
	case c.zstd != nil:
		return q + " (" + c.zstd.describe() + ")"
	}
	return q
}

// NewWriter returns a writer that passes everything written to it through
// the command and writes the result to w: the compress side, where
// mariabackup's output is written and the connection receives the
// compressed stream. Close must be called to finish the stream (write the
// frame end, or close the filter's input and wait for it); it does not
// close w. A command that decompresses (lz4 -d used as a compressor) runs
// as an external process, as the script would run it.
func (c Codec) NewWriter(ctx context.Context, w io.Writer) (io.WriteCloser, error) {
	switch {
	case c.lz4 != nil && (c.both || !c.lz4.decompress):
		return newLZ4Writer(w, c.lz4, c.Concurrency)
	case c.zstd != nil && (c.both || !c.zstd.decompress):
		return newZstdWriter(w, c.zstd)
	}
	return StartFilterWriter(ctx, c.filterConfig(), w)
}

// NewReader returns a reader of the output of the command fed with r: the
// decompress side, where the connection is read and mbstream receives the
// plain stream. Close releases resources (and stops an external filter that
// has not finished); it does not close r. A command that compresses runs
// as an external process. An in-process zstd reader looks at the first
// bytes of r at its first Read: if they are not a zstd frame (the zstd CLI
// also decodes gzip, xz and lz4, and zstdcat passes plain data through), it
// starts the command after all and feeds it those bytes and the rest of r,
// so the result is the tool's.
func (c Codec) NewReader(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	switch {
	case c.lz4 != nil && (c.both || c.lz4.decompress):
		return newLZ4Reader(r), nil
	case c.zstd != nil && c.both:
		return &zstdReader{r: r, o: c.zstd}, nil
	case c.zstd != nil && c.zstd.decompress:
		fallback := func(in io.Reader) (io.ReadCloser, error) {
			return StartFilterReader(ctx, c.filterConfig(), in)
		}
		return &zstdReader{r: r, o: c.zstd, fallback: fallback}, nil
	}
	return StartFilterReader(ctx, c.filterConfig(), r)
}

func (c Codec) filterConfig() FilterConfig {
	return FilterConfig{Command: c.cmd, Env: c.Env, Stderr: c.Stderr}
}

// plainWords splits cmd into words if sh would run it as one program with
// literal arguments: no word holds a character that is special to the
// shell (pipes, redirections, quotes, expansions, globs, comments,
// assignments), except that "=" is allowed in words starting with one of
// eqPrefixes, such as "--fast=", where it is harmless. Otherwise, or for an
// empty command, it returns nil and the command runs under sh.
func plainWords(cmd string, eqPrefixes ...string) []string {
	words := strings.Fields(cmd)
	for _, w := range words {
		if strings.ContainsAny(w, "|&;<>()$`\\\"'*?[]#~%{}\n") {
			return nil
		}
		if strings.Contains(w, "=") && !hasAnyPrefix(w, eqPrefixes) {
			return nil
		}
	}
	if len(words) == 0 {
		return nil
	}
	return words
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
