package mbstream

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzScan scans arbitrary streams. The segments must reproduce the input
// up to the first failing chunk (all of it when the scan succeeds), memory
// must follow the input rather than the lengths in it, and the Scanner
// must accept what the Reader accepts, with the same chunks, and fail
// where it fails, with the same error.
func FuzzScan(f *testing.F) {
	for seed := range uint64(4) {
		f.Add(mixedStream(f, seed, 500))
	}
	f.Add(stream(pchunk("a", 0, "ab"),
		rawChunk{typ: ChunkSparse, path: "a", off: 2, payload: []byte("cd"), sparse: []SparseRange{{3, 1}, {0, 1}, {4, 0}}},
		rawChunk{typ: 'Y', flags: FlagIgnorable, path: "x", payload: []byte("z")},
		echunk("a"), echunk("b/c")))
	f.Add(stream(pchunk("a", 0, "abc"), pchunk("a", 4, "d")))
	f.Add(stream(rawChunk{typ: ChunkPayload, path: "a", length: ptr(uint64(DefaultMaxPayload)), payload: []byte("x")}))
	f.Add(stream(rawChunk{typ: ChunkSparse, path: "a", length: ptr(uint64(MaxSparseEntries)), sparse: make([]SparseRange, 4)}))

	f.Fuzz(func(t *testing.T, data []byte) {
		// First a bare scan, to measure what the Scanner allocates.
		var s *Scanner
		n := allocated(func() {
			s = NewScanner(bytes.NewReader(data), ScanOptions{})
			for {
				if _, err := s.Next(); err != nil {
					break
				}
			}
		})
		// A bufio.Reader of 64 KiB, payload and header buffers at most
		// twice the input or 64 KiB, a decoded sparse map as large as its
		// bytes, and per chunk a path, a map entry and an error.
		if limit := uint64(256<<10 + 8*len(data)); n > limit {
			t.Errorf("allocated %d bytes for %d bytes of input, limit %d", n, len(data), limit)
		}
		if c := cap(s.buf); c > max(64<<10, 2*len(data)) {
			t.Errorf("payload buffer of %d bytes for %d bytes of input", c, len(data))
		}
		if c := cap(s.hdr); c > max(headerLen+MaxPathLen+4+payloadHeaderLen, 64<<10, 2*len(data)) {
			t.Errorf("header buffer of %d bytes for %d bytes of input", c, len(data))
		}

		segs, out, err := scanAll(bytes.NewReader(data), ScanOptions{})
		var ce *ChunkError
		if err == nil {
			if !bytes.Equal(out, data) {
				t.Fatalf("segments give %d bytes, input has %d (contents differ)", len(out), len(data))
			}
		} else {
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ChunkError", err)
			}
			if ce.Index != int64(len(segs)) || ce.Pos > int64(len(data)) || !bytes.Equal(out, data[:ce.Pos]) {
				t.Fatalf("error %v after %d segments of %d bytes", err, len(segs), len(out))
			}
		}
		got := known(segs)

		want, rerr := readerChunks(bytes.NewReader(data), 0)
		var rce *ChunkError
		switch {
		case ce != nil && errors.Is(err, ErrTooLarge) && !knownType(data[ce.Pos+9]):
			// The Scanner limits ignorable chunks, which it holds in
			// memory; the Reader skips them whatever their size, and
			// so meets the end of an input shorter than the limit.
			if !errors.Is(rerr, ErrTruncated) || !errors.As(rerr, &rce) || rce.Index != ce.Index {
				t.Fatalf("Scanner: %v; Reader: %v", err, rerr)
			}
		case err == nil && rerr != nil:
			t.Fatalf("Scanner accepted a stream the Reader rejects: %v", rerr)
		case err != nil && (rerr == nil || rerr.Error() != err.Error()):
			t.Fatalf("Scanner: %v; Reader: %v", err, rerr)
		}
		if len(got) != len(want) {
			t.Fatalf("Scanner returned %d chunks, Reader %d", len(got), len(want))
		}
		for i := range got {
			if got[i].String() != want[i].String() {
				t.Fatalf("chunk %d: Scanner %v, Reader %v", i, got[i], want[i])
			}
		}
	})
}

func knownType(b byte) bool {
	t := ChunkType(b)
	return t == ChunkPayload || t == ChunkSparse || t == ChunkEOF
}
