package operator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/proc"
	"wsrep_sst_mariabackup/internal/sst"
	"wsrep_sst_mariabackup/internal/ui"
	"wsrep_sst_mariabackup/internal/xfer"
)

// DefaultSSTPort is the port a manual receive listens on without --listen
// (the script's default, WSREP_SST_OPT_PORT).
const DefaultSSTPort = "4444"

// Params are the inputs of Receive and Send.
type Params struct {
	// Program is argv[0] (its base name gives the SST method name).
	Program string
	// Datadir is the joiner's datadir (receive, required) or the donor's
	// (send; "" means [mysqld] datadir from the option files).
	Datadir string
	// Listen is the receive address, ADDR[:PORT]; "" means the option
	// files' wsrep_sst_receive_address, else all interfaces, port 4444.
	Listen string
	// To is the joiner's HOST:PORT (send, required).
	To string
	// DefaultsFile is --defaults-file, "" for the default search.
	DefaultsFile string
	// Socket is the donor server's socket; "" means [mysqld] socket.
	Socket string
	// Search, when non-nil, replaces the option-file search list (tests).
	Search []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Log receives the log lines; Redact (may be nil) learns secrets.
	Log    *slog.Logger
	Redact sst.Secrets
	// Notice receives the lines an operator must read unredacted (the
	// command to run on the donor, which may carry the joiner's secret);
	// nil means Log.
	Notice io.Writer
	// AsOwner makes Receive and Send run as the datadir's owner (mysqld's
	// user on a packaged node) when started as root: they drop to that
	// user's uid, gid and groups before anything touches the datadir, as
	// an SST mysqld starts would run. So nothing planted in the datadir
	// (a symbolic link at a file we write) can make root write elsewhere,
	// and an SST user IDENTIFIED VIA unix_socket logs in. The whole
	// process changes user: only the receive and send commands set it.
	AsOwner bool
	// Progress, when non-nil, draws the data stage's progress (a
	// terminal); otherwise the option files' progress setting applies.
	Progress *ui.ProgressBar
}

// Position is a Galera position: the cluster state UUID and a seqno.
type Position struct {
	UUID  string
	Seqno int64
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.UUID, p.Seqno) }

// ParsePosition parses "uuid:seqno" as the first field of a galera info
// line ("uuid:seqno [domain ...]").
func ParsePosition(s string) (Position, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Position{}, errors.New("empty position")
	}
	i := strings.LastIndexByte(f[0], ':')
	if i < 0 {
		return Position{}, fmt.Errorf("position %q is not uuid:seqno", f[0])
	}
	uuid, seq := f[0][:i], f[0][i+1:]
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || !validUUID(uuid) {
		return Position{}, fmt.Errorf("position %q is not uuid:seqno", f[0])
	}
	return Position{UUID: uuid, Seqno: n}, nil
}

// validUUID checks the 8-4-4-4-12 hex shape of a cluster state UUID.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func (p *Params) getenv(k string) string {
	if p.Getenv != nil {
		return p.Getenv(k)
	}
	return os.Getenv(k)
}

func (p *Params) notice(line string) {
	if p.Notice != nil {
		fmt.Fprintln(p.Notice, line)
		return
	}
	p.Log.Info(line)
}

func (p *Params) load(ctx context.Context, m config.Manual, getenv func(string) string) (*config.Config, error) {
	cfg, err := m.Load(ctx, config.LoadParams{Program: p.Program, Search: p.Search, Getenv: getenv, Secrets: p.Redact})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		p.Log.Warn(w)
	}
	return cfg, nil
}

