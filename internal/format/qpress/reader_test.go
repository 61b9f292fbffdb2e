package qpress

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// fixture is one archive from testdata with the SHA-256 of its content.
type fixture struct {
	path string // testdata/DIR/NAME.qp
	name string // name stored in the archive
	sum  string // hex SHA-256 of the decompressed content
}

// loadFixtures reads testdata/*/SHA256SUMS and returns every archive
// listed, matching "NAME.qp" (mariadb-backup) or "BASE.Ln.qp" (QuickLZ
// reference levels) to the sum of NAME or BASE.bin.
func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	sums, err := filepath.Glob("testdata/*/SHA256SUMS")
	if err != nil || len(sums) == 0 {
		t.Fatalf("no SHA256SUMS in testdata: %v", err)
	}
	var fx []fixture
	for _, s := range sums {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for line := range strings.Lines(string(b)) {
			sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
			if ok {
				want[name] = sum
			}
		}
		qps, _ := filepath.Glob(filepath.Join(filepath.Dir(s), "*.qp"))
		for _, qp := range qps {
			base := strings.TrimSuffix(filepath.Base(qp), Ext)
			name := base
			if i := strings.Index(base, ".L"); i >= 0 && strings.HasPrefix(filepath.Dir(qp), "testdata/quicklz") {
				name = base[:i] + ".bin"
			}
			sum, ok := want[name]
			if !ok {
				t.Fatalf("%s: no sum for %s in %s", qp, name, s)
			}
			fx = append(fx, fixture{path: qp, name: name, sum: sum})
		}
	}
	return fx
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAll reads the whole archive and returns its name and content.
func decodeAll(r io.Reader) (string, []byte, error) {
	qr, err := NewReader(r)
	if err != nil {
		return "", nil, err
	}
	b, err := io.ReadAll(qr)
	return qr.Name(), b, err
}

// packets splits an archive into its header fields and QuickLZ packets,
// trusting it to be valid.
func packets(t testing.TB, arch []byte) (name string, chunk uint64, pks [][]byte) {
	t.Helper()
	chunk = binary.LittleEndian.Uint64(arch[8:])
	n := int(binary.LittleEndian.Uint32(arch[17:]))
	name = string(arch[21 : 21+n])
	p := arch[21+n+1:]
	for bytes.HasPrefix(p, blockMagic) {
		pk := p[20:]
		h, err := parseQLZHeader(pk)
		if err != nil {
			t.Fatal(err)
		}
		pks = append(pks, pk[:h.packetLen])
		p = pk[h.packetLen:]
	}
	if !bytes.HasPrefix(p, endMagic) {
		t.Fatalf("no end marker")
	}
	return name, chunk, pks
}

// buildArchive writes a single-file archive of the given packets, with
// correct offsets and checksums.
func buildArchive(t testing.TB, name string, chunk uint64, pks [][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(archiveMagic)
	b.Write(binary.LittleEndian.AppendUint64(nil, chunk))
	b.WriteByte('F')
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(name))))
	b.WriteString(name)
	b.WriteByte(0)
	var off uint64
	for _, pk := range pks {
		b.Write(blockMagic)
		b.Write(binary.LittleEndian.AppendUint64(nil, off))
		b.Write(binary.LittleEndian.AppendUint32(nil, adler32.Checksum(pk)))
		b.Write(pk)
		// The claimed size, unchecked: hostile packets are built too.
		if pk[0]&qlzLongHeader != 0 {
			off += uint64(binary.LittleEndian.Uint32(pk[5:]))
		} else {
			off += uint64(pk[2])
		}
	}
	b.Write(endMagic)
	b.Write(make([]byte, 8))
	return b.Bytes()
}

// storedPacket returns data as a stored QuickLZ packet of the given level.
func storedPacket(level int, data []byte) []byte {
	if len(data) < 216 {
		return append([]byte{0x40 | byte(level)<<2, byte(len(data) + 3), byte(len(data))}, data...)
	}
	h := []byte{0x40 | byte(level)<<2 | qlzLongHeader}
	h = binary.LittleEndian.AppendUint32(h, uint32(len(data)+9))
	h = binary.LittleEndian.AppendUint32(h, uint32(len(data)))
	return append(h, data...)
}

