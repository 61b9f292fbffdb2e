package sst

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/swap"
)

// volatileRE matches the datadir entries mariadbd or the SST program
// rewrite on every start (the script's default cpat, plus ours): they are
// left out of the "previous data is intact" comparisons.
var volatileRE = regexp.MustCompile(`(^|/)(.*\.pem|galera\.cache|sst_in_progress|\.sst|\.sst-old|\.sst-resume|gvwstate\.dat|grastate\.dat|.*\.err|.*\.log|.*\.log\..*|wsrep_sst\.pid|` + regexp.QuoteMeta(swapJournal) + `(\.tmp)?)$`)

func dataSums(t *testing.T, n *galeratest.Node) map[string]string {
	t.Helper()
	sums, err := galeratest.ContentSums(n.Datadir(), func(rel string) bool { return volatileRE.MatchString(rel) })
	must(t, err)
	if len(sums) < 5 {
		t.Fatalf("only %d data files in %s", len(sums), n.Datadir())
	}
	return sums
}

func assertIntact(t *testing.T, n *galeratest.Node, before map[string]string) {
	t.Helper()
	if d := galeratest.DiffSums(before, dataSums(t, n)); len(d) > 0 {
		t.Errorf("the previous datadir of %s was changed by the failed SST:\n%s", n.Name(), strings.Join(d, "\n"))
	}
}