// Receive is the joiner of a manual SST: it refuses a datadir a running
// server holds, runs the joiner flow (keep-the-datadir, prepare, move
// back), gives every file to the owner of the datadir, and writes
// grastate.dat with the position of the received backup. It returns that
// position; errors carry an exit code (see ExitCode).
func Receive(ctx context.Context, p Params) (Position, error) {
	if p.Datadir == "" {
		return Position{}, sst.Errorf(sst.ExitInvalid, "receive: --datadir is required")
	}
	datadir, err := filepath.Abs(p.Datadir)
	if err != nil {
		return Position{}, sst.Errorf(sst.ExitInvalid, "receive: --datadir: %w", err)
	}
	listen := p.Listen
	if listen == "" {
		if listen, err = defaultListen(p); err != nil {
			return Position{}, err
		}
	}
	if err := checkListen(listen); err != nil {
		return Position{}, err
	}
	if pid, locked := lockedBy(filepath.Join(datadir, "ibdata1")); locked {
		return Position{}, sst.Errorf(sst.ExitAlready, "a server (pid %d) is running on %s: stop it before receiving into its datadir", pid, datadir)
	}
	uid, gid, err := ownerOf(datadir)
	if err != nil {
		return Position{}, sst.Errorf(sst.ExitNoEnt, "receive: %w", err)
	}
	if p.AsOwner && os.Geteuid() == 0 && uid > 0 {
		if err := dropPrivileges(uid, gid); err != nil {
			return Position{}, sst.Errorf(sst.ExitGeneric, "receive: run as the owner of %s (uid %d gid %d): %w", datadir, uid, gid, err)
		}
		p.Log.Info(fmt.Sprintf("Running as the owner of %s (uid %d gid %d), as the server's SST would", datadir, uid, gid))
	}
	m := config.Manual{Role: "joiner", Address: listen, Datadir: datadir, DefaultsFile: p.DefaultsFile, Progress: p.Progress != nil}
	cfg, err := p.load(ctx, m, p.getenv)
	if err != nil {
		return Position{}, err
	}
	var final string
	ev := p.progressEvents()
	ev.Ready = func(addr string) { p.notice(readyNotice(addr, cfg.Args)) }
	ev.Position = func(pos string) { final = pos }
	err = sst.Run(ctx, sst.Params{Config: cfg, Stdout: io.Discard, Log: p.Log, Redact: p.Redact, Events: ev})
	p.Progress.Finish()
	if err != nil {
		return Position{}, err
	}
	// The backup's own galera info (mariadb-backup --galera-info, taken
	// while commits were blocked) is the position the data is at; the
	// donor's --gtid is only when the send started.
	pos, src, err := backupPosition(datadir, final)
	if err != nil {
		return Position{}, err
	}
	p.Log.Info(fmt.Sprintf("Position of the received data (%s): %s", src, pos))
	if err := chownTree(datadir, uid, gid); err != nil {
		return Position{}, sst.Errorf(sst.ExitGeneric, "give %s to uid %d gid %d: %w", datadir, uid, gid, err)
	}
	if err := writeGrastate(datadir, pos, uid, gid); err != nil {
		return Position{}, sst.Errorf(sst.ExitNoEnt, "write grastate.dat: %w", err)
	}
	p.Log.Info(fmt.Sprintf("Wrote %s (seqno %d, safe_to_bootstrap: 0): start the server; it joins the cluster with IST", filepath.Join(datadir, "grastate.dat"), pos.Seqno))
	return pos, nil
}

// defaultListen is where receive listens without --listen: the node's
// wsrep_sst_receive_address, as for an SST mysqld starts, unless it is
// unset or AUTO; then all interfaces, port 4444.
func defaultListen(p Params) (string, error) {
	files, err := config.ReadOptionFiles(config.Files{DefaultsFile: p.DefaultsFile, Search: p.Search})
	if err != nil {
		return "", sst.WithCode(sst.ExitNoEnt, err)
	}
	if o, ok := files.Lookup("--mysqld", "wsrep-sst-receive-address"); ok && !strings.EqualFold(o.Value, "AUTO") {
		return o.Value, nil
	}
	return "0.0.0.0:" + DefaultSSTPort, nil
}

// checkListen refuses an address the joiner flow would misread.
func checkListen(listen string) error {
	if strings.ContainsAny(listen, "/@ ") {
		return sst.Errorf(sst.ExitInvalid, "receive: --listen %q: want ADDR[:PORT]", listen)
	}
	host, port := listen, ""
	if strings.HasPrefix(listen, "[") {
		i := strings.Index(listen, "]")
		if i < 0 {
			return sst.Errorf(sst.ExitInvalid, "receive: --listen %q: unclosed '['", listen)
		}
		host, port = listen[:i+1], strings.TrimPrefix(listen[i+1:], ":")
	} else if strings.Count(listen, ":") == 1 {
		host, port, _ = strings.Cut(listen, ":")
	}
	if host == "" {
		return sst.Errorf(sst.ExitInvalid, "receive: --listen %q: no address (use 0.0.0.0:PORT for all interfaces)", listen)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return sst.Errorf(sst.ExitInvalid, "receive: --listen %q: port must be 1-65535", listen)
		}
	}
	return nil
}

// readyNotice tells the operator what to run on the donor. With ssl-mode
// VERIFY_* the joiner's address carries "cn:secret@", which the donor
// must echo: it goes through the environment, not argv.
func readyNotice(addr string, a *config.Args) string {
	addr, _, _ = strings.Cut(addr, "/")
	auth, hostport, ok := strings.Cut(addr, "@")
	if !ok {
		hostport, auth = addr, ""
	}
	if strings.HasPrefix(hostport, "0.0.0.0:") || strings.HasPrefix(hostport, "[::]:") {
		hostport = "<this host>:" + a.Port
	}
	cmd := "wsrep_sst_mariabackup send --to " + hostport
	if auth != "" {
		cmd = "WSREP_SST_OPT_REMOTE_AUTH='" + auth + "' " + cmd
	}
	return "WSREP_SST: [INFO] Waiting for the donor: on the donor node run  " + cmd
}

