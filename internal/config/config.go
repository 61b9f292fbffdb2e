package config

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Group lists of the stock wsrep_sst_mariabackup (read_cnf).
const (
	groupsSST    = "sst"
	groupsBackup = "sst|xtrabackup|mariabackup"
	groupsEnc    = "--mysqld|" + groupsBackup
	groupsMysqld = "--mysqld"
)

// DefaultCpat is the script's default cpat: files in the datadir the joiner
// keeps when it wipes it before an SST (read_cnf).
// MaxParallelStreams bounds [sst] parallel-streams; it is xfer.MaxStreams
// (config does not import xfer).
const MaxParallelStreams = 64

const DefaultCpat = `.*\.pem$\|.*galera\.cache$\|.*sst_in_progress$\|.*\.sst$\|.*gvwstate\.dat$\|.*grastate\.dat$\|.*\.err$\|.*\.log$\|.*RPM_UPGRADE_MARKER$\|.*RPM_UPGRADE_HISTORY$`

// Config is the fully resolved configuration of one SST run: the parsed
// argv plus every option the stock script reads from the option files,
// each with the script's default. Build it with Load.
type Config struct {
	// Method is the SST method name taken from the program name
	// (wsrep_sst_<method>), as WSREP_METHOD in wsrep_sst_common.
	Method string
	// Args is the parsed command line.
	Args *Args
	// OptionFiles lists the option files read, in order.
	OptionFiles []string
	// ServerVersion is the "MAJOR.MINOR" server version whose
	// version-suffixed groups were read, and ServerVersionSource where it
	// came from (LoadParams; "default" for DefaultServerVersion).
	ServerVersion       string
	ServerVersionSource string

	// User and Password are the credentials mariadb-backup uses on the
	// donor, resolved as wsrep_sst_common does from --user/--password,
	// WSREP_SST_OPT_AUTH and [sst] wsrep-sst-auth ("(null)" means empty).
	User     string
	Password Secret
	// AuthSource tells where the credentials came from ("argv",
	// "env WSREP_SST_OPT_AUTH", "[sst] wsrep-sst-auth", "stdin" or "").
	AuthSource string
	// RemoteUser and RemotePassword split WSREP_SST_OPT_REMOTE_AUTH, the
	// joiner's "<CN>:<secret>" prefix of the SST address (donor only).
	RemoteUser     string
	RemotePassword Secret

	// StreamFmt is [sst] streamfmt (default "mbstream"; "xbstream" is an alias).
	StreamFmt string
	// TransferFmt is [sst] transferfmt (default "socat"; "nc" accepted).
	// Both are replaced by the in-process pipe.
	TransferFmt string
	// Encrypt is encrypt (groups --mysqld|sst|xtrabackup|mariabackup),
	// 0 (none), 1 (openssl enc), 2, 3 or 4 (TLS variants). Default 0.
	Encrypt int
	// SSLMode is ssl-mode, upper-cased: DISABLED (default), REQUIRED,
	// VERIFY_CA or VERIFY_IDENTITY.
	SSLMode string
	// TLS holds the raw certificate-related options (tca, tcapath, tcert,
	// tkey, ssl-ca, ssl-capath, ssl-cert, ssl-key, ssl-server-*,
	// ssl-client-*, ssl-dhparams) keyed by option name; empty ones omitted.
	TLS map[string]string
	// EncryptAlgo, EncryptFormat (default "openssl"), EncryptKey,
	// EncryptKeyFile, EncryptThreads and EncryptChunkSize configure
	// encrypt=1 (groups --mysqld|sst|xtrabackup|mariabackup).
	EncryptAlgo      string
	EncryptFormat    string
	EncryptKey       Secret
	EncryptKeyFile   string
	EncryptThreads   string
	EncryptChunkSize string

	// Sockopt is [sst] sockopt, socat-style ",opt=val,..." options
	// (default empty), as written; Sock is what they mean for the pipe.
	Sockopt string
	Sock    SockOpts
	// Progress is [sst] progress: "" (off unless --progress 1), "1"
	// (stderr), "none", or a file path.
	Progress string
	// Time is [sst] time: log the duration of each stage (default off).
	Time bool
	// Cpat is [sst] cpat, the regular expression (find -regex, emacs
	// syntax) of datadir paths the joiner keeps. Default DefaultCpat.
	// CpatRegexp is Cpat converted to an anchored Go regexp, set on the
	// joiner only.
	Cpat       string
	CpatRegexp *regexp.Regexp
	// Compressor and Decompressor are [sst] compressor / decompressor
	// (default empty), commands applied to both stages of the stream.
	// Codec is the one this role runs: Compressor on the donor,
	// Decompressor on the joiner, "" for none.
	Compressor   string
	Decompressor string
	Codec        string
	// Rlimit is [sst] rlimit, a pv-style rate limit such as "80M" (donor,
	// default none), as written; RateLimit is its value in bytes per
	// second on the donor, 0 for none.
	Rlimit    string
	RateLimit int64
	// UseExtra is [sst] use-extra: connect mariadb-backup through the
	// thread-pool extra_port instead of the socket (default off).
	UseExtra bool
	// SpecialDirs is [sst] sst-special-dirs; only 1 is supported (default 1).
	SpecialDirs int
	// InnoBackupOpts, InnoApplyOpts and InnoMoveOpts are the words of
	// inno-backup-opts, inno-apply-opts and inno-move-opts (groups
	// sst|xtrabackup|mariabackup, default empty): extra mariadb-backup
	// options for backup, prepare and move-back, split as sh splits the
	// script's eval'ed command line (an unterminated quote is an error).
	InnoBackupOpts []string
	InnoApplyOpts  []string
	InnoMoveOpts   []string
	// UseMemory is use-memory (sst|xtrabackup|mariabackup), else
	// --innodb-buffer-pool-size, else [mysqld] innodb-buffer-pool-size.
	UseMemory string
	// InitialTimeout is [sst] sst-initial-timeout (seconds, default 300):
	// how long the joiner waits for the donor's first stage. 0 disables.
	InitialTimeout time.Duration
	// IdleTimeout is [sst] sst-idle-timeout (seconds, default 300, 0
	// disables): how long the stream between the nodes may stop moving
	// before the SST is abandoned. 300 as for sst-initial-timeout, since
	// BACKUP STAGE FLUSH and BLOCK_DDL on a busy donor can legitimately
	// hold the stream for minutes (PXC's default is 120).
	IdleTimeout time.Duration
	// KeepDatadir is [sst] keep-datadir, normalized to "auto" (default),
	// "1" or "0"; the script's booleans on/off, yes/no, true/false are
	// accepted too. It says whether the joiner keeps its old datadir
	// until the new one is complete.
	KeepDatadir string
	// DonorAuth is [sst] donor-auth: "auto" (default), "required" or
	// "off". Not off, the joiner puts a fresh random secret in its ready
	// address for every SST and accepts only a donor that proves it: the
	// gtid stage must echo it (every stock donor's send_magic does, as
	// ours), every v2 connection carries an HMAC of it, and a stock data
	// stream must come from the address that passed the gtid stage.
	// "auto" also accepts v2 connections without the HMAC (an earlier
	// release of this program as donor) from that address; "required"
	// does not. "off" offers no secret (the script's behaviour, unless
	// ssl-mode is VERIFY_*).
	DonorAuth string
	// PrepareTool is [sst] prepare-tool: the mariadb-backup program the
	// joiner runs --prepare with (default: mariadb-backup from PATH, as
	// for every other step). A major-version SST across an InnoDB redo
	// format change needs the donor's (older) mariadb-backup here.
	PrepareTool string
	// TransferV2 is [sst] transfer-v2 (default on): the joiner offers the
	// v2 data stage (delta, resume, parallel streams; internal/xfer) to a
	// donor running this program, and the donor accepts the offer. Off, both
	// speak only the stock stream.
	TransferV2 bool
	// ParallelStreams is [sst] parallel-streams (donor, 1..64, 0 for the
	// default "auto": the donor decides from the transport): the TCP
	// connections of a v2 data stage, each with its own TLS session and
	// compressor.
	ParallelStreams int
	// StatusFile is [sst] status-file: a JSON status document rewritten
	// about once a second (see internal/status), "" for none.
	StatusFile string
	// Syslog is [sst] sst-syslog (default 0; -1 forces it off even when
	// [mysqld_safe] syslog is set). SyslogTag is [mysqld_safe] syslog-tag.
	Syslog    int
	SyslogTag string
	// LogArchive is [sst] sst-log-archive (default on): old
	// mariabackup.*.log files are moved to LogArchiveDir (default
	// /tmp/sst_log_archive) with a timestamp and gzipped.
	LogArchive    bool
	LogArchiveDir string
	// Compress is compress (--mysqld|sst|xtrabackup|mariabackup), "none"
	// by default, read on the donor only; CompressChunkSize and
	// CompressThreads go with it.
	Compress          string
	CompressChunkSize string
	CompressThreads   string
	// BackupThreads is backup-threads, passed as --parallel.
	BackupThreads string
	// Tmpdir is tmpdir (--mysqld|sst|xtrabackup|mariabackup): where the
	// donor makes its temporary directories (default: $TMPDIR or /tmp).
	Tmpdir string
	// ThreadHandling and ExtraPort are [mysqld] thread-handling and
	// extra-port, used with UseExtra.
	ThreadHandling string
	ExtraPort      string

	// TLSSetup is the encrypt/ssl-mode resolution of read_cnf for this
	// role (see TransportTLS).
	TLSSetup TransportTLS

	// Warnings are problems the operator should see that do not stop the
	// SST: option files skipped (world-writable, unreadable, not a
	// regular file inside an !includedir), unexpected keys on stdin,
	// credentials missing when stdin timed out. The caller logs them.
	Warnings []string

	// Sources records where each setting's value came from, keyed by the
	// option name: "default", "argv", "env NAME" or "<file>:<line> [group]".
	Sources map[string]string
}

