package mbstream

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// FuzzExtractPieces cuts a stream into random frames and pieces, as a v2
// donor does: framing as data, random ranges of payload chunks' payloads
// as clones (half of them carrying their bytes, as the joiner's
// v2Pieces hands them on, half to be read from a reference), the rest as
// data. ExtractPieces must then do exactly what ExtractTo (the plain
// Reader) does with the whole stream: the same files and counts, or an
// error where it fails. A clone lying about its CRC, or a clone in a
// chunk's framing, must fail cleanly; nothing may panic.
//
// mode: bit 0 lies about one clone's CRC, bit 1 puts a clone in the
// framing.
func FuzzExtractPieces(f *testing.F) {
	for seed := range uint64(3) {
		f.Add(mixedStream(f, seed, 5000), seed, uint8(0))
	}
	valid := mixedStream(f, 9, 3000)
	f.Add(valid, uint64(1), uint8(1))
	f.Add(valid, uint64(2), uint8(2))
	f.Add(stream(pchunk("a", 0, "abcdefgh"),
		rawChunk{typ: ChunkSparse, path: "a", off: 8, payload: []byte("cd"), sparse: []SparseRange{{3, 1}, {0, 1}, {4, 0}}},
		rawChunk{typ: 'Y', flags: FlagIgnorable, path: "x", payload: []byte("z")},
		echunk("a"), echunk("b/c")), uint64(4), uint8(0))
	f.Add(stream(pchunk("a", 0, "abc"), pchunk("a", 4, "d")), uint64(5), uint8(0))

	const maxSize = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, mode uint8) {
		rng := rand.New(rand.NewPCG(seed, uint64(mode)))
		src, refs, lied, misplaced := cutPieces(rng, data, mode, maxSize)
		opts := ExtractOptions{Workers: 2, MaxPayload: maxSize}

		plain := newCloneSink(nil, maxSize)
		pst, perr := ExtractTo(t.Context(), bytes.NewReader(data), plain, opts)
		cut := newCloneSink(refs, maxSize)
		qst, qerr := ExtractPieces(t.Context(), src, cut, opts)
		if errors.Is(perr, errTooBig) || errors.Is(qerr, errTooBig) {
			return
		}
		switch {
		case lied || misplaced:
			if qerr == nil {
				t.Fatalf("ExtractPieces accepted a stream with a bad clone (lied %v, misplaced %v)", lied, misplaced)
			}
			if perr == nil && lied && !misplaced && !errors.Is(qerr, ErrChecksum) {
				t.Errorf("clone with a wrong CRC: %v, want ErrChecksum", qerr)
			}
		case perr == nil && qerr != nil:
			t.Fatalf("ExtractPieces failed where ExtractTo succeeds: %v", qerr)
		case perr != nil && qerr == nil:
			t.Fatalf("ExtractPieces accepted a stream ExtractTo rejects: %v", perr)
		case perr == nil:
			if pst != qst {
				t.Errorf("ExtractPieces stats %+v, ExtractTo %+v", qst, pst)
			}
			equalFiles(t, cut.files, plain.files)
		}
	})
}

