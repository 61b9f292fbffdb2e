package qpress

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture copies testdata/mariadb-backup/NAME.qp to dir/rel.
func copyFixture(t *testing.T, name, dir, rel string) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, readFixture(t, "testdata/mariadb-backup/"+name+".qp"), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func fixtureContent(t *testing.T, name string) []byte {
	t.Helper()
	_, b, err := decodeAll(bytes.NewReader(readFixture(t, "testdata/mariadb-backup/"+name+".qp")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestDecompressFile(t *testing.T) {
	dir := t.TempDir()
	p := copyFixture(t, "text.MYD", dir, "text.MYD.qp")
	if err := decompressFile(t.Context(), p, p); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "text.MYD"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fixtureContent(t, "text.MYD")) {
		t.Error("content differs")
	}
	fi, _ := os.Stat(filepath.Join(dir, "text.MYD"))
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode())
	}
	if got, want := strings.Join(entries(t, dir), " "), "text.MYD text.MYD.qp"; got != want {
		t.Errorf("dir = %q, want %q", got, want)
	}

	// A second run must not overwrite.
	err = decompressFile(t.Context(), p, p)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second run: err = %v, want fs.ErrExist", err)
	}
}

func TestDecompressFileErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		fixture string
		rel     string
		mutate  func([]byte)
		ctx     context.Context
		want    error
		wantMsg string
	}{
		{"checksum", "text.MYD", "db/text.MYD.qp", func(b []byte) { b[len(b)-30]++ }, nil, ErrChecksum,
			"qpress: DIR/db/text.MYD.qp: block 1: checksum mismatch"},
		{"truncated", "text.MYD", "text.MYD.qp", nil, nil, ErrTruncated, "truncated"},
		{"name mismatch", "one.MYD", "two.MYD.qp", nil, nil, ErrCorrupt, `stored file name "one.MYD", want "two.MYD"`},
		{"no suffix", "one.MYD", "one.MYD", nil, nil, nil, `does not end in ".qp"`},
		{"cancelled", "text.MYD", "text.MYD.qp", nil, cancelled, context.Canceled, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := copyFixture(t, tt.fixture, dir, tt.rel)
			if tt.mutate != nil || tt.name == "truncated" {
				b, _ := os.ReadFile(p)
				if tt.mutate != nil {
					tt.mutate(b)
				} else {
					b = b[:len(b)-100]
				}
				os.WriteFile(p, b, 0o640)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			err := decompressFile(ctx, p, p)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			msg := strings.ReplaceAll(err.Error(), dir, "DIR")
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", msg, tt.wantMsg)
			}
			// Nothing but the archive is left behind.
			if got := entries(t, filepath.Dir(p)); len(got) != 1 || got[0] != filepath.Base(p) {
				t.Errorf("dir = %q, want only %s", got, filepath.Base(p))
			}
		})
	}
}

func TestDecompressDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{ // relative path -> fixture
		"ibdata1.qp":          "rnd.MYD",
		"db/text.MYD.qp":      "text.MYD",
		"db/text.frm.qp":      "text.frm",
		"db/one.MYD.qp":       "one.MYD",
		"db/sub/empty.MYD.qp": "empty.MYD",
	}
	for rel, fx := range files {
		// Stored names must match, so name files after their fixture.
		rel = filepath.Join(filepath.Dir(rel), fx+Ext)
		copyFixture(t, fx, dir, rel)
	}
	os.WriteFile(filepath.Join(dir, "xtrabackup_checkpoints"), []byte("keep"), 0o640)

	n, err := DecompressDir(t.Context(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("n = %d, want %d", n, len(files))
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, Ext) || strings.Contains(p, ".qpress-") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	for rel, fx := range files {
		out := filepath.Join(dir, filepath.Dir(rel), fx)
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, fixtureContent(t, fx)) {
			t.Errorf("%s: content differs (%v)", out, err)
		}
	}
}

func TestDecompressDirError(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "one.MYD", dir, "a/one.MYD.qp")
	bad := copyFixture(t, "text.MYD", dir, "db/text.MYD.qp")
	b, _ := os.ReadFile(bad)
	b[len(b)-30]++
	os.WriteFile(bad, b, 0o640)

	n, err := DecompressDir(t.Context(), dir, 1)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if want := "qpress: db/text.MYD.qp: block 1: checksum mismatch"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
	if n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("failed archive removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "db/text.MYD")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial output left: %v", err)
	}
}

func TestDecompressDirCancelled(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "one.MYD", dir, "one.MYD.qp")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n, err := DecompressDir(ctx, dir, 4)
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("n, err = %d, %v; want 0, context.Canceled", n, err)
	}
}
