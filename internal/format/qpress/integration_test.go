package qpress

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMariadbBackup runs scripts/gen-qpress-fixtures.sh (a throw-away
// server, a "mariadb-backup --compress" backup and a plain one), then
// decompresses the whole compressed backup with DecompressDir. Every
// archive must decode with valid checksums, and the files listed in
// stable.txt (.frm files and flushed MyISAM tables, which cannot change
// between the two backups) must equal their uncompressed counterparts
// byte for byte. InnoDB files and logs differ between any two backups, so
// for them only the decoding is checked.
func TestMariadbBackup(t *testing.T) {
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 to run mariadbd and mariadb-backup")
	}
	if _, err := exec.LookPath("mariadb-backup"); err != nil {
		t.Skip("mariadb-backup not installed")
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "../../../scripts/gen-qpress-fixtures.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-qpress-fixtures.sh: %v\n%s", err, b)
	}
	comp := filepath.Join(out, "compressed")
	qps, _ := filepath.Glob(filepath.Join(comp, "*", "*.qp"))
	n, err := DecompressDir(t.Context(), comp, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n < len(qps) || n < 100 {
		t.Errorf("decompressed %d archives, want at least %d", n, max(len(qps), 100))
	}
	stable, err := os.ReadFile(filepath.Join(out, "stable.txt"))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for rel := range strings.Lines(string(stable)) {
		rel = strings.TrimSpace(rel)
		want, err := os.ReadFile(filepath.Join(out, "plain", rel))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(comp, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the plain backup's %d", rel, len(got), len(want))
		}
		compared++
	}
	if compared < 100 {
		t.Errorf("compared %d files, want at least 100", compared)
	}
	t.Logf("decompressed %d archives, compared %d stable files", n, compared)
}