// LoadParams are the inputs of Load.
type LoadParams struct {
	// Program is argv[0]; its base name gives the method name.
	Program string
	// Argv is the command line after the program name.
	Argv []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Search, when non-nil, replaces the default option-file search list
	// (tests use it to stay away from /etc).
	Search []string
	// Home replaces $HOME for ~/.my.cnf when non-empty.
	Home string
	// Stdin is mysqld's stdin, from which a donor reads the credentials
	// newer servers send there (see readStdinCredentials); nil, a
	// terminal or a character device such as /dev/null is not read.
	Stdin io.Reader
	// StdinTimeout bounds the wait for the next stdin line; 0 means 2s.
	StdinTimeout time.Duration
	// Secrets, when non-nil, learns every password as soon as Load
	// reads it, so that a logger can scrub it from any later line.
	Secrets interface{ AddSecret(string) }
	// ServerVersion is the "MAJOR.MINOR" version of the server that runs
	// us, which selects the version-suffixed option groups; "" means
	// DefaultServerVersion. Load does not detect it (it runs no process).
	ServerVersion string
	// ServerVersionSource says where ServerVersion came from, for explain.
	ServerVersionSource string
}

// Load parses argv, reads the option files it selects and resolves every
// setting with the precedence script default < option file < argv, then
// validates the result. Option loading stops early when ctx is done.
// Errors wrap ErrInvalid, ErrPortConflict or ErrFile (or the context's
// error).
func Load(ctx context.Context, p LoadParams) (*Config, error) {
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	addSecret := func(s string) {
		if p.Secrets != nil && s != "" {
			p.Secrets.AddSecret(s)
		}
	}
	args, err := ParseArgs(p.Argv, getenv)
	if err != nil {
		return nil, err
	}
	addSecret(args.Password.Reveal())
	files, err := readOptionFilesContext(ctx, Files{
		DefaultsFile:  args.DefaultsFile,
		ExtraFile:     args.DefaultsExtraFile,
		GroupSuffix:   args.DefaultsGroupSuffix,
		Search:        p.Search,
		Home:          p.Home,
		ServerVersion: p.ServerVersion,
	})
	if err != nil {
		return nil, err
	}
	c := &Config{
		Method:      methodName(p.Program),
		Args:        args,
		OptionFiles: files.Files(),
		Warnings:    files.Warnings(),
		Sources:     map[string]string{},

		ServerVersion:       p.ServerVersion,
		ServerVersionSource: p.ServerVersionSource,
	}
	if c.ServerVersion == "" {
		c.ServerVersion, c.ServerVersionSource = DefaultServerVersion, "default"
	}
	r := resolver{c: c, files: files}
	if err := r.settings(); err != nil {
		return nil, err
	}
	addSecret(c.EncryptKey.Reveal())
	r.auth(getenv)
	if args.Role == "donor" && p.Stdin != nil {
		if err := r.stdinCredentials(ctx, p.Stdin, p.StdinTimeout); err != nil {
			return nil, err
		}
	}
	addSecret(c.Password.Reveal())
	addSecret(c.RemotePassword.Reveal())
	r.dirs()
	r.binlog()
	if err := r.transfer(); err != nil {
		return nil, err
	}
	c.TLSSetup = c.transportTLS(getenv)
	// After the option files, whose errors (exit 2) come first as in
	// the script, and before the caller takes the lock; setup_ports runs
	// before anything checks the address further.
	if err := checkAddressSafe(args); err != nil {
		return nil, err
	}
	if err := validateAddress(args); err != nil {
		return nil, err
	}
	return c, nil
}

