package sst

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2ESeedFromBackup is the operators' case (mariadb-operator issue
// 1892: restored volumes still full-SST): the joiner's datadir is empty
// but for a mariadb-backup of the cluster, taken earlier, prepared and
// copied back, and the cluster has moved on since. Its first start must
// be an SST that reuses the restored data (a delta, not the whole
// dataset) and ends with the donor's tables. The steps are those of
// README's "Seeding a node from a backup".
func TestE2ESeedFromBackup(t *testing.T) {
	integration(t)
	ctx, n1, n2 := loadedPair(t, "goseed", 6*time.Minute, 40000)

	// The backup, as an operator takes it on a running node, then
	// prepared.
	backup := filepath.Join(t.TempDir(), "backup")
	backupTool := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "mariadb-backup", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mariadb-backup %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
	}
	backupTool("--defaults-file="+n1.DefaultsFile(), "--backup", "--target-dir="+backup, "--user=root", "--socket="+n1.Socket())
	backupTool("--prepare", "--target-dir="+backup)

	// The cluster moves on.
	_, err := n1.Exec(ctx, "UPDATE sbtest.t1 SET k = k + 1 WHERE id % 10 = 0; CREATE TABLE sbtest.after_backup (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO sbtest.after_backup VALUES (1), (2)")
	must(t, err)

	// The restore: copy back into the new node's datadir (the root of
	// its volume, lost+found included) and give it to mysql.
	backupTool("--copy-back", "--force-non-empty-directories", "--target-dir="+backup, "--datadir="+n2.Datadir())
	uid, gid := mysqlIDs(t)
	must(t, filepath.Walk(n2.Datadir(), func(p string, _ os.FileInfo, err error) error {
		if err != nil || filepath.Base(p) == "lost+found" {
			return err
		}
		return os.Lchown(p, uid, gid)
	}))

	startSynced(ctx, t, n2, false)
	log := assertTransfer(t, n2, "SST", true)
	st := lastV2Stats(t, log)
	if st.reused < st.bytes/2 {
		t.Errorf("the seeded joiner reused %d of %d bytes, want at least half: a restored backup is reference data", st.reused, st.bytes)
	}
	if st.wire > st.bytes/2 {
		t.Errorf("the seeded joiner received %d bytes on the wire for a %d-byte stream", st.wire, st.bytes)
	}
	assertSameData(ctx, t, n1, n2)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
