package sst

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// Real SSTs with [sst] prepare-tool set to another MariaDB version's
// mariadb-backup: the host's 10.11 and the 11.8 of the Debian 13 chroot of
// scripts/chroot-118.sh. They need SST_INTEGRATION=1 and the chroot
// ($SST_CHROOT, default /var/cache/wsrep-sst-go/trixie; skipped without
// it, failed with $CI set, as the other 11.8 tests).

// chroot118 returns the 11.8 chroot, or skips.
func chroot118(t *testing.T) string {
	t.Helper()
	root := os.Getenv("SST_CHROOT")
	if root == "" {
		root = "/var/cache/wsrep-sst-go/trixie"
	}
	if err := galeratest.AvailableIn(root); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: the chroot is required; scripts/chroot-118.sh build)", err)
		}
		t.Skip(err)
	}
	return root
}

// writeTool writes an executable shell script at path that appends each
// invocation's arguments to calls, then runs body (which gets "$@").
func writeTool(t *testing.T, path, calls, body string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte("#!/bin/sh\necho \"$*\" >>"+calls+"\n"+body+"\n"), 0o755))
}

// unpackAside copies the host's mariadb-backup (10.11) with its shared
// libraries and dynamic loader into dir, as an operator unpacks an older
// version's package aside, and returns a wrapper that runs it there. The
// wrapper then works inside the 11.8 chroot too, where dir is seen at the
// same path (galeratest binds the temporary directory).
func unpackAside(t *testing.T, dir, calls string) string {
	t.Helper()
	mb, err := exec.LookPath("mariadb-backup")
	must(t, err)
	lib := filepath.Join(dir, "lib")
	must(t, os.MkdirAll(lib, 0o755))
	out, err := exec.Command("ldd", mb).Output()
	must(t, err)
	loader := ""
	for _, p := range regexp.MustCompile(`/\S+`).FindAllString(string(out), -1) {
		b, err := os.ReadFile(p) // follows the symlink, as cp -L
		must(t, err)
		must(t, os.WriteFile(filepath.Join(lib, filepath.Base(p)), b, 0o755))
		if strings.HasPrefix(filepath.Base(p), "ld-linux") {
			loader = filepath.Join(lib, filepath.Base(p))
		}
	}
	if loader == "" {
		t.Fatalf("no dynamic loader in ldd %s:\n%s", mb, out)
	}
	b, err := os.ReadFile(mb)
	must(t, err)
	bin := filepath.Join(dir, "bin", "mariadb-backup.real")
	must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	must(t, os.WriteFile(bin, b, 0o755))
	tool := filepath.Join(dir, "bin", "mariadb-backup")
	writeTool(t, tool, calls, "exec "+loader+" --library-path "+lib+" "+bin+` "$@"`)
	return tool
}

// chrootTool returns a wrapper that runs root's mariadb-backup from the
// host, with the host's temporary directory (where the tests' datadirs
// are) bind-mounted at the same path inside root.
func chrootTool(t *testing.T, dir, calls, root string) string {
	t.Helper()
	tool := filepath.Join(dir, "mb-11.8", "mariadb-backup")
	writeTool(t, tool, calls, `exec unshare -m --propagation private -- /bin/sh -c '
set -e
r=$1 t=$2
shift 2
mount --bind "$r" "$r"
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount --bind "$t" "$r$t"
exec chroot "$r" /usr/bin/mariadb-backup "$@"' sh `+root+" "+filepath.Clean(os.TempDir())+` "$@"`)
	return tool
}

// asideTool is unpackAside into a temporary directory: the wrapper of
// the 10.11 mariadb-backup and the file that logs its calls.
func asideTool(t *testing.T) (tool, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	return unpackAside(t, filepath.Join(dir, "mariadb-10.11"), calls), calls
}

