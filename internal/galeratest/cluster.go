package galeratest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Paths of the system files a cluster needs, where the Debian packages
// install them.
const (
	galeraLib       = "/usr/lib/galera/libgalera_smm.so"
	stockScript     = "/usr/bin/wsrep_sst_mariabackup"
	stockScriptLib  = "/usr/bin/wsrep_sst_common"
	defaultMariadbd = "/usr/sbin/mariadbd"
)

var methodRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Options configures a Cluster.
type Options struct {
	// Dir is the base directory for all node directories. It must exist;
	// the caller owns it (t.TempDir() or os.MkdirTemp) and removes it after
	// Cluster.Close.
	Dir string
	// Method is the wsrep_sst_method of every node, e.g. "gotest". It must
	// match [A-Za-z0-9._-] and must not name a system script such as
	// "mariabackup" or "rsync": mysqld would find /usr/bin/wsrep_sst_<method>
	// first on PATH.
	Method string
	// Log receives progress messages; nil discards them.
	Log func(format string, args ...any)
	// ServerRoot is the root directory (a chroot such as the MariaDB 11.8
	// one of scripts/chroot-118.sh) whose server every node runs unless
	// its NodeConfig.Root says otherwise; "" means $SST_SERVER_ROOT, and
	// that unset or "/" means the host's.
	ServerRoot string
	// User is the system user every node's mariadbd runs as (--user), and
	// so its SST program: "mysql" is how packaged servers run. "" runs
	// them as root, as before. With a user, New and AddNode fail unless it
	// is in the /etc/passwd of the node's server root (the mysql user
	// exists once mariadb-server is installed; it is never created here),
	// its uid there owns each node's directory, datadir, tmpdir and SST
	// log archive dir, and the base dir is made traversable for it (see
	// New). Every node's [mysqld] gets wsrep_sst_auth=<User>: and the
	// first WaitSynced after a bootstrap Start creates that passwordless
	// SST user (IDENTIFIED VIA unix_socket, with the grants the SST needs)
	// through Exec; joiners get it by SST. "root" is refused: leave it
	// empty.
	User string
}

// Cluster is a set of Galera nodes sharing one base directory and one
// cluster address list. Its methods are safe for concurrent use; the nodes'
// methods are not meant to be called concurrently on the same node.
type Cluster struct {
	dir      string
	method   string
	log      func(format string, args ...any)
	mariadbd string
	root     string // default server root of the nodes, "" for the host
	user     string // Options.User

	mu    sync.Mutex
	nodes []*Node
	roots map[string][]string // server root -> pairs of mount point, topmost dir made for it
}

// New checks opts and returns an empty cluster. It starts nothing. With
// Options.User, it makes the base dir and those of its ancestors that lie
// below os.TempDir() searchable for that user where they are not (Go makes
// t.TempDir() and its parent 0700), and fails naming any other ancestor
// that is not.
func New(opts Options) (*Cluster, error) {
	if !methodRE.MatchString(opts.Method) {
		return nil, fmt.Errorf("galeratest: invalid SST method name %q", opts.Method)
	}
	if err := checkUserName(opts.User); err != nil {
		return nil, fmt.Errorf("galeratest: %w", err)
	}
	// mysqld puts its own bin dir (/usr/bin) first on PATH, so a system
	// program of the same name would always win over the node's.
	if sys := "/usr/bin/wsrep_sst_" + opts.Method; fileExists(sys) {
		return nil, fmt.Errorf("galeratest: method %q would run %s, not the node's program; pick another name", opts.Method, sys)
	}
	fi, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("galeratest: base dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("galeratest: base dir %s is not a directory", opts.Dir)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("galeratest: base dir: %w", err)
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rootOpt := opts.ServerRoot
	if rootOpt == "" {
		rootOpt = os.Getenv(ServerRootEnv)
	}
	root, err := normRoot(rootOpt)
	if err != nil {
		return nil, fmt.Errorf("galeratest: %w", err)
	}
	c := &Cluster{dir: dir, method: opts.Method, log: logf, mariadbd: mariadbdPath(), root: root, user: opts.User}
	// The mount points are made by AddNode, so that a cluster that is
	// never closed leaves none.
	if err := c.checkRootMethod(root); err != nil {
		return nil, fmt.Errorf("galeratest: %w", err)
	}
	if _, _, err := c.nodeUser(root); err != nil {
		return nil, fmt.Errorf("galeratest: %w", err)
	}
	return c, nil
}

// nodeUser returns the uid and gid of the cluster's user for a node run
// from root, noUser for root, after making the base dir reachable for it.
func (c *Cluster) nodeUser(root string) (uid, gid int, err error) {
	if c.user == "" {
		return noUser, noUser, nil
	}
	uid, gid, err = lookupUser(root, c.user)
	if err != nil {
		return 0, 0, err
	}
	if err := makeTraversable(c.dir, uid, gid, c.log); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// Method returns the cluster's wsrep_sst_method.
func (c *Cluster) Method() string { return c.method }

// Nodes returns the nodes added so far, in order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Close stops every running node: a clean shutdown first, SIGKILL of the
// node's process group if that does not finish within the stop bound.
// Then it unmounts the nodes' datadir volumes (lazily if a plain unmount
// fails, which is reported), which detaches their loop devices. It returns
// the errors of all nodes joined; afterwards no process started by the
// cluster is left running and nothing is mounted on its directories.
func (c *Cluster) Close() error {
	var errs []error
	nodes := c.Nodes()
	for _, n := range nodes {
		if err := n.stop(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		}
	}
	for _, n := range nodes {
		if err := n.unmountVolume(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		}
	}
	c.removeRootMounts()
	return errors.Join(errs...)
}

// gcommAddress returns gcomm://host:port,... listing every node added so far.
func (c *Cluster) gcommAddress() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", n.ports.gcomm)
	}
	return "gcomm://" + strings.Join(addrs, ",")
}

// Available reports whether the programs and libraries a cluster needs are
// installed, on the host or, with $SST_SERVER_ROOT set, in that root (see
// AvailableIn). It returns nil, or an error naming every missing file and
// the Debian package that provides it.
func Available() error {
	if root := os.Getenv(ServerRootEnv); root != "" && root != HostRoot {
		return AvailableIn(root)
	}
	return availableHost()
}

func availableHost() error {
	type need struct{ file, pkg string }
	var missing []string
	check := func(path, pkg string) {
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", path, pkg))
		}
	}
	lookup := func(prog, pkg string) {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", prog, pkg))
		}
	}
	check(mariadbdPath(), "mariadb-server")
	check(galeraLib, "galera-4")
	check(stockScript, "mariadb-server")
	check(stockScriptLib, "mariadb-server")
	for _, n := range []need{
		{"mariadb-install-db", "mariadb-server"},
		{"mariadb", "mariadb-client"},
		{"mariadb-backup", "mariadb-backup"},
		{"mbstream", "mariadb-backup"},
		{"socat", "socat"},
		{"my_print_defaults", "mariadb-server"},
	} {
		lookup(n.file, n.pkg)
	}
	if len(missing) > 0 {
		return fmt.Errorf("galeratest: missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mariadbdPath finds mariadbd on PATH, falling back to /usr/sbin, which is
// often not on a non-root PATH.
func mariadbdPath() string {
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	return defaultMariadbd
}
