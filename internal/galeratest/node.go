package galeratest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/proc"
)

// stopBound is how long Stop and Close wait for a clean shutdown before
// they SIGKILL the node's process group.
const stopBound = 90 * time.Second

// NodeConfig describes one node. Exactly one of SSTProgram and StockScript
// should be set; with neither, the node can only be a bootstrap node that
// never donates.
type NodeConfig struct {
	// SSTProgram is a file copied (mode 0755) into the node's private bin
	// directory as wsrep_sst_<method>.
	SSTProgram string
	// StockScript installs /usr/bin/wsrep_sst_mariabackup as
	// wsrep_sst_<method>, with /usr/bin/wsrep_sst_common beside it, instead
	// of SSTProgram.
	StockScript bool
	// Mysqld holds extra option lines for the [mysqld] group, e.g.
	// "log-bin=mysql-bin". Later lines override the defaults.
	Mysqld []string
	// ProviderOptions holds extra wsrep_provider_options entries such as
	// "gcache.size=256M", appended to the base_port and ist.recv_addr ones.
	ProviderOptions []string
	// SST holds extra option lines for the [sst] group.
	SST []string
	// Args holds extra command-line arguments for mariadbd, after
	// --defaults-file and --user. mysqld hands its command line to the SST
	// program after --mysqld-args, so options a server version does not
	// know (given with the loose- prefix) reach the SST program this way,
	// e.g. "--loose-sst-temp-dir=DIR" for a 10.11 node.
	Args []string
	// Env holds extra NAME=value environment entries for mariadbd and so
	// for its SST program (test hooks such as WSREP_SST_TEST_PAUSE_AT).
	Env []string
	// Root is the root directory whose server the node runs (see
	// Options.ServerRoot); "" means the cluster's, HostRoot the host's.
	Root string
	// Volume, if its FS is set, makes the datadir the root of a
	// loop-mounted filesystem of its own (see Volume). AddNode mounts it;
	// changing it later has no effect.
	Volume Volume
}

type nodePorts struct {
	mysql, gcomm, ist, sst int
}

// Node is one mariadbd with the Galera provider. Its methods must not be
// called concurrently with each other.
type Node struct {
	c       *Cluster
	name    string
	cfg     NodeConfig
	root    string // server root, "" for the host
	ports   nodePorts
	dir     string
	datadir string
	bindir  string
	cnf     string
	sock    string
	errlog  string
	// uid and gid own the node's writable directories and run mariadbd;
	// noUser for root.
	uid, gid int
	vol      *volume // nil without a Volume

	// sstUserDue is set by a bootstrap Start of a cluster with a User:
	// the next WaitSynced creates the SST user.
	sstUserDue bool

	// Set by Start, cleared when the process has been waited for.
	p        *proc.Process
	logStart int64 // error log size when Start was called
}

// AddNode allocates ports and directories for a new node, installs its SST
// program and returns it, not started. The node's option file is written by
// Start, so that its gcomm address lists every node added by then.
func (c *Cluster) AddNode(cfg NodeConfig) (*Node, error) {
	root := c.root
	if cfg.Root != "" {
		r, err := normRoot(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("galeratest: add node: %w", err)
		}
		root = r
	}
	if err := c.prepareRoot(root); err != nil {
		return nil, fmt.Errorf("galeratest: add node: %w", err)
	}
	uid, gid, err := c.nodeUser(root)
	if err != nil {
		return nil, fmt.Errorf("galeratest: add node: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, fmt.Errorf("galeratest: add node: %w", err)
	}
	c.mu.Lock()
	name := fmt.Sprintf("node%d", len(c.nodes)+1)
	dir := filepath.Join(c.dir, name)
	n := &Node{
		c:       c,
		name:    name,
		cfg:     cfg,
		root:    root,
		ports:   nodePorts{mysql: ports[0], gcomm: ports[1], ist: ports[2], sst: ports[3]},
		dir:     dir,
		datadir: filepath.Join(dir, "data"),
		bindir:  filepath.Join(dir, "bin"),
		cnf:     filepath.Join(dir, "my.cnf"),
		// A unix socket path is limited to 108 bytes; t.TempDir() paths
		// are long, so keep the name short.
		sock:   filepath.Join(dir, "s"),
		errlog: filepath.Join(dir, "error.log"),
		uid:    uid,
		gid:    gid,
	}
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()

	for _, d := range []string{n.datadir, n.bindir, n.logArchiveDir(), n.tmpdir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("galeratest: add %s: %w", name, err)
		}
	}
	if len(n.sock) >= 108 {
		return nil, fmt.Errorf("galeratest: add %s: socket path %s too long; use a shorter base dir", name, n.sock)
	}
	if cfg.Volume.FS != "" {
		// Close unmounts it: the node is in c.nodes already.
		if err := n.mountVolume(); err != nil {
			return nil, fmt.Errorf("galeratest: add %s: %w", name, err)
		}
	}
	if err := n.chownDirs(); err != nil {
		return nil, fmt.Errorf("galeratest: add %s: %w", name, err)
	}
	if err := n.installSST(); err != nil {
		return nil, fmt.Errorf("galeratest: add %s: %w", name, err)
	}
	c.log("%s: mysql port %d, gcomm %d, ist %d, sst %d, dir %s", name, n.ports.mysql, n.ports.gcomm, n.ports.ist, n.ports.sst, dir)
	if root != "" {
		c.log("%s: server root %s", name, root)
	}
	return n, nil
}

