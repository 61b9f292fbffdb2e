package stream

import (
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// zstdOptions are the zstd CLI flags that matter for a filter.
type zstdOptions struct {
	decompress bool
	// level is the zstd CLI level: 1 to 22, or negative for --fast=N.
	level int
	// threads is -T: 0 means one per core; the CLI's default is 1.
	threads int
	// single is --single-thread: compression and I/O share one thread.
	single bool
	// window, when set, caps the encoder's window (SingleThreaded codecs:
	// many of them at once must stay small, on both ends).
	window int
	// check is --[no-]check: write the content checksum when compressing,
	// verify it when decompressing.
	check bool
	// windowLog bounds the window a frame may ask of the decoder, 2^windowLog
	// bytes: 27 (128 MiB) as in the zstd CLI, or --long=N, or what
	// Codec.MaxWindowLog set.
	windowLog int
	// limitNote, when set, says where windowLog comes from in the error
	// for a frame beyond it, instead of the --long=N hint.
	limitNote string
}

const (
	// defaultZstdWindowLog is the zstd CLI's decompression limit without
	// --long or --memory (ZSTD_WINDOWLOG_LIMIT_DEFAULT): frames asking for
	// a larger window are refused, as the CLI refuses them.
	defaultZstdWindowLog = 27
	// maxZstdWindowLog is the largest --long=N of the 64-bit zstd CLI
	// (ZSTD_WINDOWLOG_MAX).
	maxZstdWindowLog = 31
	// maxZstdThreads bounds -T: each goroutine compresses a 32 MiB job
	// (four 8 MiB windows) and the rest of the pipeline needs CPU too.
	maxZstdThreads = 4
)

// parseZstd recognises a zstd command line that reads stdin and writes
// stdout and returns its options, or nil when the command is anything else
// (another program, a file argument, shell syntax, an unknown option, or
// one whose meaning we do not reproduce: other formats, dictionaries,
// --long when compressing, memory limits, --adapt, --rsyncable, ...). It
// follows the option loop of zstd's zstdcli.c (v1.5): short options may be
// combined ("-dc", "-qT4", "-19T0"), digits after "-" set the level, -T
// takes a number; the last level given wins, and levels above 19 need
// --ultra (the CLI lowers them to 19 otherwise). zstdmt is zstd -T0, unzstd
// zstd -d, zstdcat zstd -dcf.
func parseZstd(cmd string) *zstdOptions {
	args := plainWords(cmd, "--fast=", "--long=", "--threads=", "--format=")
	if args == nil {
		return nil
	}
	o := &zstdOptions{level: 3, threads: 1, check: true, windowLog: defaultZstdWindowLog}
	switch path.Base(args[0]) {
	case "zstd":
	case "zstdmt":
		o.threads = 0
	case "unzstd", "zstdcat":
		// zstdcat's -f passes non-zstd input through; such input never
		// reaches the in-process decoder (see zstdReader).
		o.decompress = true
	default:
		return nil
	}
	var ultra, long bool
	for _, a := range args[1:] {
		var ok bool
		if strings.HasPrefix(a, "--") {
			ok = o.long(a, &ultra, &long)
		} else if len(a) >= 2 && a[0] == '-' {
			ok = o.short(a[1:])
		}
		if !ok {
			return nil // an unknown option, a file name, or "-"
		}
	}
	if long && !o.decompress {
		// --long compresses with long-distance matching, which
		// klauspost/compress does not have.
		return nil
	}
	switch {
	case o.level == 0:
		o.level = 3 // level 0 is the library's default
	case o.level > 22:
		o.level = 22
	case o.level > 19 && !ultra:
		o.level = 19
	}
	return o
}

func (o *zstdOptions) long(a string, ultra, long *bool) bool {
	name, val, hasVal := strings.Cut(a, "=")
	switch name {
	case "--compress":
		o.decompress = false
	case "--decompress", "--uncompress":
		o.decompress = true
	case "--stdout", "--force", "--keep", "--quiet", "--verbose", "--progress",
		"--no-progress", "--sparse", "--no-sparse", "--content-size",
		"--no-content-size", "--pass-through", "--no-pass-through", "--rm":
		// No effect on a stdin-to-stdout stream of zstd frames: the
		// sizes of stdin are unknown, --rm keeps stdin, and pass-through
		// concerns input that is not zstd, which the zstd program
		// decodes (see zstdReader).
	case "--check":
		o.check = true
	case "--no-check":
		o.check = false
	case "--ultra":
		*ultra = true
	case "--single-thread":
		o.single = true
	case "--fast":
		n := 1
		if hasVal {
			var ok bool
			if n, ok = number(val, 1<<17); !ok || n < 1 {
				return false
			}
		}
		o.level = -n
		return true
	case "--long":
		*long = true
		o.windowLog = defaultZstdWindowLog
		if hasVal {
			n, ok := number(val, maxZstdWindowLog)
			if !ok || n < 10 {
				return false
			}
			o.windowLog = n
		}
		return true
	case "--threads":
		n, ok := number(val, 1<<10)
		if !hasVal || !ok {
			return false
		}
		o.threads = n
		return true
	case "--format":
		return val == "zstd"
	default:
		return false // --format=gz, --memory, --adapt, --rsyncable, --train, ...
	}
	return !hasVal
}

func (o *zstdOptions) short(s string) bool {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= '0' && ch <= '9':
			j := digits(s, i)
			n, ok := number(s[i:j], 1<<10)
			if !ok {
				return false
			}
			o.level = n
			i = j - 1
		case ch == 'T':
			j := digits(s, i+1)
			n, ok := number(s[i+1:j], 1<<10)
			if !ok {
				return false
			}
			o.threads = n
			i = j - 1
		case ch == 'z':
			o.decompress = false
		case ch == 'd':
			o.decompress = true
		case ch == 'c', ch == 'q', ch == 'v', ch == 'f', ch == 'k':
			// stdout, quiet, verbose, force, keep: no effect here.
		default:
			return false // -D, -o, -M, -B, -l, -t, -r, -h, -V, -C ...
		}
	}
	return true
}

