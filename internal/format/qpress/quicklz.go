package qpress

import (
	"encoding/binary"
	"fmt"
)

// QuickLZ 1.5.0 packet header, first byte, bit by bit (quicklz.c, end of
// qlz_compress: "01SSLLHC"):
//
//	C  bit 0     1 = compressed, 0 = stored verbatim
//	H  bit 1     1 = 9-byte header (two uint32), 0 = 3-byte header (two uint8)
//	LL bits 2-3  compression level 1, 2 or 3
//	SS bits 4-5  QLZ_STREAMING_BUFFER: 0 = none, 1 = 100000, 2 = 1000000, 3 = other
//	01 bits 6-7  always 01
//
// followed by the packet's total size (header included), then the
// decompressed size, both little endian.
const (
	qlzCompressed  = 0x01
	qlzLongHeader  = 0x02
	qlzShortHeader = 3
	qlzLongHdrLen  = 9
)

// qlzHeader is a parsed QuickLZ packet header.
type qlzHeader struct {
	level      int  // 1, 2 or 3
	compressed bool // false: the payload is the data itself
	hdrLen     int  // 3 or 9
	packetLen  int  // header plus payload
	dataLen    int  // decompressed size
}

// qlzHeaderLen returns the header length announced by a packet's first byte.
func qlzHeaderLen(flags byte) int {
	if flags&qlzLongHeader != 0 {
		return qlzLongHdrLen
	}
	return qlzShortHeader
}

// parseQLZHeader parses the header at the start of b, which holds at least
// qlzHeaderLen(b[0]) bytes. It rejects streaming mode (qpress and
// mariadb-backup never use it), unknown levels, and sizes that contradict
// each other; it does not bound the sizes.
func parseQLZHeader(b []byte) (qlzHeader, error) {
	f := b[0]
	h := qlzHeader{
		level:      int(f>>2) & 3,
		compressed: f&qlzCompressed != 0,
		hdrLen:     qlzHeaderLen(f),
	}
	if f>>6 != 1 {
		return h, fmt.Errorf("%w: QuickLZ header byte %#02x", ErrCorrupt, f)
	}
	if s := (f >> 4) & 3; s != 0 {
		return h, fmt.Errorf("%w: QuickLZ streaming buffer mode %d", ErrUnsupported, s)
	}
	if h.level == 0 {
		return h, fmt.Errorf("%w: QuickLZ level 0", ErrCorrupt)
	}
	if h.hdrLen == qlzLongHdrLen {
		h.packetLen = int(binary.LittleEndian.Uint32(b[1:]))
		h.dataLen = int(binary.LittleEndian.Uint32(b[5:]))
	} else {
		h.packetLen = int(b[1])
		h.dataLen = int(b[2])
	}
	switch {
	case h.packetLen < h.hdrLen:
		return h, fmt.Errorf("%w: QuickLZ packet size %d below its header size", ErrCorrupt, h.packetLen)
	case !h.compressed && h.packetLen-h.hdrLen != h.dataLen:
		return h, fmt.Errorf("%w: stored QuickLZ packet of %d bytes claims %d", ErrCorrupt, h.packetLen-h.hdrLen, h.dataLen)
	case h.compressed && h.dataLen > maxExpansion*(h.packetLen-h.hdrLen):
		return h, fmt.Errorf("%w: compressed QuickLZ packet of %d bytes claims %d, more than %d times its size",
			ErrCorrupt, h.packetLen-h.hdrLen, h.dataLen, maxExpansion)
	}
	return h, nil
}

// maxExpansion bounds the decompressed size of a compressed packet by its
// payload size. No token yields more than 85 bytes per byte it takes: the
// longest match is 255 bytes from a 3-byte token (levels 1 and 2) or 258
// from a 4-byte one (level 3); a literal is one byte for one, and control
// words only add input. A header claiming more is lying, and the Reader
// refuses it before allocating the output.
const maxExpansion = 85

// Constants of the QuickLZ 1.5.0 decoder (quicklz.c, quicklz.h).
const (
	minOffset       = 2  // MINOFFSET: a back-reference reaches at least 3 bytes back
	lastLiterals    = 11 // UNCONDITIONAL_MATCHLEN + UNCOMPRESSED_END + 1
	uncompressedEnd = 4  // UNCOMPRESSED_END: the last 4 bytes are always literals
	hash1Values     = 4096
	hash2Values     = 2048
	hash2Pointers   = 4
)

// bitlut[n] is the number of literals announced by the low four control
// bits n before the first match bit (4 if none).
var bitlut = [16]int{4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0}

// decoder holds the QuickLZ hash tables of levels 1 and 2, which refer to
// earlier positions of the output by the hash of the three bytes there.
// Level 3 uses explicit offsets and no table. A decoder is reused across
// packets but reset for each, as with QLZ_STREAMING_BUFFER 0.
type decoder struct {
	h1    [hash1Values]int32
	h2    [hash2Values][hash2Pointers]int32
	count [hash2Values]uint8
}

func hash1(b []byte) int {
	i := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	return int(((i >> 12) ^ i) & (hash1Values - 1))
}

func hash2(b []byte) int {
	i := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	return int(((i >> 9) ^ (i >> 13) ^ i) & (hash2Values - 1))
}

func (d *decoder) reset(level int) {
	switch level {
	case 1:
		for i := range d.h1 {
			d.h1[i] = -1
		}
	case 2:
		for i := range d.h2 {
			d.h2[i] = [hash2Pointers]int32{-1, -1, -1, -1}
		}
		clear(d.count[:])
	}
}

