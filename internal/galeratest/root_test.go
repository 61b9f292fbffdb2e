package galeratest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// chrootRoot returns the MariaDB 11.8 chroot (scripts/chroot-118.sh:
// $SST_CHROOT or /var/cache/wsrep-sst-go/trixie). Without it, or without
// what a node needs in it, the test is skipped with the reason, or fails
// when $CI is set.
func chrootRoot(t *testing.T) string {
	t.Helper()
	root := os.Getenv("SST_CHROOT")
	if root == "" {
		root = "/var/cache/wsrep-sst-go/trixie"
	}
	if err := AvailableIn(root); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: the chroot is required; scripts/chroot-118.sh build)", err)
		}
		t.Skip(err)
	}
	return root
}

// ourJoinerMark is a line only our joiner logs.
const ourJoinerMark = "WSREP_SST: [INFO] Data stream from the donor started"

// TestMixedVersions runs a 10.11 node on the host and an 11.8 node in the
// chroot as one cluster on loopback, as a rolling upgrade does: a full SST
// from the 10.11 node to the 11.8 one, an IST after the 11.8 node missed
// writes, then (reverseIST) an IST from the 11.8 node to the 10.11 one,
// with the programs each case names. A full SST the other way (11.8 donor,
// 10.11 joiner) is a downgrade, which neither script supports: 10.11's
// mariadb-backup cannot prepare an 11.8 backup ("cannot open
// ./xtrabackup_checkpoints"; 11.8 writes mariadb_backup_checkpoints).
func TestMixedVersions(t *testing.T) {
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 to run tests that start real Galera nodes")
	}
	if err := availableHost(); err != nil {
		t.Skip(err)
	}
	chroot := chrootRoot(t)
	bin := SSTProgram(t)
	for _, tc := range []struct {
		name        string
		donorStock  bool // the 10.11 node runs the stock 10.11 script
		joinerStock bool // the 11.8 node runs the stock 11.8 script
		reverseIST  bool
	}{
		{name: "ours 10.11 to ours 11.8", reverseIST: true},
		{name: "stock 10.11 to ours 11.8", donorStock: true},
		{name: "ours 10.11 to stock 11.8", joinerStock: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Registered first, so it runs after the cluster's Close.
			t.Cleanup(func() {
				if _, err := os.Stat(filepath.Join(chroot, dir)); err == nil {
					t.Errorf("mount point %s left in the chroot", filepath.Join(chroot, dir))
				}
			})
			c := NewTestCluster(t, Options{Dir: dir, Method: "mixtest", Log: t.Logf})
			ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
			defer cancel()
			node := func(root string, stock bool) *Node {
				cfg := NodeConfig{Root: root, StockScript: stock}
				if !stock {
					cfg.SSTProgram = bin
				}
				n, err := c.AddNode(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			old := node(HostRoot, tc.donorStock)
			upgraded := node(chroot, tc.joinerStock)
			// join (re)starts n as a joiner and checks how it caught up.
			join := func(n *Node, want string, ours bool) string {
				t.Helper()
				startSynced(ctx, t, n, false, n.Name()+" joined by "+want)
				log := assertJoinedBy(t, n, want)
				if got := strings.Contains(log, ourJoinerMark); want == "SST" && got != ours {
					t.Errorf("%s: our joiner ran = %v, want %v", n.Name(), got, ours)
				}
				return log
			}

			startSynced(ctx, t, old, true, old.Name()+" bootstrapped and Synced")
			loadRows(ctx, t, old, 5000)
			log := join(upgraded, "SST", !tc.joinerStock)
			for n, want := range map[*Node]string{old: "10.11.", upgraded: "11.8."} {
				v, err := n.Exec(ctx, "SELECT VERSION()")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(v, want) {
					t.Errorf("%s runs %s, want %sx", n.Name(), v, want)
				}
			}
			if tc.joinerStock {
				// The 11.8 script's account of our 10.11 donor's legacy
				// xtrabackup_galera_info, which it accepts and renames.
				if want := "old version of mariabackup or xtrabackup"; !strings.Contains(log, want) {
					t.Errorf("the 11.8 joiner did not log %q", want)
				}
			}
			AssertSameData(ctx, t, old, upgraded)

			// rejoinByIST stops n, writes rows through the other node and
			// restarts n, which must catch up by IST.
			rejoinByIST := func(n, other *Node, ours bool) {
				t.Helper()
				if err := n.Stop(ctx); err != nil {
					t.Fatal(err)
				}
				if err := InsertRows(ctx, other, "sbtest", 500); err != nil {
					t.Fatal(err)
				}
				join(n, "IST", ours)
				AssertSameData(ctx, t, old, upgraded)
			}
			rejoinByIST(upgraded, old, !tc.joinerStock)
			if tc.reverseIST {
				rejoinByIST(old, upgraded, !tc.donorStock)
			}
		})
	}
}