// cutPieces cuts data into pieces from rng's choices. Chunks are found
// with a Scanner that skips the checksums, as the v2 donor forwards them;
// what follows a chunk it cannot frame goes as data. refs are the bytes
// each clone without Data stands for.
func cutPieces(rng *rand.Rand, data []byte, mode uint8, maxSize int64) (src *pieces, refs map[string][]byte, lied, misplaced bool) {
	src, refs = &pieces{}, make(map[string][]byte)
	var clones []*Clone
	var framing []int // indexes of pieces that start framing
	add := func(b []byte) {
		for len(b) > 0 {
			n := min(len(b), 1+rng.IntN(64))
			src.list = append(src.list, piece{data: b[:n]})
			b = b[n:]
		}
	}
	sc := NewScanner(bytes.NewReader(data), ScanOptions{MaxPayload: maxSize, SkipChecksum: true})
	done := 0
	for {
		seg, err := sc.Next()
		if err != nil {
			break // io.EOF, or a chunk the readers will refuse
		}
		// The segment is valid until the next call: keep copies.
		framing = append(framing, len(src.list))
		add(bytes.Clone(seg.Header))
		for p := bytes.Clone(seg.Payload); len(p) > 0; {
			n := min(len(p), 1+rng.IntN(200))
			if seg.Type == ChunkPayload && rng.IntN(3) == 0 {
				c := &Clone{Ref: fmt.Sprint("r", len(refs)), Len: int64(n), CRC: crc32.ChecksumIEEE(p[:n])}
				if rng.IntN(2) == 0 {
					c.Data = p[:n]
				} else {
					refs[c.Ref] = p[:n]
				}
				src.list = append(src.list, piece{clone: c})
				clones = append(clones, c)
			} else {
				add(p[:n])
			}
			p = p[n:]
		}
		done += len(seg.Header) + len(seg.Payload)
	}
	add(data[done:])
	if mode&1 != 0 && len(clones) > 0 {
		clones[rng.IntN(len(clones))].CRC ^= 1 << rng.IntN(32)
		lied = true
	}
	if mode&2 != 0 {
		at := len(src.list) // where the next chunk's framing would be
		if len(framing) > 0 && rng.IntN(4) != 0 {
			at = framing[rng.IntN(len(framing))]
		}
		bad := piece{clone: &Clone{Ref: "framing", Len: 1, CRC: crc32.ChecksumIEEE([]byte{0})}}
		src.list = append(src.list[:at], append([]piece{bad}, src.list[at:]...)...)
		refs["framing"] = []byte{0}
		misplaced = true
	}
	return src, refs, lied, misplaced
}

// cloneSink is a memSink whose files take clones: their Data, or else the
// bytes refs holds for their Ref, checked against the clone's CRC as a
// DirSink checks what it reads. No file may grow past max bytes
// (errTooBig).
type cloneSink struct {
	memSink
	refs map[string][]byte
	max  int64
}

func newCloneSink(refs map[string][]byte, max int64) *cloneSink {
	return &cloneSink{memSink: memSink{files: make(map[string][]byte), open: make(map[string]bool)}, refs: refs, max: max}
}

func (s *cloneSink) Create(name string) (SinkFile, error) {
	f, err := s.memSink.Create(name)
	if err != nil {
		return nil, err
	}
	return &cloneFile{memFile: f.(*memFile), s: s}, nil
}

type cloneFile struct {
	*memFile
	s *cloneSink
}

func (f *cloneFile) fits(end int64) error {
	if end > f.s.max {
		return fmt.Errorf("%q up to byte %d: %w", f.name, end, errTooBig)
	}
	return nil
}

func (f *cloneFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fits(off + int64(len(p))); err != nil {
		return 0, err
	}
	return f.memFile.WriteAt(p, off)
}

func (f *cloneFile) Punch(off, n int64) error {
	if err := f.fits(off); err != nil {
		return err
	}
	return f.memFile.Punch(off, n)
}

func (f *cloneFile) End(size int64) error {
	if err := f.fits(size); err != nil {
		return err
	}
	return f.memFile.End(size)
}

func (f *cloneFile) Clone(c Clone) error {
	b := c.Data
	if b == nil {
		b = f.s.refs[c.Ref]
		if crc32.ChecksumIEEE(b) != c.CRC {
			return fmt.Errorf("%w: clone %q", ErrCloneMismatch, c.Ref)
		}
	}
	if int64(len(b)) != c.Len {
		return fmt.Errorf("clone %q: %d bytes for %d", c.Ref, len(b), c.Len)
	}
	_, err := f.WriteAt(b, c.Off)
	return err
}

// TestExtractPiecesCut: the fuzz property on random valid streams, in
// the unit tests.
func TestExtractPiecesCut(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 3))
		data, want := randomStream(rng)
		src, refs, _, _ := cutPieces(rng, data, 0, 1<<20)
		got := newCloneSink(refs, 1<<20)
		if _, err := ExtractPieces(t.Context(), src, got, ExtractOptions{}); err != nil {
			t.Fatalf("seed %d: ExtractPieces: %v", seed, err)
		}
		equalFiles(t, got.files, want)
	}
}
