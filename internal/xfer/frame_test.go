package xfer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// item is one frame as a test writes and expects to read it.
type item struct {
	typ     FrameType
	seq     uint64
	payload []byte
	ref     Ref
}

func writeItems(t testing.TB, items []item) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, MaxVersion)
	for _, it := range items {
		var err error
		switch it.typ {
		case FrameData:
			err = w.WriteData(it.seq, it.payload)
		case FrameRef:
			err = w.WriteRef(it.seq, it.ref)
		case FrameEnd:
			err = w.WriteEnd(it.seq)
		}
		if err != nil {
			t.Fatalf("write %v: %v", it.typ, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// readItems reads a whole stream, payloads with ReadPayload.
func readItems(r io.Reader, opts ReaderOptions) ([]item, error) {
	rd := NewReader(r, opts)
	var out []item
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		it := item{typ: f.Type, seq: f.Seq, ref: f.Ref}
		if f.Type == FrameData {
			p, err := rd.ReadPayload(nil)
			if err != nil {
				return out, err
			}
			it.payload = p
		}
		out = append(out, it)
	}
}

func sampleItems() []item {
	return []item{
		{typ: FrameData, seq: 0, payload: []byte("hello")},
		{typ: FrameRef, seq: 1, ref: Ref{Path: "ibdata1", Offset: 1 << 20, Length: 1 << 20, Hash: Hash{1, 2, 3}, CRC: 0xdeadbeef}},
		{typ: FrameData, seq: 3, payload: bytes.Repeat([]byte{0xa5}, 100000)},
		{typ: FrameRef, seq: 7, ref: Ref{Path: "db/t1.ibd", Offset: 0, Length: 17, CRC: 1}},
		{typ: FrameEnd, seq: 9},
	}
}

func equalItems(a, b []item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].typ != b[i].typ || a[i].seq != b[i].seq || a[i].ref != b[i].ref || !bytes.Equal(a[i].payload, b[i].payload) {
			return false
		}
	}
	return true
}

func TestFrameRoundTrip(t *testing.T) {
	want := sampleItems()
	stream := writeItems(t, want)
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"onebyte":  iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"dataerr":  iotest.DataErrReader,
		"timeout1": func(r io.Reader) io.Reader { return iotest.OneByteReader(iotest.DataErrReader(r)) },
	}
	for name, wrap := range readers {
		got, err := readItems(wrap(bytes.NewReader(stream)), ReaderOptions{Version: MaxVersion})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equalItems(got, want) {
			t.Errorf("%s: read %d frames, differ from the %d written", name, len(got), len(want))
		}
	}
}

func TestReaderSkipAndReadPartial(t *testing.T) {
	stream := writeItems(t, sampleItems())
	rd := NewReader(bytes.NewReader(stream), ReaderOptions{})
	var types []FrameType
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, f.Type)
		if f.Type == FrameData {
			b := make([]byte, 3) // read a little, let Next skip the rest
			if _, err := io.ReadFull(rd, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := string(types), "DRDRE"; string(got) != want {
		t.Errorf("types %q, want %q", got, want)
	}
	// Sticky EOF after the end frame.
	if _, err := rd.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after end = %v, want io.EOF", err)
	}
}

// frame builds a raw frame with a correct CRC.
func frame(typ byte, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)))
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func refBody(seq, off uint64, length uint32, path string) []byte {
	b := binary.BigEndian.AppendUint64(nil, seq)
	b = binary.BigEndian.AppendUint64(b, off)
	b = binary.BigEndian.AppendUint32(b, length)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, make([]byte, 16)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(path)))
	return append(b, path...)
}

func dataBody(seq uint64, p string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), p...)
}

func endBody(total uint64) []byte { return binary.BigEndian.AppendUint64(nil, total) }