// backupPosition reads the galera info file of the received backup, and
// falls back on the joiner's final line.
func backupPosition(datadir, final string) (Position, string, error) {
	if f, line, err := sst.GaleraInfo(datadir); err == nil {
		pos, err := ParsePosition(line)
		if err != nil {
			return Position{}, "", sst.Errorf(sst.ExitPipe, "%s: %w", f, err)
		}
		return pos, filepath.Base(f), nil
	}
	pos, err := ParsePosition(final)
	if err != nil {
		return Position{}, "", sst.Errorf(sst.ExitPipe, "no galera info in the received data and no position from the donor: %w", err)
	}
	return pos, "from the donor", nil
}

// lockedBy reports whether a process holds an fcntl lock on path (a
// running server's InnoDB locks its system tablespace this way) and its
// pid (-1 for an open-file-description lock, which has no owner pid).
func lockedBy(path string) (pid int, locked bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil || lk.Type == syscall.F_UNLCK {
		return 0, false
	}
	return int(lk.Pid), true
}

// ownerOf returns the owner of dir, or of its nearest existing parent
// when dir does not exist yet.
func ownerOf(dir string) (uid, gid int, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			uid, gid = statOwner(fi)
			return uid, gid, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			return 0, 0, fmt.Errorf("owner of %s: %w", dir, err)
		}
	}
}

// statOwner returns the uid and gid of a file (-1, -1 where the system
// gives none).
func statOwner(fi os.FileInfo) (uid, gid int) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1
	}
	return int(st.Uid), int(st.Gid)
}

