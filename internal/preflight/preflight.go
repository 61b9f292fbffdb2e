package preflight

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/config"
)

// Level says how bad a Finding is.
type Level int

const (
	// Problem means the next SST will fail or lose data: check exits 22.
	Problem Level = iota
	// Warning means something needs attention soon (a certificate
	// expiring within 30 days) but the next SST can work.
	Warning
	// Note is information asked for (--peer-version), nothing to fix.
	Note
)

// Finding is one thing wrong, with its fix (a Note may have none).
type Finding struct {
	Level Level
	// What says what is wrong, naming the file, option or value.
	What string
	// Fix says what to do about it.
	Fix string
}

// String is the line check prints for f.
func (f Finding) String() string {
	l := "problem"
	switch f.Level {
	case Warning:
		l = "warning"
	case Note:
		l = "note"
	}
	if f.Fix == "" {
		return l + ": " + f.What
	}
	return l + ": " + f.What + "; fix: " + f.Fix
}

// Report is the result of Run.
type Report struct {
	// Roles are the roles checked, "donor" and/or "joiner".
	Roles []string
	// OptionFiles are the option files read.
	OptionFiles []string
	// Findings are the problems and warnings, in the order found.
	Findings []Finding
	// Checks counts the checks that ran.
	Checks int
	// Skipped names the checks that could not run, each with the reason.
	Skipped []string
}

// Problems counts the findings of level Problem.
func (r *Report) Problems() int { return r.count(Problem) }

func (r *Report) count(l Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == l {
			n++
		}
	}
	return n
}

// Summary is the one-line summary check prints last.
func (r *Report) Summary() string {
	p, w := r.Problems(), r.count(Warning)
	var b strings.Builder
	if p == 0 {
		b.WriteString("check: OK")
	} else {
		fmt.Fprintf(&b, "check: %d %s", p, plural(p, "problem"))
	}
	if w > 0 {
		fmt.Fprintf(&b, ", %d %s", w, plural(w, "warning"))
	}
	fmt.Fprintf(&b, " (%d checks, role %s", r.Checks, strings.Join(r.Roles, "+"))
	switch n := len(r.OptionFiles); {
	case n == 0:
		b.WriteString(", no option file")
	case n <= 3:
		fmt.Fprintf(&b, ", option files %s", strings.Join(r.OptionFiles, ", "))
	default:
		fmt.Fprintf(&b, ", option files %s and %d more", r.OptionFiles[0], n-1)
	}
	b.WriteString(")")
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "; not checked: %s", strings.Join(r.Skipped, "; "))
	}
	return b.String()
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// Params are the inputs of Run.
type Params struct {
	// Role is "donor", "joiner" or "both"; "" means both.
	Role string
	// DefaultsFile is --defaults-file: the only option file read (with its
	// includes); "" means mysqld's search list.
	DefaultsFile string
	// Search, when non-nil, replaces the default option-file search list
	// (tests stay away from /etc with it).
	Search []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Path is the PATH programs are looked up in and children get; ""
	// means $PATH. /usr/sbin and /usr/local/sbin are always tried for
	// mariadbd after it.
	Path string
	// Now gives the time certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
	// PeerVersion is the other node's server version (--peer-version,
	// "10.6.21" or "10.6"), "" for none: check then says whether the two
	// straddle an InnoDB redo-log format change, for each role.
	PeerVersion string
	// User is the user mysqld runs as (check --user), whose permissions
	// the joiner's swap check judges; "" means this process's own, or,
	// run as root, the datadir's owner.
	User string
	// ChildTimeout bounds each child (mariadb-backup --version, the
	// mariadb client); 0 means 30s.
	ChildTimeout time.Duration
}

// roles returns the roles Role selects, or an error for a bad value.
func (p Params) roles() ([]string, error) {
	switch p.Role {
	case "", "both":
		return []string{"donor", "joiner"}, nil
	case "donor", "joiner":
		return []string{p.Role}, nil
	}
	return nil, fmt.Errorf("--role %q: want donor, joiner or both", p.Role)
}