const hdr = "XFRS\x00\x01\x00\x00"

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReaderHostile(t *testing.T) {
	bigLen := func(typ byte, n uint32) []byte {
		b := []byte{typ, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], n)
		return b
	}
	corrupt := frame('D', dataBody(0, "abc"))
	corrupt[len(corrupt)-6] ^= 1
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "end of input in stream header"},
		{"bad magic", []byte("XBSTCK01"), ErrHeader, "magic"},
		{"version 0", []byte("XFRS\x00\x00\x00\x00"), ErrHeader, "version 0"},
		{"version 9", []byte("XFRS\x00\x09\x00\x00"), ErrHeader, "version 9"},
		{"reserved", []byte("XFRS\x00\x01\x00\x01"), ErrHeader, "reserved"},
		{"no end frame", []byte(hdr), ErrTruncated, "before the end frame"},
		{"no end frame after data", cat([]byte(hdr), frame('D', dataBody(0, "x"))), ErrTruncated, "before the end frame"},
		{"unknown type", cat([]byte(hdr), frame('X', nil)), ErrFrame, "unknown frame type 0x58"},
		{"huge data", cat([]byte(hdr), bigLen('D', 0xffffffff)), ErrTooLarge, "limit 16777216"},
		{"data without payload", cat([]byte(hdr), frame('D', dataBody(0, ""))), ErrFrame, "body of 8 bytes"},
		{"short data body", cat([]byte(hdr), bigLen('D', 4)), ErrFrame, "body of 4 bytes"},
		{"truncated payload", cat([]byte(hdr), bigLen('D', 100), make([]byte, 50)), ErrTruncated, "payload"},
		{"checksum", cat([]byte(hdr), corrupt), ErrChecksum, "computed"},
		{"huge ref body", cat([]byte(hdr), bigLen('R', 1<<30)), ErrFrame, "reference frame body of 1073741824"},
		{"ref path dotdot", cat([]byte(hdr), frame('R', refBody(0, 0, 1, "../etc/passwd"))), ErrFrame, `"../etc/passwd"`},
		{"ref path absolute", cat([]byte(hdr), frame('R', refBody(0, 0, 1, "/etc/passwd"))), ErrFrame, "reference path"},
		{"ref path unclean", cat([]byte(hdr), frame('R', refBody(0, 0, 1, "a//b"))), ErrFrame, "reference path"},
		{"ref path empty", cat([]byte(hdr), frame('R', refBody(0, 0, 1, ""))), ErrFrame, "reference path"},
		{"ref path backslash", cat([]byte(hdr), frame('R', refBody(0, 0, 1, `a\b`))), ErrFrame, "reference path"},
		{"ref zero length", cat([]byte(hdr), frame('R', refBody(0, 0, 0, "a"))), ErrFrame, "empty reference"},
		{"ref huge length", cat([]byte(hdr), frame('R', refBody(0, 0, 1<<31, "a"))), ErrTooLarge, "reference of 2147483648 bytes"},
		{"ref huge offset", cat([]byte(hdr), frame('R', refBody(0, 1<<63, 1, "a"))), ErrFrame, "offset"},
		{"ref path_len mismatch", cat([]byte(hdr), frame('R', append(refBody(0, 0, 1, "a"), 'b'))), ErrFrame, "path of 1 bytes"},
		{"seq repeats", cat([]byte(hdr), frame('D', dataBody(5, "a")), frame('D', dataBody(5, "b"))), ErrFrame, "sequence number 5 after 5"},
		{"end before seq", cat([]byte(hdr), frame('D', dataBody(5, "a")), frame('E', endBody(5))), ErrFrame, "end frame counts 5"},
		{"end body", cat([]byte(hdr), frame('E', nil)), ErrFrame, "end frame body of 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readItems(bytes.NewReader(tt.in), ReaderOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Errorf("err %T is not a *FrameError", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.msg)
			}
		})
	}
}

func TestReaderVersionMismatch(t *testing.T) {
	_, err := readItems(strings.NewReader(hdr), ReaderOptions{Version: 2})
	if !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), "negotiated 2") {
		t.Errorf("err = %v, want ErrHeader naming the negotiated version", err)
	}
}

func TestReaderStickyError(t *testing.T) {
	rd := NewReader(strings.NewReader("nope"), ReaderOptions{})
	_, err1 := rd.Next()
	_, err2 := rd.Next()
	_, err3 := rd.Read(make([]byte, 1))
	if err1 == nil || !errors.Is(err2, err1) || !errors.Is(err3, err2) {
		t.Errorf("errors %v, %v, %v; want the same non-nil error", err1, err2, err3)
	}
}

type failWriter struct{ n int }

