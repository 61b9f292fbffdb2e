package galeratest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ourBinary builds our SST program once per test binary.
func ourBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "galeratest-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wsrep_sst_mariabackup")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-trimpath", "-o", binPath, "wsrep_sst_mariabackup/cmd/wsrep_sst_mariabackup")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the SST program: %v", buildErr)
	}
	return binPath
}

// ourJoinerMark is a line only our joiner logs.
const ourJoinerMark = "WSREP_SST: [INFO] Data stream from the donor started"

// TestMixedVersions runs a 10.11 node on the host and an 11.8 node in the
// chroot as one cluster on loopback, as a rolling upgrade does: a full SST
// from one to the other, then an IST after the joiner missed writes, with
// the programs each case names.
func TestMixedVersions(t *testing.T) {
	if os.Getenv("SST_INTEGRATION") != "1" {
		t.Skip("set SST_INTEGRATION=1 to run tests that start real Galera nodes")
	}
	if err := availableHost(); err != nil {
		t.Skip(err)
	}
	chroot := chrootRoot(t)
	bin := ourBinary(t)
	for _, tc := range []struct {
		name         string
		donorRoot    string
		joinerRoot   string
		donorStock   bool
		joinerStock  bool
		wantVersions [2]string // donor, joiner
	}{
		{name: "ours 10.11 to ours 11.8", donorRoot: HostRoot, joinerRoot: chroot, wantVersions: [2]string{"10.11", "11.8"}},
		{name: "ours 11.8 to ours 10.11", donorRoot: chroot, joinerRoot: HostRoot, wantVersions: [2]string{"11.8", "10.11"}},
		{name: "stock 10.11 to ours 11.8", donorRoot: HostRoot, joinerRoot: chroot, donorStock: true, wantVersions: [2]string{"10.11", "11.8"}},
		{name: "ours 11.8 to stock 10.11", donorRoot: chroot, joinerRoot: HostRoot, joinerStock: true, wantVersions: [2]string{"11.8", "10.11"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := New(Options{Dir: dir, Method: "mixtest", Log: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					for _, n := range c.Nodes() {
						if l, err := n.ErrorLog(); err == nil {
							t.Logf("%s error log (SST lines):\n%s", n.Name(), tailLines(grepLines(l, "WSREP_SST", "SST", "ERROR"), 80))
						}
					}
				}
				if err := c.Close(); err != nil {
					t.Error(err)
				}
				if _, err := os.Stat(filepath.Join(chroot, dir)); err == nil {
					t.Errorf("mount point %s left in the chroot", filepath.Join(chroot, dir))
				}
			})
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
			donor := node(tc.donorRoot, tc.donorStock)
			joiner := node(tc.joinerRoot, tc.joinerStock)

			if err := donor.Start(ctx, true); err != nil {
				t.Fatal(err)
			}
			if err := donor.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
			if err := LoadData(ctx, donor, "sbtest", 5000); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			if err := joiner.Start(ctx, false); err != nil {
				t.Fatal(err)
			}
			if err := joiner.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s joined by SST in %v", joiner.Name(), time.Since(t0).Round(time.Millisecond))
			for i, n := range []*Node{donor, joiner} {
				v, err := n.Exec(ctx, "SELECT VERSION()")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(v, tc.wantVersions[i]+".") {
					t.Errorf("%s runs %s, want %s", n.Name(), v, tc.wantVersions[i])
				}
			}
			log, err := joiner.LogSinceStart()
			if err != nil {
				t.Fatal(err)
			}
			if got := StateTransfer(log); got != "SST" {
				t.Errorf("first join: state transfer = %q, want SST", got)
			}
			if got := strings.Contains(log, ourJoinerMark); got == tc.joinerStock {
				t.Errorf("our joiner ran = %v, want %v", got, !tc.joinerStock)
			}
			assertSameData(ctx, t, donor, joiner)

			if err := joiner.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := InsertRows(ctx, donor, "sbtest", 500); err != nil {
				t.Fatal(err)
			}
			if err := joiner.Start(ctx, false); err != nil {
				t.Fatal(err)
			}
			if err := joiner.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
			log, err = joiner.LogSinceStart()
			if err != nil {
				t.Fatal(err)
			}
			if got := StateTransfer(log); got != "IST" {
				t.Errorf("rejoin: state transfer = %q, want IST", got)
			}
			assertSameData(ctx, t, donor, joiner)
		})
	}
}

func tailLines(s string, n int) string { return tail(s, n) }

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
	t.Setenv(ServerRootEnv, "")
	c, err := New(Options{Dir: base, Method: "roottest", ServerRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(root, base)) {
		t.Fatalf("no mount point %s", filepath.Join(root, base))
	}
	n, err := c.AddNode(NodeConfig{Root: HostRoot})
	if err != nil {
		t.Fatal(err)
	}
	if n.Root() != "" {
		t.Errorf("HostRoot node: Root() = %q, want host", n.Root())
	}
	n, err = c.AddNode(NodeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Root() != root || n.mariadbd() != defaultMariadbd {
		t.Errorf("default node: Root() = %q, mariadbd %q; want %q, %q", n.Root(), n.mariadbd(), root, defaultMariadbd)
	}
	cmd := n.command(context.Background(), "mariadb", "-e", "SELECT 1")
	if want := []string{"unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", rootWrapper, "sh", root, base, "mariadb", "-e", "SELECT 1"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("command args = %q, want %q", cmd.Args, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Join(root, base); d != filepath.Join(root, "tmp"); d = filepath.Dir(d) {
		if fileExists(d) {
			t.Errorf("%s left after Close", d)
		}
	}
	if !fileExists(filepath.Join(root, "tmp")) {
		t.Errorf("Close removed the root's own tmp")
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
