package mbstream

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		a := make([]byte, rng.IntN(5000))
		b := make([]byte, rng.IntN(70000))
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := crc32.ChecksumIEEE(append(bytes.Clone(a), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Fatalf("combine(%d, %d bytes) = %#08x, want %#08x", len(a), len(b), got, want)
		}
	}
}

// TestCRC32CombineLong: B of up to 64 MiB (DefaultMaxPayload) and past
// 2^32 bytes, where x2nTable wraps round, against hashing zeros.
func TestCRC32CombineLong(t *testing.T) {
	zeros := make([]byte, 1<<20)
	for _, n := range []int64{1, 3, 4095, 1 << 20, 10<<20 + 17, 64 << 20} {
		crcB, left := uint32(0), n
		for left > 0 {
			k := min(left, int64(len(zeros)))
			crcB = crc32.Update(crcB, crc32.IEEETable, zeros[:k])
			left -= k
		}
		want := crc32.Update(0xdeadbeef, crc32.IEEETable, nil)
		for left = n; left > 0; left -= int64(len(zeros)) {
			want = crc32.Update(want, crc32.IEEETable, zeros[:min(left, int64(len(zeros)))])
		}
		if got := crc32Combine(0xdeadbeef, crcB, n); got != want {
			t.Errorf("combine(%d zero bytes) = %#08x, want %#08x", n, got, want)
		}
	}
	// x^(2^32) is x again: the table's period, which lengths of 2^29
	// bytes and more rely on.
	p := x2nTable[31]
	if p = multModP(p, p); p != x2nTable[0] {
		t.Errorf("x^(2^32) = %#08x, want x = %#08x", p, x2nTable[0])
	}
}

// pieces is a PieceSource over a list.
type pieces struct {
	list []piece
}

type piece struct {
	data  []byte
	clone *Clone
}

func (p *pieces) NextPiece() ([]byte, *Clone, error) {
	if len(p.list) == 0 {
		return nil, nil, io.EOF
	}
	x := p.list[0]
	p.list = p.list[1:]
	return x.data, x.clone, nil
}

// toPieces cuts an mbstream into pieces as a v2 donor would: framing as
// data, random parts of payload chunks' payloads as clones of the same
// bytes at the same place in the reference file (the file as it ends up),
// the rest as data in random sizes.
func toPieces(t *testing.T, rng *rand.Rand, stream []byte) (*pieces, int64) {
	t.Helper()
	var ps pieces
	var cloned int64
	data := func(b []byte) {
		for len(b) > 0 {
			n := min(len(b), 1+rng.IntN(4000))
			ps.list = append(ps.list, piece{data: bytes.Clone(b[:n])})
			b = b[n:]
		}
	}
	forSegments(t, stream, ScanOptions{}, func(seg *Segment) {
		data(seg.Header)
		p := seg.Payload
		for len(p) > 0 {
			n := min(len(p), 1+rng.IntN(3000))
			if seg.Type == ChunkPayload && rng.IntN(2) == 0 {
				off := seg.Offset + int64(len(seg.Payload)-len(p))
				c := &Clone{Ref: seg.Path, RefOff: off, Len: int64(n), CRC: crc32.ChecksumIEEE(p[:n])}
				if rng.IntN(2) == 0 {
					c.Data = bytes.Clone(p[:n]) // read and checked by the source
				}
				ps.list = append(ps.list, piece{clone: c})
				cloned += int64(n)
			} else {
				data(p[:n])
			}
			p = p[n:]
		}
	})
	return &ps, cloned
}

// TestExtractPiecesProperty: random files, random chunks (payload and
// sparse), random clones of payload ranges from a reference copy: the
// files come out exact, through a DirSink that reads the clones.
func TestExtractPiecesProperty(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 29))
		stream, want := randomStream(rng)
		ref := t.TempDir()
		for name, b := range want {
			p := filepath.Join(ref, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		refs := openRoot(t, ref)
		out := t.TempDir()
		root := openRoot(t, out)
		src, cloned := toPieces(t, rng, stream)
		st, err := ExtractPieces(t.Context(), src, NewDirSink(root, DirSinkOptions{Refs: refs}), ExtractOptions{Workers: 1 + rng.IntN(4)})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if st.Files != len(want) {
			t.Errorf("seed %d: %d files, want %d", seed, st.Files, len(want))
		}
		equalFiles(t, readTree(t, out), want)
		root.Close()
		refs.Close()
		if seed == 0 && cloned == 0 {
			t.Error("nothing cloned")
		}
	}
}