// prepareToolCluster returns a donor on donorRoot and a joiner on
// joinerRoot (galeratest.HostRoot or the chroot) running our binary, the
// joiner with [sst] prepare-tool=tool, the donor synced with data loaded.
func prepareToolCluster(t *testing.T, donorRoot, joinerRoot, tool string) (ctx context.Context, donor, joiner *galeratest.Node) {
	t.Helper()
	bin := galeratest.SSTProgram(t)
	// As root: the prepare tools under test are mariadb-backup copies
	// with their libraries in root's temporary directories, run through
	// wrappers; the layout is not what these tests are about.
	c, ctx := rootCluster(t, "goprep")
	donor, err := c.AddNode(galeratest.NodeConfig{Root: donorRoot, SSTProgram: bin})
	must(t, err)
	joiner, err = c.AddNode(galeratest.NodeConfig{Root: joinerRoot, SSTProgram: bin, SST: []string{"prepare-tool=" + tool}})
	must(t, err)
	if !strings.HasPrefix(joiner.Datadir(), filepath.Clean(os.TempDir())+"/") {
		t.Fatalf("the joiner's datadir %s is not under %s, which the wrappers bind", joiner.Datadir(), os.TempDir())
	}
	startSynced(ctx, t, donor, true)
	must(t, galeratest.LoadData(ctx, donor, "sbtest", 2000))
	return ctx, donor, joiner
}

// serverVersion is the node's SELECT VERSION().
func serverVersion(ctx context.Context, t *testing.T, n *galeratest.Node) string {
	t.Helper()
	v, err := n.Exec(ctx, "SELECT VERSION()")
	must(t, err)
	return v
}

// assertPreparedWith checks that the joiner's SST ran --prepare, and only
// that, through tool (its calls file), that its log names the tool, and
// that the prepare log is that of mariadb-backup version want.
func assertPreparedWith(t *testing.T, joiner *galeratest.Node, log, tool, calls, want string) {
	t.Helper()
	if !regexp.MustCompile(`Preparing the backup at \S+/\.sst with ` + regexp.QuoteMeta(tool) + ` `).MatchString(log) {
		t.Errorf("the joiner's log does not name the prepare tool %s:\n%s", tool, grep(log, "WSREP_SST"))
	}
	b, err := os.ReadFile(calls)
	must(t, err)
	var modes []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		modes = append(modes, strings.Fields(l)[0])
	}
	if got := strings.Join(modes, " "); got != "--help --prepare" {
		t.Errorf("the prepare tool ran with %q, want --help then --prepare only:\n%s", got, b)
	}
	p, err := os.ReadFile(filepath.Join(joiner.Datadir(), "mariabackup.prepare.log"))
	must(t, err)
	if !strings.Contains(string(p), "based on MariaDB server "+want) || !strings.Contains(string(p), "completed OK!") {
		t.Errorf("the prepare log is not a completed prepare by mariadb-backup %s:\n%s", want, p)
	}
}

// checkPeer runs our binary's check --role joiner --peer-version peer
// against a host joiner's option file and returns the line about the peer.
func checkPeer(t *testing.T, joiner *galeratest.Node, peer string) string {
	t.Helper()
	cmd := exec.Command(galeratest.SSTProgram(t), "check", "--role", "joiner", "--defaults-file", joiner.DefaultsFile(), "--peer-version", peer)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, _ := cmd.Output() // exit 22 for any problem, not only ours
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "an SST from the "+peer+" donor to this ") {
			return l
		}
	}
	t.Fatalf("check --peer-version %s printed no line about the peer:\n%s", peer, out)
	return ""
}

// TestE2EPrepareToolOlderOnNewerJoiner is the rolling-upgrade case the
// option exists for: a 10.11 donor (host) and an 11.8 joiner (chroot)
// whose prepare-tool is the 10.11 mariadb-backup, unpacked aside with its
// libraries (as one would unpack the donor version's package). 10.11 and
// 11.8 write one redo-log format, so the 11.8 joiner could prepare with
// its own tool (TestMixedVersions); across 10.8.1 (10.6 to 10.11) this is
// the step that makes the SST work, and the mechanism is the same.
func TestE2EPrepareToolOlderOnNewerJoiner(t *testing.T) {
	integration(t)
	root := chroot118(t)
	tool, calls := asideTool(t)
	ctx, donor, joiner := prepareToolCluster(t, galeratest.HostRoot, root, tool)
	startSynced(ctx, t, joiner, false)
	log := assertTransfer(t, joiner, "SST", true)
	if dv, jv := serverVersion(ctx, t, donor), serverVersion(ctx, t, joiner); !strings.HasPrefix(dv, "10.11.") || !strings.HasPrefix(jv, "11.8.") {
		t.Fatalf("donor runs %s, joiner %s: want 10.11 and 11.8", dv, jv)
	}
	assertPreparedWith(t, joiner, log, tool, calls, "10.11.")
	m, err := os.ReadFile(filepath.Join(joiner.Datadir(), "mariabackup.move.log"))
	must(t, err)
	if !strings.Contains(string(m), "based on MariaDB server 11.8.") {
		t.Errorf("the move-back did not run the joiner's own 11.8 mariadb-backup:\n%s", m)
	}
	assertSameData(ctx, t, donor, joiner)
}