var errDisk = errors.New("disk on fire")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errDisk
	}
	w.n--
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	t.Run("first failure sticks", func(t *testing.T) {
		w := NewWriter(&failWriter{}, MaxVersion)
		big := make([]byte, 1<<20) // larger than the buffer: written through
		err1 := w.WriteData(0, big)
		err2 := w.WriteData(1, []byte("x"))
		err3 := w.Close()
		if !errors.Is(err1, errDisk) || !errors.Is(err2, errDisk) || !errors.Is(err3, errDisk) {
			t.Errorf("errors %v, %v, %v; want all to wrap %v", err1, err2, err3, errDisk)
		}
	})
	t.Run("flush failure at close", func(t *testing.T) {
		w := NewWriter(&failWriter{}, MaxVersion)
		if err := w.WriteEnd(0); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); !errors.Is(err, errDisk) {
			t.Errorf("Close = %v, want %v", err, errDisk)
		}
	})
	t.Run("close without end", func(t *testing.T) {
		w := NewWriter(io.Discard, MaxVersion)
		if err := w.WriteData(0, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("Close = %v, want ErrClosed", err)
		}
	})
	t.Run("write after end", func(t *testing.T) {
		w := NewWriter(io.Discard, MaxVersion)
		if err := w.WriteEnd(0); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteData(1, []byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteData after end = %v, want ErrClosed", err)
		}
	})
	t.Run("bad version", func(t *testing.T) {
		w := NewWriter(io.Discard, MaxVersion+1)
		if err := w.WriteEnd(0); !errors.Is(err, ErrHeader) {
			t.Errorf("WriteEnd = %v, want ErrHeader", err)
		}
	})
	t.Run("invalid frames refused", func(t *testing.T) {
		w := NewWriter(io.Discard, MaxVersion)
		for name, err := range map[string]error{
			"empty data":   w.WriteData(0, nil),
			"bad path":     w.WriteRef(0, Ref{Path: "../x", Length: 1}),
			"zero length":  w.WriteRef(0, Ref{Path: "x"}),
			"negative off": w.WriteRef(0, Ref{Path: "x", Length: 1, Offset: -1}),
		} {
			if !errors.Is(err, ErrFrame) {
				t.Errorf("%s: %v, want ErrFrame", name, err)
			}
		}
		if err := w.WriteData(4, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteData(4, []byte("a")); !errors.Is(err, ErrFrame) {
			t.Errorf("repeated seq: %v, want ErrFrame", err)
		}
	})
}

// randomItems makes a random valid frame sequence.
func randomItems(rng *rand.Rand, n int) []item {
	var items []item
	seq := uint64(0)
	for range n {
		seq += 1 + uint64(rng.IntN(3))
		if rng.IntN(2) == 0 {
			p := make([]byte, 1+rng.IntN(3000))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			items = append(items, item{typ: FrameData, seq: seq, payload: p})
		} else {
			items = append(items, item{typ: FrameRef, seq: seq, ref: Ref{
				Path: "d/f" + string(rune('a'+rng.IntN(26))), Offset: rng.Int64N(1 << 40),
				Length: 1 + rng.IntN(1<<20), CRC: rng.Uint32(), Hash: Hash{byte(rng.Uint32())},
			}})
		}
	}
	return append(items, item{typ: FrameEnd, seq: seq + 1})
}

func FuzzReader(f *testing.F) {
	f.Add(writeItems(f, sampleItems()))
	f.Add(writeItems(f, []item{{typ: FrameEnd, seq: 0}}))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		f.Add(writeItems(f, randomItems(rng, 5)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := ReaderOptions{MaxPayload: 1 << 16, MaxRefLen: 1 << 20}
		items, err := readItems(bytes.NewReader(in), opts)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			return
		}
		for _, it := range items {
			if len(it.payload) > opts.MaxPayload || it.ref.Length > opts.MaxRefLen {
				t.Fatalf("frame beyond the limits: %d bytes, ref %d", len(it.payload), it.ref.Length)
			}
		}
		// A stream the Reader accepts, written again, reads the same.
		again, err := readItems(bytes.NewReader(writeItems(t, items)), opts)
		if err != nil || !equalItems(items, again) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestReadPayloadGrowsWithInput: a frame that announces the largest
// payload but carries a few bytes costs memory for those bytes only.
func TestReadPayloadGrowsWithInput(t *testing.T) {
	h := []byte{'D', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], seqLen+DefaultMaxPayload)
	in := cat([]byte(hdr), h, make([]byte, 8), []byte("only this"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rd := NewReader(bytes.NewReader(in), ReaderOptions{})
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := rd.ReadPayload(nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadPayload = %v, want ErrTruncated", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes for a frame carrying 9", got)
	}
}