// methodName mirrors WSREP_METHOD: the program's base name without its
// extension and the "wsrep_sst_" prefix.
func methodName(program string) string {
	m := filepath.Base(program)
	if i := strings.LastIndexByte(m, '.'); i > 0 {
		m = m[:i]
	}
	return strings.TrimPrefix(m, "wsrep_sst_")
}

type resolver struct {
	c     *Config
	files *OptionFiles
}

// get mirrors parse_cnf: the first group with a non-empty value wins, the
// value is trimmed, and def is used (and recorded) otherwise.
func (r *resolver) get(groups, key, def string) string {
	if o, ok := r.files.Lookup(groups, key); ok {
		if v := strings.TrimSpace(o.Value); v != "" {
			r.c.Sources[key] = fmt.Sprintf("%s:%d [%s]", o.File, o.Line, o.Group)
			return v
		}
	}
	r.c.Sources[key] = "default"
	return def
}

func (r *resolver) getInt(groups, key string, def int) (int, error) {
	s := r.get(groups, key, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("option %s=%q (from %s): not an integer: %w", key, s, r.c.Sources[key], ErrInvalid)
	}
	return n, nil
}

// getSeconds reads a whole number of seconds, 0 or more.
func (r *resolver) getSeconds(groups, key string, def int) (time.Duration, error) {
	s := r.get(groups, key, strconv.Itoa(def))
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("option %s=%q (from %s): want a whole number of seconds, 0 or more: %w", key, s, r.c.Sources[key], ErrInvalid)
	}
	return time.Duration(n) * time.Second, nil
}

