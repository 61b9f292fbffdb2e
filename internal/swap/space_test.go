package swap

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSpace: one filesystem for a datadir and a directory inside it, whose
// moved bytes are counted once; kept entries and missing directories are
// left out.
func TestSpace(t *testing.T) {
	d := t.TempDir()
	undo := filepath.Join(d, "undo")
	if err := os.Mkdir(undo, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, n := range map[string]int{"ibdata1": 64 << 10, "undo/undo001": 32 << 10, "grastate.dat": 1 << 20} {
		if err := os.WriteFile(filepath.Join(d, p), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := cpat
	p := Plan{Dirs: []string{d, undo, filepath.Join(d, "missing")}, Keep: keep, Journal: filepath.Join(d, "j")}
	fss, err := Space(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(fss) != 1 || fss[0].Path != d || fss[0].Free <= 0 {
		t.Fatalf("Space = %+v, want one filesystem at %s with free space", fss, d)
	}
	want, err := Size(Plan{Dirs: []string{d}, Keep: keep, Journal: p.Journal})
	if err != nil {
		t.Fatal(err)
	}
	if fss[0].Moved != want || want < 96<<10 || want >= 1<<20 {
		t.Errorf("Moved = %d, want %d (ibdata1 and the undo directory once, not grastate.dat)", fss[0].Moved, want)
	}
}