// digits returns the end of the run of decimal digits in s starting at i.
func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// number parses a decimal number of at most limit; the zstd CLI rejects
// what overflows.
func number(s string, limit int) (int, bool) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > limit {
		return 0, false
	}
	return n, true
}

// encoderLevel maps a zstd CLI level to klauspost/compress with its
// EncoderLevelFromZstd, which picks the encoder closest in ratio:
//
//	--fast=N, 1, 2   SpeedFastest            (about zstd -1)
//	3 to 5           SpeedDefault            (about zstd -3)
//	6 to 9           SpeedBetterCompression  (about zstd -7)
//	10 to 22         SpeedBestCompression    (about zstd -11)
//
// The frames are standard either way; only speed and ratio differ from the
// CLI at the same level.
func (o *zstdOptions) encoderLevel() zstd.EncoderLevel {
	return zstd.EncoderLevelFromZstd(o.level)
}

// concurrency returns how many goroutines compress and whether they split
// the input into jobs (zstd -T2 and up, zstdmt): -T0 means one per
// CPU, and -T is bounded by GOMAXPROCS and maxZstdThreads. The CLI's
// default -T1 compresses on one worker thread while its main thread reads
// and writes; the in-process equivalent is klauspost's two-goroutine
// stream encoder (one encodes a block while the other writes the previous
// one). --single-thread compresses on the caller's goroutine.
func (o *zstdOptions) concurrency() (n int, jobs bool) {
	if o.single {
		return 1, false
	}
	n = o.threads
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	n = min(n, runtime.GOMAXPROCS(0), maxZstdThreads)
	if n <= 1 {
		return 2, false
	}
	return n, true
}

// describe says what the in-process codec does, for Codec.String.
func (o *zstdOptions) describe() string {
	if o.decompress {
		return "in-process zstd decompression"
	}
	n, _ := o.concurrency()
	return fmt.Sprintf("in-process zstd compression, level %d as klauspost %q, %d goroutines",
		o.level, o.encoderLevel(), n)
}
