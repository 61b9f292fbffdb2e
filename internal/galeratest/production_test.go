package galeratest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProductionLayout runs the stock script in the layout of a packaged
// server: both nodes' mariadbd as the mysql user with the passwordless
// unix_socket SST user, and node2's datadir the root of an ext4 volume of
// its own (lost+found included). node2 joins by SST; afterwards Close
// leaves nothing mounted and no loop device. About 30 s (the stock donor
// sleeps 10 s).
func TestProductionLayout(t *testing.T) {
	Integration(t)
	if os.Geteuid() != 0 {
		t.Skip("a volume needs root (mount -o loop)")
	}
	if _, err := sbinPath("mkfs.ext4"); err != nil {
		t.Skipf("%v (apt-get install e2fsprogs)", err)
	}
	dir := t.TempDir()
	// Close is idempotent; the test closes explicitly to check what is
	// left.
	c := NewTestCluster(t, Options{Dir: dir, Method: "prodtest", Log: t.Logf, User: "mysql"})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	n1, err := c.AddNode(NodeConfig{StockScript: true})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.AddNode(NodeConfig{StockScript: true, Volume: Volume{FS: "ext4", Size: 1 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	uid, _, err := lookupUser(c.root, "mysql")
	if err != nil {
		t.Fatal(err)
	}
	dev := n2.VolumeDevice()
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Errorf("VolumeDevice() = %q, want /dev/loopN", dev)
	}
	img := n2.vol.img
	assertMounted(t, n2.Datadir(), dev)
	lf, err := os.Stat(filepath.Join(n2.Datadir(), "lost+found"))
	if err != nil {
		t.Fatalf("fresh ext4 volume: %v", err)
	}
	if st := lf.Sys().(*syscall.Stat_t); st.Uid != 0 || lf.Mode().Perm() != 0o700 {
		t.Errorf("lost+found: uid %d mode %v, want root's 0700", st.Uid, lf.Mode().Perm())
	}
	assertOwner(t, n2.Datadir(), uid)

	startSynced(ctx, t, n1, true, "node1 bootstrapped and Synced")
	assertProcessUID(t, n1, uid)
	grants, err := n1.Exec(ctx, "SHOW GRANTS FOR 'mysql'@'localhost'")
	if err != nil {
		t.Fatal(err)
	}
	// 10.11 shows REPLICA MONITOR under its old name.
	if !strings.Contains(grants, "unix_socket") || !strings.Contains(grants, "BINLOG MONITOR") ||
		!strings.Contains(grants, "REPLICA MONITOR") && !strings.Contains(grants, "SLAVE MONITOR") {
		t.Errorf("SST user's grants:\n%s\nwant unix_socket, BINLOG MONITOR and REPLICA (SLAVE) MONITOR", grants)
	}

	loadRows(ctx, t, n1, 5000) // about 5 MB
	startSynced(ctx, t, n2, false, "node2 joined by SST and Synced")
	log := assertJoinedBy(t, n2, "SST")
	assertProcessUID(t, n2, uid)
	AssertSameData(ctx, t, n1, n2)
	assertMounted(t, n2.Datadir(), dev)
	assertOwner(t, filepath.Join(n2.Datadir(), "ibdata1"), uid)
	if _, err := os.Stat(filepath.Join(n2.Datadir(), "lost+found")); err != nil {
		t.Logf("after the SST: %v", err)
	} else {
		t.Logf("after the SST: lost+found is still in the datadir")
	}
	if l := Grep(log, "lost+found", "Permission denied", "ERROR"); l != "" {
		t.Logf("joiner log lines about lost+found, permissions and errors:\n%s", l)
	}

	t0 := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster closed in %v", time.Since(t0).Round(time.Millisecond))
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if src, ok := mountSource(info, n2.Datadir()); ok {
		t.Errorf("after Close, %s is still mounted from %s", n2.Datadir(), src)
	}
	if out, err := exec.Command("losetup", "-a").Output(); err != nil {
		t.Error(err)
	} else if strings.Contains(string(out), img) {
		t.Errorf("after Close, a loop device is left for %s:\n%s", img, out)
	}
	if n2.VolumeDevice() != "" {
		t.Errorf("after Close, VolumeDevice() = %q, want \"\"", n2.VolumeDevice())
	}
}

// assertMounted fails t unless dir is a mount point of dev.
func assertMounted(t *testing.T, dir, dev string) {
	t.Helper()
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if src, ok := mountSource(info, dir); !ok || src != dev {
		t.Errorf("mount on %s: %q, %v; want %s", dir, src, ok, dev)
	}
}

// assertOwner fails t unless path belongs to uid.
func assertOwner(t *testing.T, path string, uid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s belongs to uid %d, want %d", path, got, uid)
	}
}

// assertProcessUID fails t unless n's mariadbd runs with uid as its real
// and effective uid.
func assertProcessUID(t *testing.T, n *Node, uid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(n.p.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "Uid:" {
			if f[1] != strconv.Itoa(uid) || f[2] != strconv.Itoa(uid) {
				t.Errorf("%s: mariadbd %s, want real and effective uid %d", n.Name(), l, uid)
			}
			return
		}
	}
	t.Errorf("%s: no Uid line in /proc/%d/status", n.Name(), n.p.Pid())
}

// TestVolumes checks the volumes themselves: one of each filesystem type,
// an ext4 node bootstrapped on its volume (mariadb-install-db with
// lost+found in the datadir) then killed, WipeDatadir keeping lost+found,
// and a Close whose plain unmount fails because the test holds a file open
// on the xfs volume: it reports that, unmounts lazily, and the loop device
// goes once the file is closed. About 10 s.
func TestVolumes(t *testing.T) {
	Integration(t)
	if os.Geteuid() != 0 {
		t.Skip("a volume needs root (mount -o loop)")
	}
	for _, p := range []string{"mkfs.ext4", "mkfs.xfs", "mkfs.btrfs"} {
		if _, err := sbinPath(p); err != nil {
			t.Skipf("%v (scripts/install-deps.sh)", err)
		}
	}
	dir := t.TempDir()
	c, err := New(Options{Dir: dir, Method: "voltest", Log: t.Logf, User: "mysql"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	uid, _, err := lookupUser(c.root, "mysql")
	if err != nil {
		t.Fatal(err)
	}

	nodes := map[string]*Node{}
	for _, fs := range []string{"ext4", "xfs", "btrfs"} {
		t0 := time.Now()
		n, err := c.AddNode(NodeConfig{Volume: Volume{FS: fs, Size: 512 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s volume made and mounted in %v", fs, time.Since(t0).Round(time.Millisecond))
		assertMounted(t, n.Datadir(), n.VolumeDevice())
		assertOwner(t, n.Datadir(), uid)
		_, err = os.Stat(filepath.Join(n.Datadir(), "lost+found"))
		if got, want := err == nil, fs == "ext4"; got != want {
			t.Errorf("%s volume: lost+found present = %v, want %v", fs, got, want)
		}
		nodes[fs] = n
	}

	n := nodes["ext4"]
	StartSynced(ctx, t, n, true)
	assertProcessUID(t, n, uid)
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.WipeDatadir(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(n.Datadir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "lost+found" {
		t.Errorf("after WipeDatadir the volume holds %v, want only lost+found", entries)
	}
	assertMounted(t, n.Datadir(), n.VolumeDevice())

	busy, err := os.Create(filepath.Join(nodes["xfs"].Datadir(), "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	imgs := map[string]string{}
	for fs, n := range nodes {
		imgs[fs] = n.vol.img
	}
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "unmount "+nodes["xfs"].Datadir()) {
		t.Errorf("Close() with a file open on the xfs volume: error = %v, want a failed unmount", err)
	} else {
		t.Logf("Close() reported: %v", err)
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for fs, n := range nodes {
		if src, ok := mountSource(info, n.Datadir()); ok {
			t.Errorf("%s: %s still mounted from %s after Close", fs, n.Datadir(), src)
		}
	}
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-a").Output()
	if err != nil {
		t.Fatal(err)
	}
	for fs, img := range imgs {
		if strings.Contains(string(out), img) {
			t.Errorf("%s: loop device left for %s:\n%s", fs, img, out)
		}
	}
}