// TestE2EPrepareToolChroot118: a 10.11 cluster (host) whose joiner
// prepares with the 11.8 chroot's mariadb-backup, run by a wrapper. 11.8
// prepares a 10.11 backup (same redo-log format, newer tool: check calls
// it able to) and the 10.11 server starts on the result.
func TestE2EPrepareToolChroot118(t *testing.T) {
	integration(t)
	root := chroot118(t)
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	tool := chrootTool(t, dir, calls, root)
	ctx, donor, joiner := prepareToolCluster(t, galeratest.HostRoot, galeratest.HostRoot, tool)
	startSynced(ctx, t, joiner, false)
	log := assertTransfer(t, joiner, "SST", true)
	assertPreparedWith(t, joiner, log, tool, calls, "11.8.")
	assertSameData(ctx, t, donor, joiner)
	// check, on this joiner's settings, runs the wrapper for its version
	// and calls it able to prepare the donor's backup.
	dv := strings.SplitN(serverVersion(ctx, t, donor), "-", 2)[0]
	if l := checkPeer(t, joiner, dv); !strings.HasPrefix(l, "note: ") || !strings.Contains(l, "prepare-tool="+tool+" (mariadb-backup 11.8.") ||
		!strings.Contains(l, "which can prepare a 10.11 backup") {
		t.Errorf("check --peer-version %s: %s", dv, l)
	} else {
		t.Logf("check: %s", l)
	}
}

// TestE2EPrepareToolDowngradeFails: an 11.8 donor (chroot) and a 10.11
// joiner (host) whose prepare-tool is a 10.11 mariadb-backup at another
// path: a downgrade, which check --peer-version calls a problem. The
// prepare fails ("cannot open ./xtrabackup_checkpoints": 11.8 writes
// mariadb_backup_checkpoints), the joiner exits 22 and its one ERROR names
// the prepare-tool and says how to find the right one.
func TestE2EPrepareToolDowngradeFails(t *testing.T) {
	integration(t)
	root := chroot118(t)
	tool, _ := asideTool(t)
	ctx, donor, joiner := prepareToolCluster(t, root, galeratest.HostRoot, tool)
	dv := strings.SplitN(serverVersion(ctx, t, donor), "-", 2)[0]
	err := joiner.Start(ctx, false)
	if err == nil {
		err = joiner.WaitSynced(ctx)
	}
	if err == nil {
		t.Fatal("the 10.11 joiner synced from the 11.8 donor")
	}
	log, lerr := joiner.LogSinceStart()
	must(t, lerr)
	var errs []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "WSREP_SST: [ERROR]") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want one WSREP_SST ERROR line, got %d:\n%s", len(errs), grep(log, "WSREP_SST"))
	}
	if !strings.Contains(errs[0], "prepare-tool="+tool) || !strings.Contains(errs[0], "check --peer-version") {
		t.Errorf("the ERROR does not name the prepare-tool %s and the check that explains it:\n%s", tool, errs[0])
	}
	if !strings.Contains(log, "Process completed with error: wsrep_sst_goprep --role 'joiner'") || !strings.Contains(log, ": 22 (Invalid argument)") {
		t.Errorf("the joiner's SST program did not exit 22:\n%s", grep(log, "WSREP"))
	}
	t.Logf("joiner's ERROR: %s", errs[0])
	// check, on this joiner's settings, calls the pair a downgrade.
	if l := checkPeer(t, joiner, dv); !strings.HasPrefix(l, "problem: ") || !strings.Contains(l, "is a downgrade") {
		t.Errorf("check --peer-version %s: %s", dv, l)
	} else {
		t.Logf("check: %s", l)
	}
}
