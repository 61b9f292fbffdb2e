package sst

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestE2EManualSST: a 2-node cluster; node2 is stopped, then filled by
// "receive" from "send" against node1 while node1 takes writes; started
// again, node2 must catch up by IST alone (the position written to
// grastate.dat is the backup's) and hold the same tables.
func TestE2EManualSST(t *testing.T) {
	integration(t)
	// cluster's own bound: 8 minutes.
	ctx, n1, n2 := loadedPair(t, "gomanual", 8*time.Minute, 20000)
	bin := galeratest.SSTProgram(t)
	startSynced(ctx, t, n2, false)
	// Without --listen, receive listens on the node's
	// wsrep_sst_receive_address.
	listen := n2.SSTAddress()
	receive := func(ctx context.Context, stderr *syncBuffer) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, "receive", "--datadir", n2.Datadir(), "--defaults-file", n2.DefaultsFile())
		cmd.Stderr = stderr
		return cmd
	}

	t.Run("refuses a running server's datadir", func(t *testing.T) {
		var stderr syncBuffer
		err := receive(ctx, &stderr).Run()
		if code := exitCodeOf(err); code != 114 { // EALREADY (fail.Busy)
			t.Fatalf("receive on a running node: exit %d, want 114; stderr:\n%s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "stop it before receiving") {
			t.Errorf("stderr = %q, want the running server named", stderr.String())
		}
	})

	must(t, n2.Stop(ctx))
	must(t, galeratest.InsertRows(ctx, n1, "sbtest", 3000)) // what node2 misses
	// receive and send run as root, as an operator would start them; the
	// datadirs belong to mysql (the volume's root, with lost+found). They
	// must work as mysql: every file of node2 stays mysql's, the SST
	// user's unix_socket login works, and a symbolic link planted in the
	// datadir at a file receive writes makes it write nowhere else.
	owner, ownerGID := mysqlIDs(t)
	victim := filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(victim, []byte("precious"), 0o644))
	must(t, os.Symlink(victim, filepath.Join(n2.Datadir(), "grastate.dat.tmp")))
	must(t, os.Lchown(filepath.Join(n2.Datadir(), "grastate.dat.tmp"), owner, ownerGID))

	var rerr syncBuffer
	rcmd := receive(ctx, &rerr)
	must(t, rcmd.Start())
	rdone := make(chan error, 1)
	go func() { rdone <- rcmd.Wait() }()
	waitFor(t, 30*time.Second, "receive to listen", func() bool { return strings.Contains(rerr.String(), "send --to") })
	if !strings.Contains(rerr.String(), "send --to "+listen) {
		t.Errorf("receive's instructions lack %q:\n%s", "send --to "+listen, rerr.String())
	}
	// The joiner's secret (donor-auth) is in receive's instructions, for
	// the donor's environment.
	_, after, _ := strings.Cut(rerr.String(), "WSREP_SST_OPT_REMOTE_AUTH='")
	remoteAuth, _, ok := strings.Cut(after, "'")
	if !ok || !strings.HasPrefix(remoteAuth, "sst:") {
		t.Fatalf("receive's instructions carry no WSREP_SST_OPT_REMOTE_AUTH='sst:<secret>':\n%s", rerr.String())
	}
	// A send without it is refused by the joiner, which keeps waiting.
	var nerr bytes.Buffer
	ncmd := exec.CommandContext(ctx, bin, "send", "--to", listen, "--defaults-file", n1.DefaultsFile())
	ncmd.Stderr = &nerr
	if err := ncmd.Run(); err == nil || !strings.Contains(nerr.String(), "no WSREP_SST_OPT_REMOTE_AUTH") {
		t.Errorf("send without the joiner's secret: %v, want a failure and a warning naming it:\n%s", err, nerr.String())
	}
	waitFor(t, 10*time.Second, "the joiner's refusal", func() bool {
		return strings.Contains(rerr.String(), "does not carry this joiner's secret")
	})

	// Writes go on during the backup: IST must start exactly after it.
	wctx, stopWrites := context.WithCancel(ctx)
	written := make(chan error, 1)
	go func() {
		for wctx.Err() == nil {
			if err := galeratest.InsertRows(wctx, n1, "sbtest", 200); err != nil && wctx.Err() == nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	// On a terminal (util-linux script(1) gives it one) send draws its
	// progress bar.
	var serr bytes.Buffer
	sendArgv := []string{bin, "send", "--to", listen, "--defaults-file", n1.DefaultsFile()}
	scmd := exec.CommandContext(ctx, sendArgv[0], sendArgv[1:]...)
	scmd.Stderr = &serr
	script, tty := exec.LookPath("script")
	if tty == nil {
		scmd = exec.CommandContext(ctx, script, "-qec", strings.Join(sendArgv, " "), "/dev/null")
		scmd.Stdout = &serr
	}
	scmd.Env = append(os.Environ(), "WSREP_SST_OPT_REMOTE_AUTH="+remoteAuth)
	sendErr := scmd.Run()
	stopWrites()
	if err := <-written; err != nil {
		t.Errorf("writes during the send: %v", err)
	}
	if sendErr != nil {
		t.Fatalf("send: %v; stderr:\n%s\nreceive's stderr:\n%s", sendErr, serr.String(), rerr.String())
	}
	if tty == nil && (!strings.Contains(serr.String(), "% ") || !strings.Contains(serr.String(), "ETA")) {
		t.Errorf("send on a terminal drew no progress bar:\n%q", serr.String())
	}
	t.Logf("send:\n%s", serr.String())
	if err := <-rdone; err != nil {
		t.Fatalf("receive: %v; stderr:\n%s", err, rerr.String())
	}
	t.Logf("receive:\n%s", grep(rerr.String(), "Position", "grastate", "ERROR", "WARN", "Running as"))
	for _, out := range []string{rerr.String(), serr.String()} {
		if !strings.Contains(out, fmt.Sprintf("Running as the owner of %s", n2.Datadir())) && !strings.Contains(out, fmt.Sprintf("Running as the owner of %s", n1.Datadir())) {
			t.Errorf("receive or send did not drop to the datadir's owner:\n%s", out)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("receive wrote %q through a symbolic link in the datadir", b)
	}
	must(t, galeratest.InsertRows(ctx, n1, "sbtest", 1000)) // more for IST

	gs, err := os.ReadFile(filepath.Join(n2.Datadir(), "grastate.dat"))
	must(t, err)
	uuid, err := n1.Exec(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_local_state_uuid'")
	must(t, err)
	for _, want := range []string{"version: 2.1\n", "uuid:    " + uuid + "\n", "safe_to_bootstrap: 0\n"} {
		if !strings.Contains(string(gs), want) {
			t.Errorf("grastate.dat lacks %q:\n%s", want, gs)
		}
	}
	err = filepath.WalkDir(n2.Datadir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == filepath.Join(n2.Datadir(), "lost+found") {
			return fs.SkipDir // the filesystem's, root's: left alone
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != owner || int(st.Gid) != ownerGID {
			return fmt.Errorf("%s is owned by %d:%d, want %d:%d", path, st.Uid, st.Gid, owner, ownerGID)
		}
		return nil
	})
	must(t, err)

	startSynced(ctx, t, n2, false)
	assertTransfer(t, n2, "IST", true)
	assertSameData(ctx, t, n1, n2)
}
