package qpress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// compressedPacket wraps a hand-made payload (control words and tokens) in
// a compressed QuickLZ packet header claiming size decompressed bytes.
func compressedPacket(level, size int, payload []byte) []byte {
	h := []byte{0x40 | byte(level)<<2 | qlzLongHeader | qlzCompressed}
	h = binary.LittleEndian.AppendUint32(h, uint32(len(payload)+9))
	h = binary.LittleEndian.AppendUint32(h, uint32(size))
	return append(h, payload...)
}

func cword(bits uint32) []byte { return binary.LittleEndian.AppendUint32(nil, bits) }

func TestHostilePackets(t *testing.T) {
	lits := []byte("abcdefgh")
	tests := []struct {
		name    string
		level   int
		size    int
		payload []byte
	}{
		// Level 3: 8 literals, then a 1-byte match token reaching 63 bytes back.
		{"L3 offset before start", 3, 40, append(append(cword(1<<8|1<<31), lits...), 63<<2)},
		// Level 3: match at distance 1 (below the minimum of 3).
		{"L3 offset too short", 3, 40, append(append(cword(1<<8|1<<31), lits...), 1<<2)},
		// Level 3: 4-byte token with a 258-byte match in a 40-byte output.
		{"L3 match past end", 3, 40, append(append(cword(1<<8|1<<31), lits...), 0x83, 0x7f, 0x03, 0x00)},
		// Level 1: a match through an empty hash slot.
		{"L1 unset hash", 1, 40, append(append(cword(1<<8|1<<31), lits...), 0x01, 0x00)},
		// Level 2: a match through an empty hash slot.
		{"L2 unset hash", 2, 40, append(append(cword(1<<8|1<<31), lits...), 0x07, 0x00)},
		// Level 1: long-form match of length 0.
		{"L1 zero length", 1, 40, append(append(cword(1<<8|1<<31), lits...), 0x00, 0x00, 0x00)},
		{"no control word", 1, 40, []byte{1, 2}},
		{"literals missing", 3, 40, append(cword(1<<31), 'a', 'b')},
		{"token cut", 3, 40, append(append(cword(1<<8|1<<31), lits...), 0x83)},
		{"tail cut", 1, 5, append(cword(1<<31), 'a', 'b')},
		{"huge size, no data", 1, 60000, cword(1 << 31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decoder
			pk := compressedPacket(tt.level, tt.size, tt.payload)
			h, err := parseQLZHeader(pk)
			if err == nil {
				err = d.decode(h.level, make([]byte, h.dataLen), pk[h.hdrLen:])
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode: err = %v, want ErrCorrupt", err)
			}
			// The same through a whole archive.
			arch := buildArchive(t, "x", 65536, [][]byte{pk})
			if _, _, err := decodeAll(bytes.NewReader(arch)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("reader: err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestHandMadeLevel3 decodes a level-3 packet built by hand: 8 literals,
// a 3-byte match 4 back, an overlapping run, then the final literals.
func TestHandMadeLevel3(t *testing.T) {
	want := []byte("abcdefghefgefgefgefgeXYZW")
	payload := cword(1<<8 | 1<<9 | 1<<31)
	payload = append(payload, "abcdefgh"...)
	payload = append(payload, 4<<2)                 // match len 3, offset 4: "efg"
	payload = append(payload, byte(3<<6|7<<2|2), 0) // len 10, offset 3: "efgefgefge"
	payload = append(payload, "XYZW"...)
	pk := compressedPacket(3, len(want), payload)
	arch := buildArchive(t, "hand", 65536, [][]byte{pk})
	_, got, err := decodeAll(bytes.NewReader(arch))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStoredLevels(t *testing.T) {
	for level := 1; level <= 3; level++ {
		want := bytes.Repeat([]byte{byte(level)}, 300)
		arch := buildArchive(t, "s", 65536, [][]byte{storedPacket(level, want[:100]), storedPacket(level, want[100:])})
		_, got, err := decodeAll(bytes.NewReader(arch))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("level %d: got %d bytes, %v", level, len(got), err)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		arch := readFixture(f, fx.path)
		if len(arch) < 8<<10 {
			f.Add(arch)
		}
	}
	f.Add(buildArchive(f, "x", 64, [][]byte{compressedPacket(3, 40, append(append(cword(1<<8|1<<31), "abcdefgh"...), 4<<2))}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != int64(r.off) {
			t.Errorf("read %d bytes, reader counted %d", n, r.off)
		}
		if cap(r.out) > r.chunkSize || cap(r.packet) > max(r.chunkSize+qlzOverhead, 4096) {
			t.Errorf("buffers %d/%d for chunk size %d", cap(r.out), cap(r.packet), r.chunkSize)
		}
	})
}

// TestCopyMatch checks copyMatch against a forward byte-by-byte copy for
// every short distance and length, overlapping or not, near the end of
// the output too.
func TestCopyMatch(t *testing.T) {
	for dist := 1; dist <= 40; dist++ {
		for n := 3; n <= 80; n++ {
			for _, tail := range []int{0, 1, 7, 8, 40} {
				size := 50 + n + tail
				want := make([]byte, size)
				for i := range 50 {
					want[i] = byte(i*7 + 1)
				}
				got := slices.Clone(want)
				o := 50
				for i := range n {
					want[o+i] = want[o-dist+i]
				}
				copyMatch(got, o, o-dist, n)
				if !bytes.Equal(got[:o+n], want[:o+n]) {
					t.Fatalf("dist %d n %d tail %d: got %x, want %x", dist, n, tail, got[:o+n], want[:o+n])
				}
			}
		}
	}
}

// TestClaimedSizeNotAllocated feeds a block whose header claims the
// largest chunk while its packet holds a few bytes, as a hostile archive
// would to make each of DecompressDir's workers allocate MaxChunkSize. The
// Reader must refuse it without allocating anything near that.
func TestClaimedSizeNotAllocated(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
	}{
		{"control word only", cword(1 << 31)},
		{"some literals", append(cword(1<<31), make([]byte, 1000)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := compressedPacket(1, MaxChunkSize, tt.payload)
			arch := buildArchive(t, "x", MaxChunkSize, [][]byte{pk})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := decodeAll(bytes.NewReader(arch))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than 85 times its size") {
				t.Errorf("err = %v, want ErrCorrupt for the claimed size", err)
			}
			if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20); got > limit {
				t.Errorf("allocated %d bytes for a %d-byte archive, want at most %d", got, len(arch), limit)
			}
		})
	}
}
