package stream

import (
	"path"
	"strconv"
	"strings"

	"github.com/pierrec/lz4/v4"
)

// lz4Options are the lz4 CLI flags that matter for a filter.
type lz4Options struct {
	decompress      bool
	level           lz4.CompressionLevel
	blockSize       lz4.BlockSize
	blockChecksum   bool
	contentChecksum bool
}

// parseLZ4 recognises an lz4 command line that reads stdin and writes
// stdout and returns its options, or nil when the command is anything else
// (another program, a file argument, shell syntax, an unknown or
// unsupported option). It follows the option loop of lz4's lz4cli.c (v1.9):
// short options may be combined ("-dc", "-qB7"), digits after "-" set the
// level, and "-B" takes a number or D/X.
func parseLZ4(cmd string) *lz4Options {
	args := plainWords(cmd, "--fast=")
	if args == nil {
		return nil
	}
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