func (n *Node) logArchiveDir() string { return filepath.Join(n.dir, "sst_log_archive") }
func (n *Node) tmpdir() string        { return filepath.Join(n.dir, "tmp") }

func (n *Node) installSST() error {
	switch {
	case n.cfg.StockScript:
		return n.InstallSST("")
	case n.cfg.SSTProgram != "":
		return n.InstallSST(n.cfg.SSTProgram)
	}
	return nil
}

// InstallSST replaces the node's wsrep_sst_<method> with program, or with
// the stock script (and wsrep_sst_common beside it) if program is "", the
// one of the node's server root. The
// file is swapped by rename, so it is safe while the node runs: mysqld looks
// the program up again for every transfer, as donor and as joiner.
func (n *Node) InstallSST(program string) error {
	dst := filepath.Join(n.bindir, "wsrep_sst_"+n.c.method)
	if program == "" {
		if err := installFile(n.rootPath(stockScriptLib), filepath.Join(n.bindir, "wsrep_sst_common")); err != nil {
			return fmt.Errorf("galeratest: %s: %w", n.name, err)
		}
		program = n.rootPath(stockScript)
	}
	if err := installFile(program, dst); err != nil {
		return fmt.Errorf("galeratest: %s: %w", n.name, err)
	}
	return nil
}

