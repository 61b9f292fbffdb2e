package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/sst"
)

// Receive is the joiner of a manual SST: it refuses a datadir a running
// server holds, runs the joiner flow (keep-the-datadir, prepare, move
// back), gives every file to the owner of the datadir, and writes
// grastate.dat with the position of the received backup. It returns that
// position; errors carry their class (package fail).
func Receive(ctx context.Context, p Params) (Position, error) {
	if p.Datadir == "" {
		return Position{}, fail.Errorf(fail.Invalid, "receive: --datadir is required")
	}
	datadir, err := filepath.Abs(p.Datadir)
	if err != nil {
		return Position{}, fail.Errorf(fail.Invalid, "receive: --datadir: %w", err)
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
		return Position{}, fail.Errorf(fail.Busy, "a server (pid %d) is running on %s: stop it before receiving into its datadir", pid, datadir)
	}
	uid, gid, err := ownerOf(datadir)
	if err != nil {
		return Position{}, fail.Errorf(fail.Missing, "receive: %w", err)
	}
	if p.AsOwner && os.Geteuid() == 0 && uid > 0 {
		if err := dropPrivileges(uid, gid); err != nil {
			return Position{}, fail.Errorf(fail.Unexpected, "receive: run as the owner of %s (uid %d gid %d): %w", datadir, uid, gid, err)
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
		return Position{}, fail.Errorf(fail.Unexpected, "give %s to uid %d gid %d: %w", datadir, uid, gid, err)
	}
	if err := writeGrastate(datadir, pos, uid, gid); err != nil {
		return Position{}, fail.Errorf(fail.Missing, "write grastate.dat: %w", err)
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
		return "", fail.Wrap(fail.Missing, err)
	}
	if o, ok := files.Lookup("--mysqld", "wsrep-sst-receive-address"); ok && !strings.EqualFold(o.Value, "AUTO") {
		return o.Value, nil
	}
	return "0.0.0.0:" + DefaultSSTPort, nil
}

// checkListen refuses an address the joiner flow would misread.
func checkListen(listen string) error {
	if strings.ContainsAny(listen, "/@ ") {
		return fail.Errorf(fail.Invalid, "receive: --listen %q: want ADDR[:PORT]", listen)
	}
	host, port := listen, ""
	if strings.HasPrefix(listen, "[") {
		i := strings.Index(listen, "]")
		if i < 0 {
			return fail.Errorf(fail.Invalid, "receive: --listen %q: unclosed '['", listen)
		}
		host, port = listen[:i+1], strings.TrimPrefix(listen[i+1:], ":")
	} else if strings.Count(listen, ":") == 1 {
		host, port, _ = strings.Cut(listen, ":")
	}
	if host == "" {
		return fail.Errorf(fail.Invalid, "receive: --listen %q: no address (use 0.0.0.0:PORT for all interfaces)", listen)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return fail.Errorf(fail.Invalid, "receive: --listen %q: port must be 1-65535", listen)
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
			return Position{}, "", fail.Errorf(fail.Transfer, "%s: %w", f, err)
		}
		return pos, filepath.Base(f), nil
	}
	pos, err := ParsePosition(final)
	if err != nil {
		return Position{}, "", fail.Errorf(fail.Transfer, "no galera info in the received data and no position from the donor: %w", err)
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