// getAuto reads a tri-state option: "auto" (the default), or a boolean
// spelt as the script's option parsing accepts it (1/0, on/off, yes/no,
// true/false, any case), normalized to "auto", "1" or "0".
func (r *resolver) getAuto(groups, key string) (string, error) {
	s := r.get(groups, key, "auto")
	switch strings.ToLower(s) {
	case "auto":
		return "auto", nil
	case "1", "on", "yes", "true":
		return "1", nil
	case "0", "off", "no", "false":
		return "0", nil
	}
	return "", fmt.Errorf("option %s=%q (from %s): want auto, 1 or 0 (on/off, yes/no, true/false): %w", key, s, r.c.Sources[key], ErrInvalid)
}

func (r *resolver) getBool(groups, key string, def bool) (bool, error) {
	d := 0
	if def {
		d = 1
	}
	n, err := r.getInt(groups, key, d)
	return n != 0, err
}

// EncryptMeaning says what [sst] encrypt is, for the errors on a value
// that is not one of its modes: the user documentation's example
// (encrypt=AES256, as for the retired xtrabackup-v2 xbcrypt) is not one.
const EncryptMeaning = "encrypt is the SST transport's encryption mode, 0 to 4 (0 none; 1 openssl enc with encrypt-algo and encrypt-key/encrypt-key-file; 2 TLS with tcert; 3 TLS with tkey and tcert; 4 TLS with the CA required): use encrypt=3 or 4 with certificates (or ssl-mode=VERIFY_CA with ssl-ca, ssl-cert and ssl-key), or encrypt=1 with encrypt-algo=aes-256-cbc for an algorithm name such as AES256; mariadb-backup itself has no backup encryption"