// hashUpTo enters every output position after *last up to and including
// upTo into the level's table, as update_hash_upto does. The reference
// decoder lags: it hashes a position only once the three bytes there are
// written, and never inside a match, and this lag is part of the format.
func (d *decoder) hashUpTo(level int, out []byte, last *int, upTo int) {
	if level == 1 {
		for p := *last + 1; p <= upTo; p++ {
			d.h1[hash1(out[p:p+3])] = int32(p)
		}
	} else {
		for p := *last + 1; p <= upTo; p++ {
			h := hash2(out[p : p+3])
			c := d.count[h]
			d.h2[h][c&(hash2Pointers-1)] = int32(p)
			d.count[h] = c + 1
		}
	}
	if upTo > *last {
		*last = upTo
	}
}

// fetch4 returns the four bytes at in[s:] little endian, zero past the end.
func fetch4(in []byte, s int) uint32 {
	if s+4 <= len(in) {
		return binary.LittleEndian.Uint32(in[s:])
	}
	var v uint32
	for i := 0; s+i < len(in) && i < 4; i++ {
		v |= uint32(in[s+i]) << (8 * i)
	}
	return v
}

// decode decompresses the payload in (the packet without its header) of a
// compressed packet of the given level into out, whose length is the
// decompressed size. It never reads or writes out of bounds: every control
// word, token, literal run and back-reference is checked, and a violation is
// reported as ErrCorrupt. Trailing bytes in in are ignored (the reference
// compressor pads packets to at least 9 bytes).
func (d *decoder) decode(level int, out, in []byte) error {
	size := len(out)
	lastMatchStart := size - lastLiterals
	d.reset(level)
	lastHashed := -1
	cword := uint32(1)
	s, o := 0, 0
	for {
		if cword == 1 {
			if s+4 > len(in) {
				return fmt.Errorf("%w: control word past end of packet", ErrCorrupt)
			}
			cword = binary.LittleEndian.Uint32(in[s:])
			s += 4
		}
		switch {
		case cword&1 == 1:
			cword >>= 1
			fetch := fetch4(in, s)
			var from, n int
			switch level {
			case 1:
				from = int(d.h1[(fetch>>4)&0xfff])
				if fetch&0xf != 0 {
					n = int(fetch&0xf) + 2
					s += 2
				} else {
					n = int(fetch>>16) & 0xff
					s += 3
				}
			case 2:
				from = int(d.h2[(fetch>>5)&0x7ff][fetch&3])
				if fetch&0x1c != 0 {
					n = int(fetch>>2)&7 + 2
					s += 2
				} else {
					n = int(fetch>>16) & 0xff
					s += 3
				}
			default:
				var off int
				switch {
				case fetch&3 == 0:
					off, n = int(fetch&0xff)>>2, 3
					s++
				case fetch&2 == 0:
					off, n = int(fetch&0xffff)>>2, 3
					s += 2
				case fetch&1 == 0:
					off, n = int(fetch&0xffff)>>6, int(fetch>>2)&15+3
					s += 2
				case fetch&127 != 3:
					off, n = int(fetch>>7)&0x1ffff, int(fetch>>2)&0x1f+2
					s += 3
				default:
					off, n = int(fetch>>15), int(fetch>>7)&255+3
					s += 4
				}
				from = o - off
			}
			if s > len(in) {
				return fmt.Errorf("%w: match token past end of packet", ErrCorrupt)
			}
			if n < 3 || n > size-o-uncompressedEnd {
				return fmt.Errorf("%w: match of %d bytes at output byte %d of %d", ErrCorrupt, n, o, size)
			}
			if from < 0 || from > o-minOffset-1 {
				return fmt.Errorf("%w: back-reference to byte %d from output byte %d", ErrCorrupt, from, o)
			}
			copyMatch(out, o, from, n)
			if level <= 2 {
				d.hashUpTo(level, out, &lastHashed, o)
				lastHashed = o + n - 1
			}
			o += n
		case o < lastMatchStart:
			n := bitlut[cword&0xf]
			if s+n > len(in) {
				return fmt.Errorf("%w: literals past end of packet", ErrCorrupt)
			}
			if s+4 <= len(in) && o+4 <= size {
				// Copy four bytes whatever n: the extra ones are
				// rewritten before anything reads them.
				binary.LittleEndian.PutUint32(out[o:], binary.LittleEndian.Uint32(in[s:]))
			} else {
				copy(out[o:o+n], in[s:s+n])
			}
			cword >>= n
			o += n
			s += n
			if level <= 2 {
				d.hashUpTo(level, out, &lastHashed, o-3)
			}
		default:
			// The last bytes are literals whatever the control bits say;
			// the bits only count when to skip the next control word.
			for o < size {
				if cword == 1 {
					s += 4
					cword = 1 << 31
				}
				if s >= len(in) {
					return fmt.Errorf("%w: final literals past end of packet", ErrCorrupt)
				}
				out[o] = in[s]
				o++
				s++
				cword >>= 1
			}
			return nil
		}
	}
}

// copyMatch copies the n bytes at out[from:] to out[o:], from < o, as a
// forward byte-by-byte copy would: when the two overlap, the bytes o-from
// back repeat. Short matches, the most common, are copied by words, which
// may write up to 7 bytes past o+n; those lie ahead of the output and are
// rewritten before anything reads them.
func copyMatch(out []byte, o, from, n int) {
	dist := o - from
	if dist >= 8 && n <= 32 && o+n+8 <= len(out) {
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
		}
		return
	}
	if dist >= n {
		copy(out[o:o+n], out[from:from+n])
		return
	}
	// Overlapping: out[from:o] repeats with period dist; each copy doubles
	// the span that is known, so it stays a multiple of dist.
	for done := 0; done < n; {
		done += copy(out[o+done:o+n], out[from:o+done])
	}
}