// installFile copies src to dst with mode 0755 through a temporary file and
// a rename.
func installFile(src, dst string) error {
	tmp := dst + ".new"
	if err := copyFile(src, tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	return nil
}

// WipeDatadir empties the datadir of a stopped node, so that its next Start
// as a joiner needs a full SST. On a Volume it keeps the mount and the
// lost+found that mkfs made, so that the datadir looks as a fresh volume's
// does.
func (n *Node) WipeDatadir() error {
	if n.Running() {
		return fmt.Errorf("galeratest: wipe %s: node is running", n.name)
	}
	entries, err := os.ReadDir(n.datadir)
	if err != nil {
		return fmt.Errorf("galeratest: wipe %s: %w", n.name, err)
	}
	for _, e := range entries {
		if n.vol != nil && e.Name() == "lost+found" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(n.datadir, e.Name())); err != nil {
			return fmt.Errorf("galeratest: wipe %s: %w", n.name, err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("install %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	return os.Chmod(dst, mode)
}

// Name returns the node's name, "node1", "node2", ...
func (n *Node) Name() string { return n.name }

// Dir returns the node's own directory (datadir, bin dir, logs beneath it).
func (n *Node) Dir() string { return n.dir }

// Datadir returns the node's data directory.
func (n *Node) Datadir() string { return n.datadir }

// BinDir returns the directory put first on the node's PATH, holding
// wsrep_sst_<method>.
func (n *Node) BinDir() string { return n.bindir }

// DefaultsFile returns the path of the node's option file.
func (n *Node) DefaultsFile() string { return n.cnf }

// Socket returns the node's unix socket path.
func (n *Node) Socket() string { return n.sock }

// Port returns the node's MySQL TCP port.
func (n *Node) Port() int { return n.ports.mysql }

// SSTAddress returns the node's wsrep_sst_receive_address.
func (n *Node) SSTAddress() string { return fmt.Sprintf("127.0.0.1:%d", n.ports.sst) }

// SSTLogArchiveDir returns the node's [sst] sst-log-archive-dir.
func (n *Node) SSTLogArchiveDir() string { return n.logArchiveDir() }

// ErrorLogPath returns the path of the node's error log, which also holds
// the SST program's stderr.
func (n *Node) ErrorLogPath() string { return n.errlog }

// writeConfig writes the node's option file.
func (n *Node) writeConfig() error {
	if err := os.WriteFile(n.cnf, []byte(n.configText()), 0o644); err != nil {
		return fmt.Errorf("write option file: %w", err)
	}
	return nil
}

// configText returns the contents of the node's option file.
func (n *Node) configText() string {
	provider := []string{
		fmt.Sprintf("base_port=%d", n.ports.gcomm),
		// Galera's IST port defaults to base_port+1, which may be the next
		// node's gcomm port; see GALERA-TESTING.md.
		fmt.Sprintf("ist.recv_addr=127.0.0.1:%d", n.ports.ist),
	}
	provider = append(provider, n.cfg.ProviderOptions...)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("[mysqld]")
	line("datadir=%s", n.datadir)
	line("socket=%s", n.sock)
	line("port=%d", n.ports.mysql)
	line("bind-address=127.0.0.1")
	line("pid-file=%s", filepath.Join(n.dir, "mariadbd.pid"))
	line("log-error=%s", n.errlog)
	line("tmpdir=%s", n.tmpdir())
	line("skip-name-resolve")
	line("default_storage_engine=InnoDB")
	line("binlog_format=ROW")
	line("innodb_autoinc_lock_mode=2")
	line("innodb_buffer_pool_size=128M")
	line("innodb_log_file_size=96M")
	// The default of 200 makes flushing after bulk loads (and so the
	// donor's backup) slow and erratic; see GALERA-TESTING.md.
	line("innodb_io_capacity=4000")
	line("innodb_io_capacity_max=8000")
	line("innodb_flush_log_at_trx_commit=2")
	line("wsrep_on=ON")
	line("wsrep_provider=%s", galeraLib)
	line("wsrep_cluster_name=galeratest")
	line("wsrep_cluster_address=%s", n.c.gcommAddress())
	line("wsrep_provider_options='%s'", strings.Join(provider, ";"))
	line("wsrep_node_name=%s", n.name)
	line("wsrep_node_address=127.0.0.1:%d", n.ports.gcomm)
	line("wsrep_sst_receive_address=%s", n.SSTAddress())
	line("wsrep_sst_method=%s", n.c.method)
	if n.c.user != "" {
		// The passwordless SST user WaitSynced creates (sstUserSQL).
		line("wsrep_sst_auth=%s:", n.c.user)
	}
	for _, l := range n.cfg.Mysqld {
		line("%s", l)
	}
	line("")
	line("[sst]")
	line("sst-log-archive-dir=%s", n.logArchiveDir())
	for _, l := range n.cfg.SST {
		line("%s", l)
	}
	return b.String()
}

// Running reports whether the node's mariadbd process has been started and
// has not exited.
func (n *Node) Running() bool {
	if n.p == nil {
		return false
	}
	select {
	case <-n.p.Done():
		return false
	default:
		return true
	}
}

// Start writes the node's option file and starts mariadbd in the
// background. With bootstrap it passes --wsrep-new-cluster and, if the
// datadir holds no system tables yet, first initialises it with
// mariadb-install-db. A joiner starts with whatever its datadir holds (empty
// on the first start) and gets the rest by SST or IST.
//
// ctx bounds only the preparation; the process runs until Stop, Kill or
// Cluster.Close. mariadbd gets its own process group, so Kill also reaches
// the SST program and its children, and is SIGKILLed if this process dies.
// Start does not wait for the node to be ready; call WaitSynced.
func (n *Node) Start(ctx context.Context, bootstrap bool) error {
	if n.Running() {
		return fmt.Errorf("galeratest: start %s: already running", n.name)
	}
	if n.p != nil {
		// The previous run ended by itself; kill any helper it left.
		n.reap()
	}
	if err := n.writeConfig(); err != nil {
		return fmt.Errorf("galeratest: start %s: %w", n.name, err)
	}
	if bootstrap {
		if _, err := os.Stat(filepath.Join(n.datadir, "mysql")); errors.Is(err, os.ErrNotExist) {
			if err := n.installDB(ctx); err != nil {
				return fmt.Errorf("galeratest: start %s: %w", n.name, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("galeratest: start %s: %w", n.name, err)
	}
	if fi, err := os.Stat(n.errlog); err == nil {
		n.logStart = fi.Size()
	} else {
		n.logStart = 0
	}

	args := []string{"--defaults-file=" + n.cnf, "--user=" + n.user()}
	args = append(args, n.cfg.Args...)
	if bootstrap {
		args = append(args, "--wsrep-new-cluster")
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "mariadbd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("galeratest: start %s: %w", n.name, err)
	}
	// proc starts mariadbd in its own process group, with Pdeathsig from
	// a thread that lives until mariadbd has exited (golang/go#27505).
	path, args := n.commandLine(n.mariadbd(), args...)
	p, err := proc.Start(context.WithoutCancel(ctx), proc.Cmd{
		Name: "mariadbd", Path: path, Args: args, Dir: n.dir, Env: n.env(),
		Stdout: out, Stderr: out, WaitDelay: stopBound,
	})
	_ = out.Close() // mariadbd has its own copy
	if err != nil {
		return fmt.Errorf("galeratest: start %s: %w", n.name, err)
	}
	n.p = p
	n.sstUserDue = bootstrap && n.c.user != ""
	mode := "joiner"
	if bootstrap {
		mode = "bootstrap"
	}
	n.c.log("%s: started mariadbd pid %d (%s)", n.name, p.Pid(), mode)
	return nil
}

// user returns the system user mariadbd runs as.
func (n *Node) user() string {
	if n.c.user == "" {
		return "root"
	}
	return n.c.user
}

// env returns the environment for mariadbd: ours, with the node's bin dir
// first on PATH and the sbin directories present so that helper lookups work
// for a non-root PATH too.
func (n *Node) env() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d
		}
	}
	env := []string{"PATH=" + n.bindir + ":" + path}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, n.cfg.Env...)
}

func (n *Node) installDB(ctx context.Context) error {
	t0 := time.Now()
	var out bytes.Buffer
	path, args := n.commandLine("mariadb-install-db",
		"--no-defaults",
		"--datadir="+n.datadir,
		"--user="+n.user(),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
	)
	err := proc.Run(ctx, proc.Cmd{Name: "mariadb-install-db", Path: path, Args: args, Env: n.env(), Stdout: &out, Stderr: &out})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tail(out.String(), 20))
	}
	n.c.log("%s: initialised datadir in %v", n.name, time.Since(t0).Round(time.Millisecond))
	return nil
}

// WaitSynced polls wsrep_local_state_comment until it is "Synced". It fails
// early, with the tail of the error log, if mariadbd exits, and with the
// last state seen if ctx ends first. After a bootstrap Start of a cluster
// with Options.User it then creates the SST user (see Options.User).
func (n *Node) WaitSynced(ctx context.Context) error {
	if n.p == nil {
		return fmt.Errorf("galeratest: wait %s: not started", n.name)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		state, err := n.Exec(qctx, "SHOW STATUS LIKE 'wsrep_local_state_comment'")
		cancel()
		if err == nil {
			_, v, _ := strings.Cut(state, "\t")
			if v != last {
				n.c.log("%s: wsrep_local_state_comment=%s", n.name, v)
				last = v
			}
			if v == "Synced" {
				return n.createSSTUser(ctx)
			}
		}
		select {
		case <-n.p.Done():
			return fmt.Errorf("galeratest: wait %s: mariadbd exited (%w); error log ends:\n%s%s", n.name, n.p.Wait(), n.logTail(40), n.outTail())
		case <-ctx.Done():
			return fmt.Errorf("galeratest: wait %s: last state %q: %w; error log ends:\n%s", n.name, last, ctx.Err(), n.logTail(40))
		case <-tick.C:
		}
	}
}

// createSSTUser creates the SST user if a bootstrap Start asked for it.
func (n *Node) createSSTUser(ctx context.Context) error {
	if !n.sstUserDue {
		return nil
	}
	if _, err := n.Exec(ctx, sstUserSQL(n.c.user)); err != nil {
		return fmt.Errorf("galeratest: create SST user: %w", err)
	}
	n.sstUserDue = false
	n.c.log("%s: SST user '%s'@'localhost' (unix_socket) created", n.name, n.c.user)
	return nil
}

// Exec runs sql (one or more statements) through the mariadb client over
// the node's socket as root, in batch mode without column names, and
// returns its standard output without the final newline. The error carries
// the client's stderr.
func (n *Node) Exec(ctx context.Context, sql string) (string, error) {
	var stdout bytes.Buffer
	path, args := n.commandLine("mariadb", "--no-defaults", "-S", n.sock, "-uroot",
		"--connect-timeout=5", "-N", "-B", "-e", sql)
	err := proc.Run(ctx, proc.Cmd{Name: "mariadb", Path: path, Args: args, Env: os.Environ(), Stdout: &stdout})
	if err != nil {
		// The *proc.ExitError quotes the client's stderr.
		return "", fmt.Errorf("galeratest: %s: %w", n.name, err)
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// Stop shuts the node down cleanly: SIGTERM to mariadbd, then a wait until
// it exits, ctx ends or the stop bound (90 s) passes, after which the whole
// process group is SIGKILLed and an error returned. Any SST helper left in
// the group is killed as well. Stopping a node that is not running is a
// no-op.
func (n *Node) Stop(ctx context.Context) error {
	if err := n.stop(ctx); err != nil {
		return fmt.Errorf("galeratest: stop %s: %w", n.name, err)
	}
	return nil
}

func (n *Node) stop(ctx context.Context) error {
	if n.p == nil {
		return nil
	}
	defer n.reap()
	select {
	case <-n.p.Done():
		return nil
	default:
	}
	t0 := time.Now()
	// mariadbd alone, not its group: it stops its SST program itself.
	if err := n.p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	timer := time.NewTimer(stopBound)
	defer timer.Stop()
	var err error
	select {
	case <-n.p.Done():
		n.c.log("%s: stopped in %v", n.name, time.Since(t0).Round(time.Millisecond))
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("not stopped (%w); killed", ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("not stopped within %v; killed", stopBound)
	}
	n.p.Kill()
	<-n.p.Done()
	return err
}

// reap forgets the process once mariadbd has exited; proc has already
// killed what was left of its process group (an SST helper that outlived
// it).
func (n *Node) reap() {
	select {
	case <-n.p.Done():
		n.p = nil
	default:
	}
}

// Kill SIGKILLs the node's whole process group (mariadbd and any SST
// program) and waits for mariadbd to exit: a crash, for tests of recovery.
func (n *Node) Kill() error {
	if n.p == nil {
		return nil
	}
	n.p.Kill()
	<-n.p.Done()
	n.reap()
	n.c.log("%s: killed", n.name)
	return nil
}

// ErrorLog returns the node's whole error log.
func (n *Node) ErrorLog() (string, error) {
	b, err := os.ReadFile(n.errlog)
	if err != nil {
		return "", fmt.Errorf("galeratest: %s: read error log: %w", n.name, err)
	}
	return string(b), nil
}

// LogSinceStart returns the part of the error log written since the last
// Start, i.e. the log of the current (or last) run only.
func (n *Node) LogSinceStart() (string, error) {
	s, err := n.ErrorLog()
	if err != nil {
		return "", err
	}
	if int64(len(s)) < n.logStart {
		return s, nil
	}
	return s[n.logStart:], nil
}

func (n *Node) logTail(lines int) string {
	s, err := n.LogSinceStart()
	if err != nil {
		return err.Error()
	}
	return tail(s, lines)
}

// outTail returns the tail of mariadbd's own stdout and stderr, where
// errors land that happen before the error log is opened, or "" if empty.
func (n *Node) outTail() string {
	b, err := os.ReadFile(filepath.Join(n.dir, "mariadbd.out"))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	return "\nmariadbd stdout/stderr ends:\n" + tail(string(b), 20)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