// TestExtractPiecesHostile: clones where they do not belong, or lying
// about their bytes, fail; nothing else comes of them.
func TestExtractPiecesHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	content := make([]byte, 3000)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	stream := append(rawChunk{typ: ChunkPayload, path: "f", off: 0, payload: content}.bytes(), echunk("f").bytes()...)
	ref := t.TempDir()
	if err := os.WriteFile(filepath.Join(ref, "f"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	hdrLen := len(stream) - len(content) - len(echunk("f").bytes())
	good := &Clone{Ref: "f", RefOff: 0, Len: 3000, CRC: crc32.ChecksumIEEE(content)}
	for _, tc := range []struct {
		name string
		list []piece
		want error
	}{
		{"clone in framing", []piece{{data: stream[:10]}, {clone: good}}, ErrHeader},
		{"clone past the payload", []piece{{data: stream[:hdrLen]}, {clone: &Clone{Ref: "f", Len: 3001, CRC: 1}}}, ErrHeader},
		{"clone with a wrong CRC", []piece{{data: stream[:hdrLen]}, {clone: &Clone{Ref: "f", Len: 3000, CRC: 5}}, {data: stream[hdrLen+3000:]}}, ErrChecksum},
		// The chunk's CRC holds (the clone claims the right bytes' CRC), but
		// the reference file has other bytes there: the sink's check.
		{"clone of other bytes", []piece{{data: stream[:hdrLen]}, {clone: &Clone{Ref: "f", RefOff: 1, Len: 2999, CRC: crc32.ChecksumIEEE(content[:2999])}}, {data: content[2999:]}, {data: stream[hdrLen+3000:]}}, ErrCloneMismatch},
		// Lying about the CRC to match other bytes breaks the chunk's.
		{"clone of other bytes with their CRC", []piece{{data: stream[:hdrLen]}, {clone: &Clone{Ref: "f", RefOff: 1, Len: 2999, CRC: crc32.ChecksumIEEE(content[1:])}}, {data: content[2999:]}, {data: stream[hdrLen+3000:]}}, ErrChecksum},
		{"cut after a clone", []piece{{data: stream[:hdrLen]}, {clone: &Clone{Ref: "f", Len: 1000, CRC: crc32.ChecksumIEEE(content[:1000])}}}, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := openRoot(t, ref)
			root := openRoot(t, t.TempDir())
			_, err := ExtractPieces(t.Context(), &pieces{list: tc.list}, NewDirSink(root, DirSinkOptions{Refs: refs}), ExtractOptions{})
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// BenchmarkPieceReader is the joiner's hot path of transfer v2 without
// the sink: payloads arriving as checked clones (Data set, as v2Pieces
// hands them on) of cloneLen bytes each, read into the chunk buffer.
func BenchmarkPieceReader(b *testing.B) {
	for _, cloneLen := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("clone=%dKiB", cloneLen>>10), func(b *testing.B) {
			data := benchStream(b, 2, 16<<20)
			var list []piece
			forSegments(b, data, ScanOptions{}, func(seg *Segment) {
				list = append(list, piece{data: bytes.Clone(seg.Header)})
				for p := seg.Payload; len(p) > 0; {
					n := min(len(p), cloneLen)
					list = append(list, piece{clone: &Clone{Len: int64(n), CRC: crc32.ChecksumIEEE(p[:n]), Data: bytes.Clone(p[:n])}})
					p = p[n:]
				}
			})
			dst := make([]byte, ChunkSize)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r := newPieceReader(&pieces{list: list}, 0)
				var clones []Clone
				forEach(b, r.next, func(c *Chunk) {
					var err error
					if clones, err = r.payload(dst[:c.Length], clones[:0]); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}
