package mbstream

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// With InPlace, a file is built over the one already there: a clone of
// its own bytes at the same offset writes nothing (the inode and those
// bytes stay), writes and punches change the old bytes, End gives the
// stream's size (here shorter), and what is not a regular file by that
// name is replaced.
func TestDirSinkInPlace(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	if err := os.MkdirAll(filepath.Join(dir, "db", "t2.ibd"), 0o755); err != nil { // a directory where a file comes
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	path := filepath.Join(dir, "db", "t1.ibd")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, dir)
	s := NewDirSink(root, DirSinkOptions{Refs: root, InPlace: true})
	f, err := s.Create("db/t1.ibd")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(old[:96<<10])
	same := Clone{Ref: "db/t1.ibd", RefOff: 0, Off: 0, Len: 32 << 10, CRC: crc32.ChecksumIEEE(old[:32<<10]), Data: old[:32<<10]}
	if err := f.Clone(same); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("x"), 16<<10), 32<<10); err != nil {
		t.Fatal(err)
	}
	copy(want[32<<10:], bytes.Repeat([]byte("x"), 16<<10))
	if err := f.Punch(64<<10, 16<<10); err != nil {
		t.Fatal(err)
	}
	clear(want[64<<10 : 80<<10])
	if err := f.End(96 << 10); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("in-place file: %d bytes (err %v), want %d; contents equal %v", len(got), err, len(want), bytes.Equal(got, want))
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Errorf("the file was replaced, not patched")
	}
	if s.Kept() != 32<<10 {
		t.Errorf("Kept = %d, want %d", s.Kept(), 32<<10)
	}

	g, err := s.Create("db/t2.ibd")
	if err != nil {
		t.Fatalf("create over a directory: %v", err)
	}
	if _, err := g.WriteAt([]byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	if err := g.End(3); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "db", "t2.ibd")); err != nil || string(b) != "new" {
		t.Errorf("db/t2.ibd = %q, %v; want the stream's file", b, err)
	}
}

// TestDirSinkInPlaceRandom: random old files, then random writes, clones
// from another file, clones of a file's own bytes where they are, and
// punches, and a final size shorter or longer: the file always ends as
// the model of the new bytes says, its own bytes left in place counted.
func TestDirSinkInPlaceRandom(t *testing.T) {
	dir := t.TempDir()
	root := openRoot(t, dir)
	other := make([]byte, 64<<10)
	for i := range other {
		other[i] = byte(i*13 + 5)
	}
	if err := os.WriteFile(filepath.Join(dir, "other"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewDirSink(root, DirSinkOptions{Refs: root, InPlace: true})
	var kept int64
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 2))
		name := fmt.Sprintf("f%d", seed)
		m := &fileModel{want: make([]byte, rng.IntN(128<<10))}
		for i := range m.want {
			m.want[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, name), m.want, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := s.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		randomOps(rng, 160<<10,
			func(off int64) { m.write(t, rng, f, off) },
			func(off int64) {
				m.clone(t, rng, f, other, off, func(refOff, n int64) Clone {
					b := other[refOff : refOff+n]
					return Clone{Ref: "other", RefOff: refOff, Len: n, Off: off, CRC: crc32.ChecksumIEEE(b), Data: b}
				})
			},
			func(int64) { // a clone of the file's own bytes where they are
				if len(m.want) == 0 {
					return
				}
				at := rng.Int64N(int64(len(m.want)))
				n := min(rng.Int64N(9000)+1, int64(len(m.want))-at)
				b := bytes.Clone(m.want[at : at+n])
				if err := f.Clone(Clone{Ref: name, RefOff: at, Len: n, Off: at, CRC: crc32.ChecksumIEEE(b), Data: b}); err != nil {
					t.Fatalf("seed %d: clone in place: %v", seed, err)
				}
				kept += n
			},
			func(off int64) { m.punch(t, rng, f, off) })
		m.end(t, f, rng.Int64N(int64(len(m.want))+5000+1))
		m.check(t, filepath.Join(dir, name))
	}
	if s.Kept() != kept {
		t.Errorf("Kept = %d, want %d", s.Kept(), kept)
	}
}
