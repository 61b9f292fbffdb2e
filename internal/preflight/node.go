package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/sstdir"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/ui"
)

// Names in the datadir, as internal/sst uses them.
const (
	swapJournal    = sstdir.SwapJournal
	progressMarker = sstdir.InProgress
	stagingDir     = sstdir.Staging
	pidFile        = sstdir.PidFile
)

// port checks that the joiner can listen on its SST port. Like the
// script's socat it listens on every address.
func (c *checker) port() {
	a, err := c.manual("joiner").Args(c.getenv)
	if err != nil {
		c.problem("the joiner's address: %v", "correct wsrep_sst_receive_address or wsrep_node_address in [mysqld]", err)
		return
	}
	c.r.Checks++
	p := a.Port
	ln, err := net.Listen("tcp", net.JoinHostPort("", p))
	if err != nil {
		c.problem("the joiner's SST port %s is not free: %v",
			fmt.Sprintf("stop what listens there (ss -ltnp 'sport = :%s'), or give the joiner another port in wsrep_sst_receive_address", p), p, err)
		return
	}
	ln.Close()
}

// leftovers reports what an interrupted SST left in the datadir and what
// the next SST does with it, without touching anything.
func (c *checker) leftovers() {
	c.r.Checks++
	datadir := c.server.datadir
	journal := filepath.Join(datadir, swapJournal)
	if _, err := os.Lstat(journal); err == nil {
		state, err := swap.JournalState(journal)
		switch {
		case err != nil:
			c.problem("an interrupted datadir swap left a journal the next SST cannot use, so it will refuse to start (%v)", "look at the .sst-old directories beside the datadir entries, put back what belongs there by hand, then remove the journal", err)
		case state == "committed":
			c.problem("an interrupted SST swap was found (journal %s, state committed): the new data is in place; the next SST first finishes the swap by deleting the old entries in .sst-old", "nothing to repair by hand: start mysqld so that it rejoins, and do not start it with --wsrep-new-cluster before that SST", journal)
		default:
			c.problem("an interrupted SST swap was found (journal %s, state %s): the new data was not complete; the next SST first undoes the swap and puts the previous datadir back from .sst-old", "nothing to repair by hand: start mysqld so that it rejoins, and do not start it on this datadir with --wsrep-new-cluster before that SST", journal, state)
		}
	}
	marker := filepath.Join(datadir, progressMarker)
	if _, err := os.Lstat(marker); err == nil {
		c.problem("a stale %s was found: an SST into this datadir was interrupted and its data may be incomplete; the next SST logs it and replaces the datadir", "let the node rejoin with a new SST; if mysqld is running on this datadir as a synced node, remove the file", marker)
	}
}

// space checks the joiner's filesystems against keep-datadir: keeping
// the old data until the new one is prepared needs room for both (about
// twice the datadir), the new data estimated by the old.
func (c *checker) space(cfg *config.Config) {
	datadir := cfg.Args.Datadir
	if _, err := os.Stat(datadir); errors.Is(err, fs.ErrNotExist) {
		c.skip(fmt.Sprintf("free disk space (datadir %s does not exist yet)", datadir))
		return
	}
	c.r.Checks++
	dirs := []string{datadir}
	a := cfg.Args
	for _, d := range []string{a.InnodbDataHomeDir, a.InnodbUndoDir, a.InnodbLogGroupHomeDir, a.AriaLogDir} {
		if d == "" {
			continue
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(datadir, d)
		}
		dirs = append(dirs, d)
	}
	skip := []string{filepath.Join(datadir, stagingDir), filepath.Join(datadir, pidFile), filepath.Join(datadir, progressMarker)}
	fss, err := swap.Space(swap.Plan{Dirs: dirs, Keep: cfg.CpatRegexp, Skip: skip, Journal: filepath.Join(datadir, swapJournal)})
	if err != nil {
		c.problem("cannot measure the space of the datadir's filesystems: %v", "make the directories readable by the user mysqld runs as", err)
		return
	}
	for _, f := range fss {
		c.spaceFor(f.Path, f.Free, f.Moved, cfg.KeepDatadir)
	}
	c.movable(cfg, swap.Plan{Dirs: dirs, Keep: cfg.CpatRegexp, Skip: skip, Journal: filepath.Join(datadir, swapJournal)})
}