// checker carries the state of one Run.
type checker struct {
	p       Params
	r       *Report
	getenv  func(string) string
	secrets []string

	files   *config.OptionFiles
	server  serverSettings
	configs map[string]*config.Config // by role, nil when Load failed

	// versions are those tools found, for the peer check.
	versions struct {
		server, backup, prepare *version // nil when unknown
	}
	peer *version // Params.PeerVersion parsed
}

// serverSettings are the [mysqld] options check needs that mysqld itself
// passes on the SST command line.
type serverSettings struct {
	datadir     string
	socket      string
	recvAddress string // wsrep_sst_receive_address
	nodeAddress string // wsrep_node_address
	auth        string // [mysqld] wsrep_sst_auth, which mysqld hands to the SST
}

// Run runs every check for the selected roles and returns what it found.
// Only a bad Role or PeerVersion is an error; everything else is a Finding. Run changes
// nothing on the node.
func Run(ctx context.Context, p Params) (*Report, error) {
	roles, err := p.roles()
	if err != nil {
		return nil, err
	}
	c := &checker{p: p, r: &Report{Roles: roles}, getenv: p.Getenv, configs: map[string]*config.Config{}}
	if p.PeerVersion != "" {
		v, err := parsePeer(p.PeerVersion)
		if err != nil {
			return nil, err
		}
		c.peer = &v
	}
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	if c.p.Now == nil {
		c.p.Now = time.Now
	}
	if c.p.Path == "" {
		c.p.Path = c.getenv("PATH")
	}
	if c.p.ChildTimeout == 0 {
		c.p.ChildTimeout = 30 * time.Second
	}
	c.run(ctx, roles)
	for i := range c.r.Findings {
		f := &c.r.Findings[i]
		f.What, f.Fix = c.redact(f.What), c.redact(f.Fix)
	}
	for i := range c.r.Skipped {
		c.r.Skipped[i] = c.redact(c.r.Skipped[i])
	}
	return c.r, nil
}

func (c *checker) problem(what, fix string, args ...any) {
	c.add(Finding{Level: Problem, What: fmt.Sprintf(what, args...), Fix: fix})
}

func (c *checker) warning(what, fix string, args ...any) {
	c.add(Finding{Level: Warning, What: fmt.Sprintf(what, args...), Fix: fix})
}

// add appends f unless the same finding is there already (both roles
// often share a file).
func (c *checker) add(f Finding) {
	for _, o := range c.r.Findings {
		if o == f {
			return
		}
	}
	c.r.Findings = append(c.r.Findings, f)
}

func (c *checker) skip(why string) {
	c.r.Skipped = append(c.r.Skipped, why)
}

// AddSecret registers a password to scrub from every Finding
// (config.LoadParams.Secrets).
func (c *checker) AddSecret(s string) {
	if len(s) >= 2 {
		c.secrets = append(c.secrets, s)
	}
}