func TestFixtures(t *testing.T) {
	wrappers := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"bufio":   func(r io.Reader) io.Reader { return bufio.NewReader(r) },
	}
	for _, fx := range loadFixtures(t) {
		arch := readFixture(t, fx.path)
		for wn, wrap := range wrappers {
			t.Run(fx.path+"/"+wn, func(t *testing.T) {
				name, got, err := decodeAll(wrap(bytes.NewReader(arch)))
				if err != nil {
					t.Fatal(err)
				}
				if name != fx.name {
					t.Errorf("name = %q, want %q", name, fx.name)
				}
				sum := sha256.Sum256(got)
				if s := hex.EncodeToString(sum[:]); s != fx.sum {
					t.Errorf("sha256 = %s, want %s (%d bytes)", s, fx.sum, len(got))
				}
			})
		}
	}
	t.Run("iotest", func(t *testing.T) {
		arch := readFixture(t, "testdata/mariadb-backup/text.frm.qp")
		_, want, err := decodeAll(bytes.NewReader(arch))
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(arch))
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(r, want); err != nil {
			t.Error(err)
		}
	})
}

// TestFixtureCoverage checks that the fixtures exercise what the tests
// claim: every level, stored and compressed packets, short and long
// headers, archives without blocks and with several.
func TestFixtureCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, fx := range loadFixtures(t) {
		_, _, pks := packets(t, readFixture(t, fx.path))
		switch {
		case len(pks) == 0:
			seen["no blocks"] = true
		case len(pks) > 1:
			seen["several blocks"] = true
		}
		for _, pk := range pks {
			h, _ := parseQLZHeader(pk)
			seen["level "+string(rune('0'+h.level))] = true
			seen[map[bool]string{true: "compressed", false: "stored"}[h.compressed]] = true
			seen[map[int]string{3: "short header", 9: "long header"}[h.hdrLen]] = true
		}
	}
	for _, k := range []string{"no blocks", "several blocks", "level 1", "level 2", "level 3",
		"compressed", "stored", "short header", "long header"} {
		if !seen[k] {
			t.Errorf("no fixture with %s", k)
		}
	}
}