// forceSST stops n and makes its next start ask for a full SST while its
// datadir stays (grastate.dat seqno -1), as after a crash or a too-old
// gcache.
func forceSST(ctx context.Context, t *testing.T, n *galeratest.Node) {
	t.Helper()
	must(t, n.Stop(ctx))
	p := filepath.Join(n.Datadir(), "grastate.dat")
	b, err := os.ReadFile(p)
	must(t, err)
	re := regexp.MustCompile(`(?m)^seqno:.*$`)
	must(t, os.WriteFile(p, re.ReplaceAll(b, []byte("seqno:   -1")), 0o644))
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stagedBytes is the size of the joiner's staging directory so far.
func stagedBytes(n *galeratest.Node) int64 {
	var total int64
	_ = filepath.WalkDir(filepath.Join(n.Datadir(), stagingDir), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func signalAll(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil {
			t.Logf("kill %d %v: %v", p, sig, err)
		}
	}
}

// setPause restarts n, a node that bootstraps the cluster alone (its
// joiner is down), with WSREP_SST_TEST_PAUSE_AT=step in mariadbd's
// environment and so in its SST program's, or without it for "". Other
// Env entries stay.
func setPause(ctx context.Context, t *testing.T, n *galeratest.Node, step string) {
	t.Helper()
	must(t, n.Reconfigure(func(c *galeratest.NodeConfig) {
		c.Env = slices.DeleteFunc(slices.Clone(c.Env), func(kv string) bool { return strings.HasPrefix(kv, pauseEnv+"=") })
		if step != "" {
			c.Env = append(c.Env, pauseEnv+"="+step)
		}
	}))
	must(t, n.Stop(ctx))
	startSynced(ctx, t, n, true)
}

// pauseDonor restarts donor with its SST program set to pause in the
// data stage after at bytes of the backup stream (the hook's donor-data
// step), starts joiner, and waits until the donor logs that it paused:
// the point tests then freeze or kill it at, whatever the speed of the
// transfer. It returns the donor's SST processes and unpause, which
// restarts the donor without the hook once the joiner is down; a
// t.Cleanup calls unpause if the test did not.
func pauseDonor(ctx context.Context, t *testing.T, donor, joiner *galeratest.Node, at int64) (pids []int, unpause func()) {
	t.Helper()
	step := fmt.Sprintf("%s:%d", pauseDonorData, at)
	setPause(ctx, t, donor, step)
	done := false
	unpause = func() {
		t.Helper()
		if !done {
			done = true
			// A donor still paused would hold mariadbd's shutdown.
			pids, err := donor.SSTProcesses("donor")
			must(t, err)
			signalAll(t, pids, syscall.SIGKILL)
			setPause(ctx, t, donor, "")
		}
	}
	t.Cleanup(func() {
		if !done {
			_ = joiner.Kill()
			unpause()
		}
	})
	must(t, joiner.Start(ctx, false))
	line := fmt.Sprintf("%s: paused at donor step %q", pauseEnv, step)
	waitFor(t, 2*time.Minute, "the donor to pause at "+step, func() bool {
		l, _ := donor.LogSinceStart()
		return strings.Contains(l, line)
	})
	pids, err := donor.SSTProcesses("donor")
	must(t, err)
	if len(pids) == 0 {
		t.Fatal("no donor SST program found")
	}
	return pids, unpause
}

// killDonorSST makes donor's SST program pause in the middle of the data
// stage, after at bytes of the backup stream, and SIGKILLs it there, once
// ready (if not nil) returns; the joiner must fail with an ERROR and exit
// by itself. The donor is restarted without the hook at the end.
func killDonorSST(ctx context.Context, t *testing.T, donor, joiner *galeratest.Node, at int64, ready func()) {
	t.Helper()
	pids, unpause := pauseDonor(ctx, t, donor, joiner, at)
	if ready != nil {
		ready()
	}
	signalAll(t, pids, syscall.SIGKILL)
	log := failedJoin(ctx, t, joiner, 2*time.Minute)
	if !strings.Contains(log, "WSREP_SST: [ERROR]") {
		why := ""
		if strings.Contains(log, "Will never receive state") {
			// mariadbd then exits, and galeratest kills what is left
			// of its process group, our SST program included.
			why = " (its mariadbd aborted on the donor's failure report first)"
		}
		t.Errorf("the joiner logged no error%s:\n%s", why, grep(log, "WSREP"))
	}
	unpause()
}

// failedJoin starts n, which must fail its SST and exit by itself, and
// returns its log of that run.
func failedJoin(ctx context.Context, t *testing.T, n *galeratest.Node, within time.Duration) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if _, err := n.WaitFailedJoin(wctx); err != nil {
		_ = n.Kill()
		t.Fatalf("the joiner did not give up: %v", err)
	}
	log, err := n.LogSinceStart()
	must(t, err)
	return log
}

// TestE2EKeepDatadir runs, on one loaded 2-node cluster, the failures that
// used to cost the joiner its data: each time the joiner holds a complete
// previous datadir, the SST fails, and every previous data file must be
// byte-identical afterwards; then the node rejoins and its tables match.
func TestE2EKeepDatadir(t *testing.T) {
	integration(t)
	ctx, n1, n2 := loadedPair(t, "gokeep", 7*time.Minute, 30000)
	startSynced(ctx, t, n2, false)
	assertSameData(ctx, t, n1, n2)
	rejoin := func(t *testing.T) string {
		t.Helper()
		startSynced(ctx, t, n2, false)
		log := assertTransfer(t, n2, "SST", true)
		assertSameData(ctx, t, n1, n2)
		return log
	}
	t.Run("donor killed mid-stream", func(t *testing.T) {
		forceSST(ctx, t, n2)
		before := dataSums(t, n2)
		killDonorSST(ctx, t, n1, n2, 8<<20, nil)
		assertIntact(t, n2, before)
		rejoin(t)
	})

	t.Run("donor frozen", func(t *testing.T) {
		forceSST(ctx, t, n2)
		before := dataSums(t, n2)
		// The donor's own watchdog ends it once it is resumed: paused,
		// it has been waiting for data longer than that.
		for _, n := range []*galeratest.Node{n1, n2} {
			must(t, n.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = []string{"sst-idle-timeout=20"} }))
		}
		pids, unpause := pauseDonor(ctx, t, n1, n2, 8<<20)
		signalAll(t, pids, syscall.SIGSTOP)
		frozen := time.Now()
		log := failedJoin(ctx, t, n2, 90*time.Second)
		took := time.Since(frozen)
		signalAll(t, pids, syscall.SIGCONT)
		t.Logf("joiner gave up %v after the donor froze", took.Round(100*time.Millisecond))
		if took > 30*time.Second {
			t.Errorf("the joiner took %v to notice a frozen donor with sst-idle-timeout=20", took)
		}
		if !strings.Contains(log, "sst-idle-timeout=20") {
			t.Errorf("no ERROR naming sst-idle-timeout:\n%s", grep(log, "WSREP_SST"))
		}
		assertIntact(t, n2, before)
		// The donor ends once resumed, leaves no child behind, and takes
		// writes (no BACKUP STAGE lock left).
		waitFor(t, time.Minute, "the donor's SST program and mariadb-backup to exit", func() bool {
			left, err := n1.GroupProcesses()
			return err == nil && len(left) == 0
		})
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		must(t, galeratest.InsertRows(wctx, n1, "sbtest", 100))
		for _, n := range []*galeratest.Node{n1, n2} {
			must(t, n.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = nil }))
		}
		unpause()
		rejoin(t)
	})

	t.Run("prepare fails", func(t *testing.T) {
		forceSST(ctx, t, n2)
		before := dataSums(t, n2)
		real, err := exec.LookPath("mariadb-backup")
		must(t, err)
		// mariadb-backup that fails --prepare, as prepare-tool (mysqld
		// puts /usr/bin first on the SST program's PATH).
		fake := filepath.Join(n2.Dir(), "fake-mariadb-backup")
		must(t, os.WriteFile(fake, []byte(fmt.Sprintf("#!/bin/sh\nfor a; do [ \"$a\" = --prepare ] && { echo 'fake prepare failure' >&2; exit 1; }; done\nexec %s \"$@\"\n", real)), 0o755))
		must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = []string{"prepare-tool=" + fake} }))
		must(t, n2.Start(ctx, false))
		log := failedJoin(ctx, t, n2, 2*time.Minute)
		if !strings.Contains(log, "apply with [sst] prepare-tool="+fake+" finished with errors") {
			t.Errorf("no prepare error in the joiner's log:\n%s", grep(log, "WSREP_SST"))
		}
		if !strings.Contains(log, "fake prepare failure") {
			t.Errorf("prepare-tool was not used:\n%s", grep(log, "WSREP_SST"))
		}
		assertIntact(t, n2, before)
		must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = nil }))
		rejoin(t)
	})

	// A joiner killed at each step of the swap: the next run finishes or
	// undoes it first, then the node joins.
	for _, step := range []string{swap.StepAside, swap.StepReady, swap.StepCommitted} {
		t.Run("joiner killed at swap step "+step, func(t *testing.T) {
			forceSST(ctx, t, n2)
			must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.Env = []string{pauseEnv + "=" + step} }))
			must(t, n2.Start(ctx, false))
			waitFor(t, 2*time.Minute, "the joiner to pause at "+step, func() bool {
				l, _ := n2.LogSinceStart()
				return strings.Contains(l, fmt.Sprintf("paused at swap step %q", step))
			})
			must(t, n2.Kill())
			if _, err := os.Stat(filepath.Join(n2.Datadir(), swapJournal)); err != nil {
				t.Fatalf("no swap journal after a kill at %s: %v", step, err)
			}
			must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.Env = nil }))
			log := rejoin(t)
			want := "was undone"
			if step == swap.StepCommitted {
				want = "was finished"
			}
			if !strings.Contains(log, want) {
				t.Errorf("the next run did not say the interrupted swap %s:\n%s", want, grep(log, "WSREP_SST"))
			}
		})
	}

	// Last, as it leaves the joiner's datadir on a small tmpfs.
	t.Run("small filesystem", func(t *testing.T) {
		forceSST(ctx, t, n2)
		dir := n2.Datadir()
		used, err := allocatedBytes(dir)
		must(t, err)
		// 32 MiB free: too little to keep the previous data beside the
		// new (the margin alone is 64 MiB), enough once it is cleaned.
		copyDir := t.TempDir()
		run(t, "cp", "-a", dir+"/.", copyDir)
		run(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", used+32<<20), "tmpfs", dir)
		t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
		run(t, "cp", "-a", copyDir+"/.", dir)
		log := rejoin(t)
		if !strings.Contains(log, "do not both fit") {
			t.Errorf("no fallback warning on a small filesystem:\n%s", grep(log, "WSREP_SST"))
		}
		// Our donor offers its blocks: the previous data is patched in
		// place rather than wiped, and most of it stays.
		if st := lastV2Stats(t, log); !strings.Contains(log, "Delta in place: moved") || st.inplace < st.bytes/2 {
			t.Errorf("no delta in place on a small filesystem (%d of %d bytes left in place):\n%s", st.inplace, st.bytes, grep(log, "WSREP_SST"))
		}

		// keep-datadir=1 refuses instead: exit 28, nothing touched.
		forceSST(ctx, t, n2)
		fill := func(leave int64) {
			free, err := swap.Free(dir)
			must(t, err)
			_ = os.Remove(filepath.Join(dir, "ballast.log"))
			if int64(free) > leave {
				run(t, "fallocate", "-l", fmt.Sprint(int64(free)-leave), filepath.Join(dir, "ballast.log"))
			}
		}
		fill(32 << 20)
		before := dataSums(t, n2)
		must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = []string{"keep-datadir=1"} }))
		must(t, n2.Start(ctx, false))
		log = failedJoin(ctx, t, n2, 2*time.Minute)
		if !strings.Contains(log, "keep-datadir=1") || !strings.Contains(log, "nothing was changed") {
			t.Errorf("no keep-datadir=1 refusal:\n%s", grep(log, "WSREP_SST"))
		}
		assertIntact(t, n2, before)

		// Too small even for the new data alone (the donor grew by
		// about 120 MB): refused at once, nothing touched.
		must(t, galeratest.LoadData(ctx, n1, "big", 120000))
		must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = nil }))
		fill(16 << 20)
		must(t, n2.Start(ctx, false))
		log = failedJoin(ctx, t, n2, 2*time.Minute)
		if !strings.Contains(log, "not enough disk space") {
			t.Errorf("no disk-space error:\n%s", grep(log, "WSREP_SST"))
		}
		if _, err := os.Stat(filepath.Join(dir, stagingDir)); err == nil {
			t.Errorf("a staging directory was left on the full filesystem")
		}
		assertIntact(t, n2, before)
	})
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// allocatedBytes is du's total for dir.
func allocatedBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}