func (c *checker) redact(s string) string {
	for _, sec := range c.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

func (c *checker) run(ctx context.Context, roles []string) {
	c.r.Checks++
	files, err := config.ReadOptionFiles(config.Files{DefaultsFile: c.p.DefaultsFile, Search: c.p.Search})
	if err != nil {
		c.problem("option files: %v", "correct or create the file named above (an option file line is 'key = value' inside a [group])", err)
		return
	}
	c.files = files
	c.r.OptionFiles = files.Files()
	c.server = serverSettings{
		datadir:     c.lookup("--mysqld", "datadir"),
		socket:      c.lookup("--mysqld", "socket"),
		recvAddress: c.lookup("--mysqld", "wsrep-sst-receive-address"),
		nodeAddress: c.lookup("--mysqld", "wsrep-node-address"),
		auth:        c.lookup("--mysqld", "wsrep-sst-auth"),
	}
	if c.server.datadir == "" {
		c.server.datadir = "/var/lib/mysql"
	}
	c.server.datadir = strings.TrimRight(c.server.datadir, "/")
	if c.server.datadir == "" {
		c.server.datadir = "/"
	}
	if c.server.auth != "" {
		_, pw, ok := strings.Cut(c.server.auth, ":")
		if !ok {
			pw = c.server.auth // "${AUTH#*:}" without a colon
		}
		c.AddSecret(pw)
	}

	loadErrs := map[string]string{}
	for _, role := range roles {
		c.r.Checks++
		cfg, err := c.manual(role).Load(ctx, config.LoadParams{
			Program: "wsrep_sst_mariabackup",
			Getenv:  c.getenv,
			Search:  c.p.Search,
			Secrets: c,
		})
		if err != nil {
			// The sentinel adds nothing for a reader of check.
			loadErrs[role] = strings.TrimSuffix(err.Error(), ": "+config.ErrInvalid.Error())
			continue
		}
		c.configs[role] = cfg
		for _, w := range cfg.Warnings {
			c.warning("option files: %s", "correct the file named above", w)
		}
	}
	const loadFix = "correct that option (see README, '[sst] options'); the SST refuses to start with it"
	if len(loadErrs) == 2 && loadErrs["donor"] == loadErrs["joiner"] {
		c.problem("settings: %s", loadFix, loadErrs["donor"])
	} else {
		for _, role := range roles {
			if e, ok := loadErrs[role]; ok {
				c.problem("%s settings: %s", loadFix, role, e)
			}
		}
	}
	c.unknownKeys()
	if cfg := c.anyConfig(); cfg != nil {
		c.values(cfg)
	}
	c.tools(ctx)
	c.peerCheck(roles)
	for _, role := range roles {
		if role == "donor" {
			c.sstUser(ctx, c.configs["donor"])
			c.tmpdir()
		} else {
			c.port()
			c.leftovers()
		}
		cfg := c.configs[role]
		if cfg == nil {
			what := role + " certificates"
			if role == "joiner" {
				what += " and disk space"
			}
			c.skip(what + " (the settings above do not load)")
			continue
		}
		switch {
		case !c.sameEncryption():
			c.certificates(role+" ", cfg)
		case role == roles[0]:
			c.certificates("", cfg) // one check for both roles
		}
		if role == "joiner" {
			c.space(cfg)
			c.exposure(cfg)
		}
	}
}

// sameEncryption reports whether both roles loaded and use the same
// encryption files and settings (no ssl-server-* or ssl-client-* apart).
func (c *checker) sameEncryption() bool {
	d, j := c.configs["donor"], c.configs["joiner"]
	if d == nil || j == nil {
		return false
	}
	a, b := d.TLSSetup, j.TLSSetup
	return a.Encrypt == b.Encrypt && a.Mode == b.Mode && a.CA == b.CA && a.CAPath == b.CAPath && a.Cert == b.Cert && a.Key == b.Key &&
		d.EncryptAlgo == j.EncryptAlgo && d.EncryptFormat == j.EncryptFormat && d.EncryptKey == j.EncryptKey && d.EncryptKeyFile == j.EncryptKeyFile
}

// lookup reads one option as the script's parse_cnf does.
func (c *checker) lookup(groups, key string) string {
	o, ok := c.files.Lookup(groups, key)
	if !ok {
		return ""
	}
	return o.Value
}

// manual is what mysqld would pass for role, as far as check knows it
// from the option files.
func (c *checker) manual(role string) config.Manual {
	m := config.Manual{Role: role, Datadir: c.server.datadir + "/", DefaultsFile: c.p.DefaultsFile}
	if role == "joiner" {
		m.Address = c.joinerAddress()
		return m
	}
	m.Socket = c.server.socket
	// The joiner's address is not known before an SST; any will do.
	m.Address = "127.0.0.1:4444/xtrabackup_sst//1"
	return m
}

// joinerAddress mirrors what mysqld passes to the joiner: the
// wsrep_sst_receive_address, else the host of wsrep_node_address (the
// port then defaults to 4444).
func (c *checker) joinerAddress() string {
	if a := c.server.recvAddress; a != "" && !strings.EqualFold(a, "AUTO") {
		return a
	}
	if h := hostOf(c.server.nodeAddress); h != "" {
		return h
	}
	return "127.0.0.1"
}

// hostOf strips the port from a wsrep_node_address.
func hostOf(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if i := strings.IndexByte(addr, ']'); i > 0 {
			return addr[:i+1]
		}
		return addr
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// lookPath finds prog in c.p.Path, then in extra directories.
func (c *checker) lookPath(prog string, extra ...string) (string, bool) {
	dirs := append(filepath.SplitList(c.p.Path), extra...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
