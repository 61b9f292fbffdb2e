package mbstream

import (
	"bytes"
	"hash/crc32"
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
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
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