func (r *resolver) settings() error {
	c := r.c
	var err error
	c.StreamFmt = r.get(groupsSST, "streamfmt", "mbstream")
	c.TransferFmt = r.get(groupsSST, "transferfmt", "socat")
	enc := r.get(groupsEnc, "encrypt", "0")
	if c.Encrypt, err = strconv.Atoi(enc); err != nil || c.Encrypt < 0 || c.Encrypt > 4 {
		return fmt.Errorf("option encrypt=%q (from %s): not 0 to 4; %s: %w", enc, c.Sources["encrypt"], EncryptMeaning, ErrInvalid)
	}
	c.SSLMode = strings.ToUpper(r.get(groupsEnc, "ssl-mode", "DISABLED"))
	switch c.SSLMode {
	case "DISABLED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY":
	default:
		// read_cnf: "Unrecognized ssl-mode option", exit 22.
		return fmt.Errorf("unrecognized ssl-mode option: '%s' (from %s): %w", c.SSLMode, c.Sources["ssl-mode"], ErrInvalid)
	}
	c.TLS = map[string]string{}
	for _, k := range []string{"tca", "tcapath", "tcert", "tkey"} {
		if v := r.get(groupsSST, k, ""); v != "" {
			c.TLS[k] = v
		}
	}
	for _, k := range []string{
		"ssl-ca", "ssl-capath", "ssl-cert", "ssl-key",
		"ssl-server-ca", "ssl-server-capath", "ssl-server-cert", "ssl-server-key",
		"ssl-client-ca", "ssl-client-capath", "ssl-client-cert", "ssl-client-key",
		"ssl-dhparams",
	} {
		if v := r.get(groupsEnc, k, ""); v != "" {
			c.TLS[k] = v
		}
	}
	c.EncryptAlgo = r.get(groupsEnc, "encrypt-algo", "")
	c.EncryptFormat = r.get(groupsEnc, "encrypt-format", "openssl")
	c.EncryptKey = Secret(r.get(groupsEnc, "encrypt-key", ""))
	c.EncryptKeyFile = r.get(groupsEnc, "encrypt-key-file", "")
	c.EncryptThreads = r.get(groupsEnc, "encrypt-threads", "")
	c.EncryptChunkSize = r.get(groupsEnc, "encrypt-chunk-size", "")

	c.Sockopt = r.get(groupsSST, "sockopt", "")
	c.Progress = r.get(groupsSST, "progress", "")
	if c.Time, err = r.getBool(groupsSST, "time", false); err != nil {
		return err
	}
	c.Cpat = r.get(groupsSST, "cpat", DefaultCpat)
	c.Compressor = r.get(groupsSST, "compressor", "")
	c.Decompressor = r.get(groupsSST, "decompressor", "")
	c.Rlimit = r.get(groupsSST, "rlimit", "")
	if c.UseExtra, err = r.getBool(groupsSST, "use-extra", false); err != nil {
		return err
	}
	if c.SpecialDirs, err = r.getInt(groupsSST, "sst-special-dirs", 1); err != nil {
		return err
	}
	for _, o := range []struct {
		dst *[]string
		key string
	}{
		{&c.InnoBackupOpts, "inno-backup-opts"},
		{&c.InnoApplyOpts, "inno-apply-opts"},
		{&c.InnoMoveOpts, "inno-move-opts"},
	} {
		v := r.get(groupsBackup, o.key, "")
		if *o.dst, err = splitWords(o.key, v); err != nil {
			return fmt.Errorf("option %w (from %s)", err, c.Sources[o.key])
		}
	}
	c.UseMemory = r.get(groupsBackup, "use-memory", "")
	if c.UseMemory == "" {
		// read_cnf: fall back to the buffer pool size from argv, then cnf.
		if c.Args.InnodbBufferPoolSize != "" {
			c.UseMemory = c.Args.InnodbBufferPoolSize
			c.Sources["use-memory"] = "argv --innodb-buffer-pool-size"
		} else if v := r.get(groupsMysqld, "innodb-buffer-pool-size", ""); v != "" {
			c.UseMemory = v
			c.Sources["use-memory"] = c.Sources["innodb-buffer-pool-size"]
		}
	}
	secs, err := r.getInt(groupsSST, "sst-initial-timeout", 300)
	if err != nil {
		return err
	}
	if secs < 0 {
		return fmt.Errorf("option sst-initial-timeout=%d: must not be negative: %w", secs, ErrInvalid)
	}
	c.InitialTimeout = time.Duration(secs) * time.Second
	if c.IdleTimeout, err = r.getSeconds(groupsSST, "sst-idle-timeout", 300); err != nil {
		return err
	}
	if c.KeepDatadir, err = r.getAuto(groupsSST, "keep-datadir"); err != nil {
		return err
	}
	switch v := strings.ToLower(r.get(groupsSST, "donor-auth", "auto")); v {
	case "auto", "required", "off":
		c.DonorAuth = v
	case "1", "on", "yes", "true":
		c.DonorAuth = "required"
	case "0", "no", "false":
		c.DonorAuth = "off"
	default:
		return fmt.Errorf("option donor-auth=%q (from %s): want auto, required or off: %w", v, r.c.Sources["donor-auth"], ErrInvalid)
	}
	c.PrepareTool = r.get(groupsSST, "prepare-tool", "")
	if c.TransferV2, err = r.getBool(groupsSST, "transfer-v2", true); err != nil {
		return err
	}
	if v := r.get(groupsSST, "parallel-streams", "auto"); !strings.EqualFold(v, "auto") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxParallelStreams {
			return fmt.Errorf("option parallel-streams=%q (from %s): want auto or 1 to %d: %w", v, r.c.Sources["parallel-streams"], MaxParallelStreams, ErrInvalid)
		}
		c.ParallelStreams = n
	}
	c.StatusFile = r.get(groupsSST, "status-file", "")
	if c.Syslog, err = r.getInt(groupsSST, "sst-syslog", 0); err != nil {
		return err
	}
	if c.Syslog != -1 && r.files.Has("mysqld_safe", "syslog") {
		c.Syslog = 1
	}
	c.SyslogTag = r.get("mysqld_safe", "syslog-tag", "")
	if c.LogArchive, err = r.getBool(groupsSST, "sst-log-archive", true); err != nil {
		return err
	}
	if c.LogArchive {
		c.LogArchiveDir = trimDir(r.get(groupsSST, "sst-log-archive-dir", "/tmp/sst_log_archive"))
	}
	c.Compress = r.get(groupsEnc, "compress", "none")
	if c.Compress != "none" {
		c.CompressChunkSize = r.get(groupsEnc, "compress-chunk-size", "")
		c.CompressThreads = r.get(groupsEnc, "compress-threads", "")
	}
	c.BackupThreads = r.get(groupsEnc, "backup-threads", "")
	c.Tmpdir = r.get(groupsEnc, "tmpdir", "")
	c.ThreadHandling = r.get(groupsMysqld, "thread-handling", "")
	c.ExtraPort = r.get(groupsMysqld, "extra-port", "")
	return nil
}

