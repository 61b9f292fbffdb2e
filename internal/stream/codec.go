package stream

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
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