// chownTree is chown -R uid:gid dir (symbolic links themselves, not
// their targets).
func chownTree(dir string, uid, gid int) error {
	if os.Geteuid() != 0 && os.Geteuid() == uid {
		return nil // ours already; only root could give them away
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// writeGrastate writes grastate.dat as Galera saves it, atomically.
func writeGrastate(datadir string, pos Position, uid, gid int) error {
	content := fmt.Sprintf("# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %d\nsafe_to_bootstrap: 0\n", pos.UUID, pos.Seqno)
	path := filepath.Join(datadir, "grastate.dat")
	tmp := path + ".tmp"
	// A stale temporary file goes first (a symbolic link is removed, not
	// followed); the new one must be ours: O_EXCL|O_NOFOLLOW.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o660)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil && os.Geteuid() == 0 {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(datadir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Send is the donor of a manual SST: it reads the server's datadir and
// socket from the option files (unless given), asks the server for its
// position, and runs the donor flow to the joiner at p.To. The SST user
// is WSREP_SST_OPT_AUTH, else [mysqld] wsrep_sst_auth, else [sst]
// wsrep-sst-auth, as for mysqld's SST.
func Send(ctx context.Context, p Params) error {
	if p.To == "" {
		return sst.Errorf(sst.ExitInvalid, "send: --to HOST:PORT is required")
	}
	if strings.ContainsAny(p.To, "/@ ") || !strings.Contains(p.To, ":") {
		return sst.Errorf(sst.ExitInvalid, "send: --to %q: want HOST:PORT, as receive printed it", p.To)
	}
	files, err := config.ReadOptionFiles(config.Files{DefaultsFile: p.DefaultsFile, Search: p.Search})
	if err != nil {
		return sst.WithCode(sst.ExitNoEnt, err)
	}
	lookup := func(key string) string {
		o, _ := files.Lookup("--mysqld", key)
		return o.Value
	}
	datadir := p.Datadir
	if datadir == "" {
		if datadir = lookup("datadir"); datadir == "" {
			return sst.Errorf(sst.ExitInvalid, "send: the server's datadir is not in the option files: pass --datadir or --defaults-file")
		}
	}
	if p.AsOwner && os.Geteuid() == 0 {
		uid, gid, err := ownerOf(datadir)
		if err != nil {
			return sst.Errorf(sst.ExitNoEnt, "send: %w", err)
		}
		if uid > 0 {
			if err := dropPrivileges(uid, gid); err != nil {
				return sst.Errorf(sst.ExitGeneric, "send: run as the owner of %s (uid %d gid %d): %w", datadir, uid, gid, err)
			}
			p.Log.Info(fmt.Sprintf("Running as the owner of %s (uid %d gid %d), as the server's SST would (an SST user IDENTIFIED VIA unix_socket logs in as that user)", datadir, uid, gid))
		}
	}
	socket := p.Socket
	if socket == "" {
		socket = lookup("socket")
	}
	sstAuth := lookup("wsrep-sst-auth")
	getenv := func(k string) string {
		v := p.getenv(k)
		if k == "WSREP_SST_OPT_AUTH" && v == "" {
			return sstAuth
		}
		return v
	}
	if p.Redact != nil && sstAuth != "" {
		if _, pw, ok := strings.Cut(sstAuth, ":"); ok {
			p.Redact.AddSecret(pw)
		}
	}
	// receive is this program: it takes transfer v2 (delta against the
	// datadir it receives into, parallel streams), offered as its ready
	// line would; transfer-v2=0 in [sst] sends the stock stream.
	m := config.Manual{Role: "donor", Address: p.To + "/xtrabackup_sst/" + xfer.Supported.Token() + "/1", Datadir: datadir,
		GTID: "00000000-0000-0000-0000-000000000000:-1", GTIDDomainID: "0", Socket: socket,
		DefaultsFile: p.DefaultsFile, Progress: p.Progress != nil}
	cfg, err := p.load(ctx, m, getenv)
	if err != nil {
		return err
	}
	if cfg.RemotePassword == "" {
		p.Log.Warn("no WSREP_SST_OPT_REMOTE_AUTH in the environment: a joiner with donor-auth (the default) refuses a donor that does not know its secret; run the command receive printed, with its WSREP_SST_OPT_REMOTE_AUTH='...'")
	}
	st, err := serverStatus(ctx, cfg, p.DefaultsFile, socket)
	if err != nil {
		return err
	}
	if s := st["wsrep_local_state_comment"]; s != "Synced" {
		return sst.Errorf(sst.ExitInvalid, "send: the server is %q, not Synced: send from a synced node", s)
	}
	seqno, err := strconv.ParseInt(st["wsrep_last_committed"], 10, 64)
	uuid := st["wsrep_local_state_uuid"]
	if err != nil || !validUUID(uuid) {
		return sst.Errorf(sst.ExitInvalid, "send: the server reports no Galera position (wsrep_local_state_uuid %q, wsrep_last_committed %q): is wsrep on?", uuid, st["wsrep_last_committed"])
	}
	cfg.Args.GTID = Position{UUID: uuid, Seqno: seqno}.String()
	if d := st["wsrep_gtid_domain_id"]; d != "" {
		cfg.Args.GTIDDomainID = d
	}
	p.Log.Info(fmt.Sprintf("Donor position when the send starts: %s (the joiner takes the backup's own)", cfg.Args.GTID))
	ev := p.progressEvents()
	ev.Position = func(gtid string) { p.Log.Info("Sent; the donor was at " + gtid + " when it started") }
	err = sst.Run(ctx, sst.Params{Config: cfg, Stdout: io.Discard, Log: p.Log, Redact: p.Redact, Events: ev})
	p.Progress.Finish()
	return err
}

// serverStatus asks the donor's server, through the mariadb client, for
// its Galera state; the password travels only in MYSQL_PWD.
func serverStatus(ctx context.Context, cfg *config.Config, defaultsFile, socket string) (map[string]string, error) {
	client := ""
	for _, name := range []string{"mariadb", "mysql"} {
		if path, err := exec.LookPath(name); err == nil {
			client = path
			break
		}
	}
	if client == "" {
		return nil, sst.Errorf(sst.ExitNoEnt, "the mariadb client is not in PATH: install mariadb-client")
	}
	var args []string
	if defaultsFile != "" {
		args = append(args, "--defaults-file="+defaultsFile)
	}
	if socket != "" {
		args = append(args, "--socket="+socket)
	}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	args = append(args, "--connect-timeout=10", "-N", "-B", "-e",
		"SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_uuid','wsrep_last_committed','wsrep_local_state_comment'); "+
			"SELECT 'wsrep_gtid_domain_id', @@global.wsrep_gtid_domain_id")
	var env []string
	if pw := cfg.Password.Reveal(); pw != "" {
		env = append(env, "MYSQL_PWD="+pw)
	}
	var stdout bytes.Buffer
	err := proc.Run(ctx, proc.Cmd{Name: "mariadb", Path: client, Args: args, Env: sst.ChildEnv(nil, env...), Stdout: &stdout})
	if err != nil {
		return nil, sst.Errorf(sst.ExitInvalid, "ask the server for its Galera position (check that it runs and that the SST user may connect): %w", err)
	}
	st := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
			st[k] = v
		}
	}
	return st, nil
}

// progressEvents draws Run's progress on p.Progress, if any.
func (p *Params) progressEvents() sst.Events {
	if p.Progress == nil {
		return sst.Events{}
	}
	return sst.Events{Total: p.Progress.SetTotal, Progress: p.Progress.Update}
}