// auth mirrors the credential resolution at the end of wsrep_sst_common.
func (r *resolver) auth(getenv func(string) string) {
	c := r.c
	c.User = c.Args.User
	c.Password = c.Args.Password
	if c.User != "" || c.Password != "" {
		c.AuthSource = "argv"
	}
	auth := getenv("WSREP_SST_OPT_AUTH")
	src := "env WSREP_SST_OPT_AUTH"
	if auth == "(null)" {
		auth = ""
	}
	if auth == "" {
		auth = r.get(groupsSST, "wsrep-sst-auth", "")
		src = c.Sources["wsrep-sst-auth"]
	}
	if auth != "" {
		authUser, authPass, ok := strings.Cut(auth, ":")
		if !ok {
			// "${AUTH#*:}" leaves the string unchanged without a colon.
			authPass = auth
		}
		switch {
		case c.User == "":
			c.User, c.Password, c.AuthSource = authUser, Secret(authPass), src
		case c.User == authUser && c.Password == "":
			c.Password = Secret(authPass)
			c.AuthSource = "argv + " + src
		}
	}
	if ra := getenv("WSREP_SST_OPT_REMOTE_AUTH"); ra != "" {
		u, p, ok := strings.Cut(ra, ":")
		if !ok {
			p = ra
		}
		c.RemoteUser, c.RemotePassword = u, Secret(p)
	}
}

