package sst

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// TestE2ESSTTempDir: a joiner whose mysqld passes --sst-temp-dir DIR, DIR
// the root of an ext4 filesystem other than the datadir's (itself a
// volume of its own), joins by SST and then rejoins by SST keeping its
// previous datadir: both times the data is received and prepared in
// DIR/.sst (DIR's filesystem fills while the datadir's does not hold the
// staging directory), mariadb-backup --move-back copies it across the
// filesystems, and afterwards nothing is left in DIR nor in the datadir's
// .sst. Tables match.
//
// MariaDB 10.11 has no wsrep_sst_tmp_dir; mysqld hands its own command
// line to the SST program after --mysqld-args, so the node is started
// with --loose-sst-temp-dir=DIR, which 10.11 ignores and the SST program
// reads as the newer servers' --sst-temp-dir.
func TestE2ESSTTempDir(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	// Before the cluster, so that it is unmounted after the nodes stop.
	stage := galeratest.ScratchVolume(t, "ext4", 2<<30)
	readableBy(t, stage)
	c, ctx := cluster(t, "gotmpdir")
	n1, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin})
	must(t, err)
	n2, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin, Volume: joinerVolume(),
		Args: []string{"--loose-sst-temp-dir=" + stage}})
	must(t, err)
	startSynced(ctx, t, n1, true)
	must(t, galeratest.LoadData(ctx, n1, "sbtest", 20000))

	staging := filepath.Join(stage, stagingDir)
	check := func(what string, extra int64) string {
		t.Helper()
		log := assertTransfer(t, n2, "SST", true)
		for _, want := range []string{
			"Staging the SST in '" + staging + "' (--sst-temp-dir)",
			"Move successful, removing " + staging,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("%s: the joiner did not log %q:\n%s", what, want, grep(log, "WSREP_SST"))
			}
		}
		if strings.Contains(log, "WSREP_SST: [ERROR]") {
			t.Errorf("%s: SST logged errors:\n%s", what, grep(log, "WSREP_SST: [ERROR]"))
		}
		// Moved across filesystems: mariadb-backup copies, then removes
		// the staged file (move_file's EXDEV fallback; copy_back runs in
		// the staging directory, so its paths are relative). A rename
		// logs "...done" instead.
		if b, err := os.ReadFile(filepath.Join(n2.Datadir(), moveLog)); err != nil || !strings.Contains(string(b), " Removing ib_logfile0") {
			t.Errorf("%s: %s does not show the copy of ib_logfile0 out of %s (err %v):\n%s", what, moveLog, staging, err, grep(string(b), "Moving", "Removing"))
		}
		// The staged data filled DIR's filesystem while the SST ran.
		t.Logf("%s: %s grew by up to %d bytes during the SST", what, stage, extra)
		if extra < 8<<20 {
			t.Errorf("%s: %s grew by only %d bytes during the SST: the data was not staged there", what, stage, extra)
		}
		for _, p := range []string{staging, filepath.Join(stage, resumeDir), filepath.Join(n2.Datadir(), stagingDir), filepath.Join(n2.Datadir(), resumeDir)} {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Errorf("%s: %s left after the SST (%v)", what, p, err)
			}
		}
		return log
	}

	disk, err := galeratest.SampleDisk(stage, 50*time.Millisecond)
	must(t, err)
	startSynced(ctx, t, n2, false)
	check("join", disk.Stop())
	assertSameData(ctx, t, n1, n2)

	// A rejoin keeps the previous datadir until the new one, staged on
	// the other filesystem, is prepared.
	forceSST(ctx, t, n2)
	_, err = n1.Exec(ctx, "UPDATE sbtest.t1 SET k = k + 1 WHERE id % 10 = 0")
	must(t, err)
	disk, err = galeratest.SampleDisk(stage, 50*time.Millisecond)
	must(t, err)
	startSynced(ctx, t, n2, false)
	log := check("rejoin", disk.Stop())
	if !strings.Contains(log, "Keeping the previous datadir") {
		t.Errorf("rejoin: the previous datadir was not kept:\n%s", grep(log, "WSREP_SST"))
	}
	assertSameData(ctx, t, n1, n2)
}
