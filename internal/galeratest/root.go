package galeratest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A node can run a server installed under another root directory, such as
// the Debian 13 chroot with MariaDB 11.8 that scripts/chroot-118.sh builds,
// while the others run the host's: they share the loopback interface, so
// they form one cluster, which is what a rolling upgrade looks like.
//
// Every program of such a node (mariadbd and so the SST program and
// mariadb-backup it starts, mariadb-install-db, the mariadb client) runs
// through rootWrapper: in a private mount namespace that has /proc, /sys,
// /dev, the host's temporary directory (os.TempDir, where tests keep
// certificates and the like) and the cluster's base directory mounted
// inside the root, at the same paths as outside (a node with a Volume also
// its datadir's mount), then chroot. So the node's paths (datadir, socket,
// option file, bin dir with the SST program) are the same for the test and
// for the node, and the mounts vanish with the process, however it ends.
//
// A mount namespace copies every mount of the host that exists when it is
// made, other nodes' volumes included, and holds them until its last
// process exits; Cluster.Close stops all nodes before it unmounts any.

// ServerRootEnv names the environment variable that gives the default
// server root of a cluster whose Options.ServerRoot is empty: the same
// tests then start every node from that root.
const ServerRootEnv = "SST_SERVER_ROOT"

// HostRoot, as NodeConfig.Root, runs a node from the host even when the
// cluster's server root is another one.
const HostRoot = "/"

// rootWrapper is run by sh as:
//
//	sh -c rootWrapper sh ROOT DIR... -- PROG ARGS...
//
// Each DIR is bind-mounted at the same path inside ROOT. The root is
// bind-mounted on itself first, so that a program inside can use
// "unshare --propagation private" (which needs "/" to be a mount).
const rootWrapper = `set -e
r=$1
shift
mount --bind "$r" "$r"
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"
mount --rbind /dev "$r/dev"
while [ "$1" != -- ]; do
	mount --bind "$1" "$r$1"
	shift
done
shift
exec chroot "$r" "$@"`

// normRoot returns root as an absolute path, "" for the host.
func normRoot(root string) (string, error) {
	if root == "" || root == HostRoot {
		return "", nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("server root: %w", err)
	}
	if abs == "/" {
		return "", nil
	}
	fi, err := os.Stat(filepath.Join(abs, "usr/sbin/mariadbd"))
	if err != nil || fi.IsDir() {
		return "", fmt.Errorf("server root %s has no usr/sbin/mariadbd (build it: scripts/chroot-118.sh build)", abs)
	}
	return abs, nil
}

// commandLine returns the program and arguments that run prog with args for
// node n: as they are on the host, or inside n's root through unshare and
// chroot (prog is then looked up there, on the PATH of the environment).
func (n *Node) commandLine(prog string, args ...string) (string, []string) {
	if n.root == "" {
		return prog, args
	}
	wrapped := []string{"-m", "--propagation", "private", "--", "/bin/sh", "-c", rootWrapper, "sh", n.root}
	wrapped = append(wrapped, n.c.rootBinds()...)
	if n.vol != nil {
		// A plain bind of the base dir leaves out the volume mounted
		// in it; bind the node's own on top.
		wrapped = append(wrapped, n.datadir)
	}
	wrapped = append(wrapped, "--", prog)
	return "unshare", append(wrapped, args...)
}

// rootBinds returns the host directories a node under a server root sees
// at the same path: os.TempDir and the base directory, unless it is inside
// the former.
func (c *Cluster) rootBinds() []string {
	tmp := filepath.Clean(os.TempDir())
	if within(c.dir, tmp) {
		return []string{tmp}
	}
	return []string{tmp, c.dir}
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// mariadbd returns the path of the node's mariadbd (inside its root).
func (n *Node) mariadbd() string {
	if n.root == "" {
		return n.c.mariadbd
	}
	return defaultMariadbd
}

// rootPath returns where a path of n's root is seen from the host.
func (n *Node) rootPath(p string) string {
	if n.root == "" {
		return p
	}
	return filepath.Join(n.root, p)
}

// Root returns the node's server root, "" for the host.
func (n *Node) Root() string { return n.root }

// checkRootMethod checks that the method does not name a script of root,
// which mysqld would find first on PATH.
func (c *Cluster) checkRootMethod(root string) error {
	if root == "" {
		return nil
	}
	if sys := filepath.Join(root, "usr/bin/wsrep_sst_"+c.method); fileExists(sys) {
		return fmt.Errorf("method %q would run %s, not the node's program; pick another name", c.method, sys)
	}
	return nil
}

// prepareRoot checks the method against root (checkRootMethod) and
// creates inside root the mount points of rootBinds that are missing.
func (c *Cluster) prepareRoot(root string) error {
	if root == "" {
		return nil
	}
	if err := c.checkRootMethod(root); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.roots[root]; ok {
		return nil
	}
	var made []string
	for _, b := range c.rootBinds() {
		mnt := filepath.Join(root, b)
		// The topmost directory MkdirAll creates, so that cleanup
		// removes what it made and nothing else.
		top := ""
		for d := mnt; len(d) > len(root); d = filepath.Dir(d) {
			if fileExists(d) {
				break
			}
			top = d
		}
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			return fmt.Errorf("server root %s: %w", root, err)
		}
		if top != "" {
			made = append(made, mnt, top)
		}
	}
	if c.roots == nil {
		c.roots = map[string][]string{}
	}
	c.roots[root] = made
	return nil
}

// removeRootMounts removes the mount points prepareRoot made (empty
// directories, as the mounts live only in the nodes' namespaces), up to
// the topmost one it created.
func (c *Cluster) removeRootMounts() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for root, made := range c.roots {
		// Newest first: a later mount point may sit in a directory an
		// earlier one made.
		for i := len(made) - 2; i >= 0; i -= 2 {
			mnt, top := made[i], made[i+1]
			for d := mnt; len(d) >= len(top); d = filepath.Dir(d) {
				if os.Remove(d) != nil {
					break
				}
			}
		}
		delete(c.roots, root)
	}
}

// AvailableIn is Available for nodes run from root ("" or "/" for the
// host): the server, Galera, the stock scripts and the client programs
// must be inside root, and unshare and chroot on the host, run as root.
func AvailableIn(root string) error {
	r, err := normRoot(root)
	if err != nil {
		return fmt.Errorf("galeratest: %w", err)
	}
	if r == "" {
		return availableHost()
	}
	var missing []string
	for _, p := range []string{"/usr/sbin/mariadbd", galeraLib, stockScript, stockScriptLib,
		"/usr/bin/mariadb-install-db", "/usr/bin/mariadb", "/usr/bin/mariadb-backup",
		"/usr/bin/mbstream", "/usr/bin/socat", "/usr/bin/my_print_defaults",
		// mariadb-install-db needs "localhost" to resolve.
		"/etc/hosts"} {
		if !fileExists(filepath.Join(r, p)) {
			missing = append(missing, filepath.Join(r, p))
		}
	}
	for _, p := range []string{"unshare", "chroot"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p+" (apt-get install util-linux coreutils)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("galeratest: server root %s: missing %s", r, strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return errors.New("galeratest: nodes under a server root need root (unshare -m, mount, chroot)")
	}
	return nil
}