// dirs mirrors create_dirs: InnoDB and Aria directories not given on the
// command line are read from the --mysqld groups.
func (r *resolver) dirs() {
	a := r.c.Args
	for _, d := range []struct {
		dst *string
		key string
	}{
		{&a.InnodbDataHomeDir, "innodb-data-home-dir"},
		{&a.InnodbLogGroupHomeDir, "innodb-log-group-home-dir"},
		{&a.InnodbUndoDir, "innodb-undo-directory"},
		{&a.AriaLogDir, "aria-log-dir-path"},
	} {
		if *d.dst == "" {
			*d.dst = trimDir(r.get(groupsMysqld, d.key, ""))
		} else {
			r.c.Sources[d.key] = "argv"
		}
	}
}

// binlog mirrors get_binlog: binlog name, index and basename fall back to
// the --mysqld groups, a bare log-bin means "<basename>-bin" or
// "mysql-bin", and the index gets its default name and ".index" suffix.
func (r *resolver) binlog() {
	a := r.c.Args
	if a.Binlog == "" {
		a.Binlog = r.get(groupsMysqld, "log-bin", "")
	}
	if a.BinlogIndex == "" {
		a.BinlogIndex = r.get(groupsMysqld, "log-bin-index", "")
	}
	if a.LogBasename == "" {
		a.LogBasename = r.get(groupsMysqld, "log-basename", "")
	}
	if a.Binlog == "" && r.files.Has(groupsMysqld, "log-bin") {
		if a.LogBasename != "" {
			a.Binlog = a.LogBasename + "-bin"
		} else {
			a.Binlog = "mysql-bin"
		}
	}
	if a.Binlog == "" {
		return
	}
	switch {
	case a.BinlogIndex == "" && a.LogBasename != "":
		a.BinlogIndex = a.LogBasename + "-bin.index"
	case a.BinlogIndex == "":
		a.BinlogIndex = a.Binlog + ".index"
	default:
		name := filepath.Base(a.BinlogIndex)
		if !strings.Contains(name, ".") {
			a.BinlogIndex += ".index"
		}
	}
}
