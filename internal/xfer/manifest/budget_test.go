package manifest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// hostile builds an encoded manifest of n files, each with a path of
// pathLen bytes and blocks blocks of block size bs, every block with the
// same hash.
func hostile(bs uint32, n, pathLen, blocks int) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, bs)
	b = binary.BigEndian.AppendUint64(b, 7)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	var h Hash
	copy(h[:], "all the same....")
	for i := range n {
		p := fmt.Sprintf("%0*d", pathLen, i)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
		b = binary.BigEndian.AppendUint64(b, uint64(blocks)*uint64(bs))
		for range blocks {
			b = append(b, h[:]...)
		}
	}
	return seal(b)
}

// TestDecodeMemoryBudget: whatever a joiner sends, Decode allocates no
// more than MaxMemory (plus its fixed buffers), keeps what fits, says what
// it dropped, and never fails for it.
func TestDecodeMemoryBudget(t *testing.T) {
	const slack = 256 << 10 // bufio.Reader, CRC, builder, error-free bookkeeping
	for _, tt := range []struct {
		name   string
		in     []byte
		budget int64
	}{
		// 1.2 GiB at the old limits, scaled down: long paths ...
		{"many long paths", hostile(MinBlockSize, 40000, MaxPath, 0), 8 << 20},
		// ... many small files with one block each ...
		{"many one-block files", hostile(MinBlockSize, 200000, 8, 1), 4 << 20},
		// ... and one hash for every block, in one file and in many.
		{"one hash, one file", hostile(MinBlockSize, 1, 1, 1<<20), 8 << 20},
		{"one hash, default budget", hostile(MinBlockSize, 64, 4, DefaultMaxBlocks/64), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := Decode(bytes.NewReader(tt.in), DecodeOptions{MaxMemory: tt.budget})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("Decode: %v, want what fits", err)
			}
			budget := tt.budget
			if budget == 0 {
				budget = DefaultMaxMemory
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(budget)+slack {
				t.Errorf("Decode allocated %d MiB, budget %d MiB", got>>20, budget>>20)
			}
			w := m.Warning()
			if !strings.Contains(w, fmt.Sprintf("%d MiB budget", budget>>20)) || !strings.Contains(w, "sent as data") {
				t.Errorf("Warning() = %q, want the budget and what happens", w)
			}
			if len(m.index) > MaxDuplicates || len(m.short) > MaxDuplicates {
				t.Errorf("index keeps %d+%d entries of one hash, want at most %d", len(m.index), len(m.short), MaxDuplicates)
			}
			if m.Blocks() > 0 {
				b := m.FileBlocks(m.Files()[0].Path)[0]
				if got, ok := m.Lookup(b.Hash, b.Length); !ok || got != b {
					t.Errorf("Lookup = %+v, %v; want the first block %+v", got, ok, b)
				}
			}
			t.Logf("kept %d files, %d blocks: %s", len(m.Files()), m.Blocks(), w)
		})
	}
}

// TestDecodePartial: a manifest over the budget keeps a prefix: the first
// files whole, the next one cut at a block boundary, none after it; what
// is kept is found, what is dropped is not.
func TestDecodePartial(t *testing.T) {
	const bsz = MinBlockSize
	blocks := func(seed byte, n, tail int) ([]Hash, int) {
		var hs []Hash
		for i := range n {
			hs = append(hs, Hash{seed, byte(i), byte(i >> 8), 1})
		}
		return hs, (n-1)*bsz + tail
	}
	type file struct {
		path   string
		hashes []Hash
		size   int
	}
	var files []file
	for i, p := range []string{"a", "b", "c"} {
		hs, size := blocks(byte(i), 1000, 100)
		files = append(files, file{p, hs, size})
	}
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, bsz)
	b = binary.BigEndian.AppendUint64(b, 7)
	b = binary.BigEndian.AppendUint32(b, uint32(len(files)))
	for _, f := range files {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.path)))
		b = append(b, f.path...)
		b = binary.BigEndian.AppendUint64(b, uint64(f.size))
		for _, h := range f.hashes {
			b = append(b, h[:]...)
		}
	}
	in := seal(b)
	// Room for a whole and part of b (a costs about 20 KiB, and the hash
	// array grows by doubling).
	m, err := Decode(bytes.NewReader(in), DecodeOptions{MaxMemory: 48 << 10})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Files()
	if len(got) != 2 || got[0].Path != "a" || got[0].Size != int64(files[0].size) ||
		got[1].Path != "b" || got[1].Size%bsz != 0 || got[1].Size == 0 || got[1].Size >= int64(files[1].size) {
		t.Fatalf("files %+v, want a whole and the first blocks of b", got)
	}
	keptB := int(got[1].Size / bsz)
	for i, f := range files {
		for j, h := range f.hashes {
			length := bsz
			if j == len(f.hashes)-1 {
				length = 100
			}
			_, ok := m.Lookup(h, length)
			want := i == 0 || i == 1 && j < keptB
			if ok != want {
				t.Errorf("%s block %d: found %v, want %v", f.path, j, ok, want)
			}
		}
	}
	w := m.Warning()
	if want := fmt.Sprintf("%d blocks", 1000-keptB+1000); !strings.Contains(w, want) || !strings.Contains(w, "1 whole files") {
		t.Errorf("Warning() = %q, want %q and 1 whole file", w, want)
	}
	// Within the default budget, nothing is dropped.
	m, err = Decode(bytes.NewReader(in), DecodeOptions{})
	if err != nil || len(m.Files()) != 3 || m.Warning() != "" {
		t.Fatalf("default budget: %d files, %q, %v; want all 3, no warning", len(m.Files()), m.Warning(), err)
	}
}

// TestLookupDuplicates: the index keeps MaxDuplicates blocks of one hash
// and length, Lookup returns the first in path order, and short blocks
// are told apart by length.
func TestLookupDuplicates(t *testing.T) {
	in := encoded(bs, "a", 100*bs+10, "b", 3*bs+10, "c", bs+20) // all hashes zero
	m, err := Decode(bytes.NewReader(in), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.index) != MaxDuplicates || len(m.short) != 3 {
		t.Errorf("index %d entries, short %d; want %d and 3 (a and b end in 10 bytes, c in 20)", len(m.index), len(m.short), MaxDuplicates)
	}
	for _, tt := range []struct {
		length int
		path   string
		offset int64
	}{{bs, "a", 0}, {10, "a", 100 * bs}, {20, "c", bs}} {
		b, ok := m.Lookup(Hash{}, tt.length)
		if !ok || b.Path != tt.path || b.Offset != tt.offset || b.Length != tt.length {
			t.Errorf("Lookup(0, %d) = %+v, %v; want %s at %d", tt.length, b, ok, tt.path, tt.offset)
		}
	}
	if _, ok := m.Lookup(Hash{}, 11); ok {
		t.Error("Lookup found a length that is not there")
	}
}