func TestLargeArchive(t *testing.T) {
	arch, want := largeArchive(t, 40)
	r, err := NewReader(bytes.NewReader(arch))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) || !bytes.Equal(h.Sum(nil), sha256Sum(want)) {
		t.Errorf("got %d bytes, want %d, content differs", n, len(want))
	}
	if _, _, pks := packets(t, arch); r.block != len(pks) || r.block < 100 {
		t.Errorf("blocks = %d, want %d (>= 100)", r.block, len(pks))
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// largeArchive repeats the real level-1 packets of text.MYD.qp and the
// level-3 packets of mixed.L3.qp copies times, plus one stored block, and
// returns the archive and its expected content.
func largeArchive(t testing.TB, copies int) ([]byte, []byte) {
	t.Helper()
	var pks [][]byte
	var want []byte
	var chunk uint64
	for _, p := range []string{"testdata/mariadb-backup/text.MYD.qp", "testdata/quicklz/mixed.L3.qp"} {
		arch := readFixture(t, p)
		_, c, ps := packets(t, arch)
		if c > chunk {
			chunk = c
		}
		_, content, err := decodeAll(bytes.NewReader(arch))
		if err != nil {
			t.Fatal(err)
		}
		for range copies / 2 {
			pks = append(pks, ps...)
			want = append(want, content...)
		}
	}
	tail := bytes.Repeat([]byte("stored "), 1000)
	pks = append(pks, storedPacket(1, tail))
	want = append(want, tail...)
	return buildArchive(t, "large", chunk, pks), want
}

// fixFirstChecksum recomputes the checksum of the first block of arch in place.
func fixFirstChecksum(arch []byte) {
	n := int(binary.LittleEndian.Uint32(arch[17:]))
	p := 21 + n + 1
	pk := arch[p+20:]
	h, _ := parseQLZHeader(pk)
	binary.LittleEndian.PutUint32(arch[p+16:], adler32.Checksum(pk[:h.packetLen]))
}

func TestCorrupt(t *testing.T) {
	one := readFixture(t, "testdata/mariadb-backup/one.MYD.qp")
	text := readFixture(t, "testdata/mariadb-backup/text.MYD.qp")
	nameEnd := 21 + len("one.MYD") + 1 // first block marker
	edit := func(src []byte, f func(b []byte) []byte) []byte {
		return f(bytes.Clone(src))
	}
	tests := []struct {
		name    string
		arch    []byte
		want    error
		wantMsg string
	}{
		{"bad magic", edit(one, func(b []byte) []byte { b[0] = 'x'; return b }), ErrCorrupt, "archive magic"},
		{"chunk size zero", edit(one, func(b []byte) []byte { clear(b[8:16]); return b }), ErrTooLarge, "chunk size 0"},
		{"chunk size huge", edit(one, func(b []byte) []byte { b[15] = 1; return b }), ErrTooLarge, "chunk size"},
		{"directory", edit(one, func(b []byte) []byte { b[16] = 'D'; return b }), ErrUnsupported, "directory entry"},
		{"bad entry", edit(one, func(b []byte) []byte { b[16] = 'X'; return b }), ErrCorrupt, "entry type"},
		{"name too long", edit(one, func(b []byte) []byte { b[20] = 1; return b }), ErrTooLarge, "file name of"},
		{"name not terminated", edit(one, func(b []byte) []byte { b[nameEnd-1] = 'x'; return b }), ErrCorrupt, "NUL"},
		{"bad block marker", edit(one, func(b []byte) []byte { b[nameEnd] = 'X'; return b }), ErrCorrupt, "block 0: corrupt archive: block marker"},
		{"wrong offset", edit(one, func(b []byte) []byte { b[nameEnd+8] = 1; return b }), ErrCorrupt, "file offset 1, want 0"},
		{"checksum", edit(one, func(b []byte) []byte { b[nameEnd+40]++; return b }), ErrChecksum, "block 0: checksum mismatch"},
		{"checksum in second block", edit(text, func(b []byte) []byte { b[len(b)-30]++; return b }), ErrChecksum, "block 1: checksum mismatch"},
		{"streaming mode", edit(one, func(b []byte) []byte { b[nameEnd+20] |= 0x10; fixFirstChecksum(b); return b }), ErrUnsupported, "streaming"},
		{"bad flag byte", edit(one, func(b []byte) []byte { b[nameEnd+20] |= 0x80; fixFirstChecksum(b); return b }), ErrCorrupt, "header byte"},
		{"trailing file", append(bytes.Clone(one), 'F'), ErrUnsupported, "data after the end"},
		{"trailing up", append(bytes.Clone(one), 'U'), ErrUnsupported, "data after the end"},
		{"block too large", buildArchive(t, "x", 100, [][]byte{storedPacket(1, make([]byte, 101))}), ErrTooLarge, "block of 101 bytes"},
		{"stored size mismatch", edit(buildArchive(t, "x", 100, [][]byte{storedPacket(1, make([]byte, 50))}),
			func(b []byte) []byte { b[23+20+2] = 49; fixFirstChecksum(b); return b }), ErrCorrupt, "stored QuickLZ packet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeAll(bytes.NewReader(tt.arch))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("err = %T, want *Error", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "qpress: ") ||
				strings.Count(err.Error(), "qpress:") != 1 {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	for _, p := range []string{"testdata/mariadb-backup/one.MYD.qp", "testdata/mariadb-backup/empty.MYD.qp", "testdata/quicklz/tiny.L3.qp"} {
		arch := readFixture(t, p)
		for n := range len(arch) {
			_, _, err := decodeAll(bytes.NewReader(arch[:n]))
			if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d of %d: err = %v, want ErrTruncated", p, n, len(arch), err)
			}
		}
	}
}

func TestStickyError(t *testing.T) {
	arch := readFixture(t, "testdata/mariadb-backup/text.MYD.qp")
	arch[len(arch)-30]++
	r, err := NewReader(bytes.NewReader(arch))
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := io.Copy(io.Discard, r)
	_, err2 := r.Read(make([]byte, 10))
	if err1 == nil || !errors.Is(err2, err1) {
		t.Errorf("errors %v then %v, want the same non-nil error", err1, err2)
	}
}

func TestReadError(t *testing.T) {
	arch := readFixture(t, "testdata/mariadb-backup/text.MYD.qp")
	boom := errors.New("boom")
	_, _, err := decodeAll(io.MultiReader(bytes.NewReader(arch[:1000]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, ErrTruncated) {
		t.Errorf("err = %v, want boom", err)
	}
}