// movable names each entry the joiner's swap could not move aside (a
// mount point, a directory mysqld's user may not write), as decideKeep
// in internal/sst/keep.go will find them.
func (c *checker) movable(cfg *config.Config, plan swap.Plan) {
	if cfg.KeepDatadir == "0" {
		return
	}
	c.r.Checks++
	id, err := c.identity(cfg.Args.Datadir)
	if err != nil {
		c.problem("cannot judge the swap's permissions: %v", "give --user the user mysqld runs as", err)
		return
	}
	bad, err := swap.CheckAs(plan, id)
	if err != nil {
		c.problem("cannot check that the previous data can be moved aside: %v", "make the datadir readable by the user mysqld runs as", err)
		return
	}
	as := ""
	if id != nil {
		as = " as user " + id.Name
	}
	const fix = "chown it to the user mysqld runs as (or make it writable by that user), move it out of the datadir, or list it in [sst] cpat so that the SST leaves it alone"
	for _, u := range bad {
		switch cfg.KeepDatadir {
		case "1":
			c.problem("the joiner's swap%s cannot move %s aside: %s; with keep-datadir=1 the next SST refuses to start", fix, as, u.Path, u.Reason)
		default:
			c.warning("the joiner's swap%s cannot move %s aside: %s; the next SST cleans the datadir first, as the stock script does, and a failed SST loses the previous data", fix, as, u.Path, u.Reason)
		}
	}
}

// identity is the user whose permissions the swap check judges: --user;
// else, run as root, the datadir's owner (mysqld's user on a packaged
// node; nil if that is root); else nil (this process, through access).
func (c *checker) identity(datadir string) (*swap.Identity, error) {
	var u *user.User
	var err error
	switch {
	case c.p.User != "":
		u, err = user.Lookup(c.p.User)
		if err != nil {
			return nil, fmt.Errorf("--user %s: %w", c.p.User, err)
		}
	case os.Geteuid() == 0:
		st, serr := os.Stat(datadir)
		if serr != nil {
			return nil, serr
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok || sys.Uid == 0 {
			return nil, nil
		}
		u, err = user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
		if err != nil {
			return &swap.Identity{Name: "uid " + strconv.FormatUint(uint64(sys.Uid), 10), UID: sys.Uid, GIDs: []uint32{sys.Gid}}, nil
		}
	default:
		return nil, nil
	}
	id := &swap.Identity{Name: u.Username}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	id.UID = uint32(n)
	gids, _ := u.GroupIds()
	for _, g := range append([]string{u.Gid}, gids...) {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			id.GIDs = append(id.GIDs, uint32(n))
		}
	}
	return id, nil
}

// spaceFor judges one filesystem holding old bytes of data with free bytes
// left under keep-datadir mode (auto, 1 or 0), as decideKeep in
// internal/sst/keep.go will, estimating the new data by the old.
func (c *checker) spaceFor(path string, free, old int64, mode string) {
	want := old + swap.Margin(old)
	if free >= want || old == 0 {
		return
	}
	msg := fmt.Sprintf("%s: %s free, but keeping the previous data (%s) until the new data is prepared needs about %s free", path, ui.Bytes(free), ui.Bytes(old), ui.Bytes(want))
	switch mode {
	case "1":
		c.problem("%s (keep-datadir=1): the next SST will refuse to start", "free space on that filesystem, or set [sst] keep-datadir=auto to allow cleaning the datadir first", msg)
	case "auto":
		c.warning("%s: the next SST cleans the datadir first, as the stock script does, and a failed SST loses the previous data", "free space on that filesystem to keep the previous data safe during an SST", msg)
	}
}

// tmpdir checks that the donor can make its temporary directories in
// tmpdir (groups --mysqld|sst|xtrabackup|mariabackup, as the script's
// parse_cnf reads it), else $TMPDIR, else /tmp.
func (c *checker) tmpdir() {
	c.r.Checks++
	dir, src := "", ""
	if o, ok := c.files.Lookup("--mysqld|sst|xtrabackup|mariabackup", "tmpdir"); ok {
		dir, src = o.Value, fmt.Sprintf("tmpdir (%s:%d [%s])", o.File, o.Line, o.Group)
	} else if dir, src = c.getenv("TMPDIR"), "$TMPDIR"; dir == "" {
		dir, src = "/tmp", "the default /tmp"
	}
	d, err := os.MkdirTemp(dir, "sst-check-")
	if err != nil {
		c.problem("the donor's temporary directory %s from %s is not writable: %v", "create it, or make it writable by the user mysqld runs as, or set tmpdir in [sst] to one that is", dir, src, err)
		return
	}
	os.Remove(d)
}