// fakeRoot makes a directory that passes for a server root.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/sbin", "usr/bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/mariadbd"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestServerRootMountPoints(t *testing.T) {
	root := fakeRoot(t)
	base := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.TempDir, bound too; base is not inside it
	t.Setenv(ServerRootEnv, "")
	c, err := New(Options{Dir: base, Method: "roottest", ServerRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.AddNode(NodeConfig{Root: HostRoot})
	if err != nil {
		t.Fatal(err)
	}
	if n.Root() != "" {
		t.Errorf("HostRoot node: Root() = %q, want host", n.Root())
	}
	if fileExists(filepath.Join(root, base)) {
		t.Errorf("mount point %s made before a node under the root", filepath.Join(root, base))
	}
	n, err = c.AddNode(NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{base, tmp} {
		if !fileExists(filepath.Join(root, d)) {
			t.Fatalf("no mount point %s", filepath.Join(root, d))
		}
	}
	if n.Root() != root || n.mariadbd() != defaultMariadbd {
		t.Errorf("default node: Root() = %q, mariadbd %q; want %q, %q", n.Root(), n.mariadbd(), root, defaultMariadbd)
	}
	path, args := n.commandLine("mariadb", "-e", "SELECT 1")
	if want := []string{"unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", rootWrapper, "sh", root, tmp, base, "--", "mariadb", "-e", "SELECT 1"}; !slices.Equal(append([]string{path}, args...), want) {
		t.Errorf("command line = %q %q, want %q", path, args, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Both are t.TempDir()s: /tmp/TestX/001 and 002; only root's own
	// /tmp may stay.
	for _, d := range []string{base, tmp} {
		for d := filepath.Join(root, d); d != filepath.Join(root, "tmp"); d = filepath.Dir(d) {
			if fileExists(d) {
				t.Errorf("%s left after Close", d)
			}
		}
	}
	if !fileExists(filepath.Join(root, "tmp")) {
		t.Errorf("Close removed the root's own tmp")
	}

	// A base directory inside os.TempDir needs no mount of its own.
	t.Setenv("TMPDIR", filepath.Dir(base))
	c, err = New(Options{Dir: base, Method: "roottest", ServerRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.rootBinds(), []string{filepath.Dir(base)}; !slices.Equal(got, want) {
		t.Errorf("rootBinds() = %q, want %q", got, want)
	}
}

func TestServerRootChecks(t *testing.T) {
	t.Setenv(ServerRootEnv, "")
	if _, err := New(Options{Dir: t.TempDir(), Method: "roottest", ServerRoot: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "chroot-118.sh build") {
		t.Errorf("New(root without mariadbd) error = %v, want one naming chroot-118.sh build", err)
	}
	root := fakeRoot(t)
	if err := os.WriteFile(filepath.Join(root, "usr/bin/wsrep_sst_roottest"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Dir: t.TempDir(), Method: "roottest", ServerRoot: root}); err == nil || !strings.Contains(err.Error(), "pick another name") {
		t.Errorf("New(method shadowed in root) error = %v, want a method clash", err)
	}
	t.Setenv(ServerRootEnv, root)
	c, err := New(Options{Dir: t.TempDir(), Method: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.root != root {
		t.Errorf("root from $%s = %q, want %q", ServerRootEnv, c.root, root)
	}
}
