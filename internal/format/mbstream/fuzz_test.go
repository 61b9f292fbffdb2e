package mbstream

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader decodes arbitrary streams with the Reader and Extract. For
// streams the Reader accepts, writing the files again with our Writer and
// decoding that must give the same files (a round trip); and when Extract
// succeeds its files must be exactly those, with nothing written outside
// the target directory.
func FuzzReader(f *testing.F) {
	seeds := []map[string][]byte{
		{"a": []byte("hello")},
		{"empty": {}, "db/t.ibd": randomBytes(1, 3000), "xtrabackup_checkpoints": []byte("backup_type = full-backuped\n")},
	}
	for _, files := range seeds {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for name, data := range files {
			if err := w.WriteFile(name, data); err != nil {
				f.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(stream(pchunk("a", 0, "ab"),
		rawChunk{typ: ChunkSparse, path: "a", off: 2, payload: []byte("cd"), sparse: []SparseRange{{3, 1}, {0, 1}, {4, 0}}},
		rawChunk{typ: 'Y', flags: FlagIgnorable, path: "x", payload: []byte("z")},
		echunk("a"), echunk("b/c")))
	f.Add(stream(pchunk("../a", 0, "x"), echunk("../a")))

	const maxSize = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := ReaderOptions{MaxPayload: maxSize}
		files, err := readFiles(bytes.NewReader(data), opts, maxSize)
		if errors.Is(err, errTooBig) {
			return
		}
		if err == nil {
			// Round trip through our Writer.
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for name, d := range files {
				if err := w.WriteFile(name, d); err != nil {
					t.Fatalf("WriteFile(%q): %v", name, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := readFiles(&buf, opts, maxSize)
			if err != nil {
				t.Fatalf("decoding our own stream: %v", err)
			}
			equalFiles(t, again, files)
		}

		base := t.TempDir()
		dir := filepath.Join(base, "x")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, xerr := Extract(t.Context(), bytes.NewReader(data), dir, ExtractOptions{Workers: 2, MaxPayload: maxSize})
		if ents, _ := os.ReadDir(base); len(ents) != 1 {
			t.Fatalf("Extract wrote outside its directory: %v", ents)
		}
		if xerr == nil {
			if err != nil {
				t.Fatalf("Extract accepted a stream the Reader model rejects: %v", err)
			}
			equalFiles(t, readTree(t, dir), files)
			return
		}
		var pe *fs.PathError
		if err == nil && !errors.Is(xerr, ErrUnsafePath) && !errors.As(xerr, &pe) {
			t.Fatalf("Extract failed on a valid stream: %v", xerr)
		}
	})
}
