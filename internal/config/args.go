package config

import (
	"fmt"
	"strconv"
)

// Args is what the argument loop of wsrep_sst_common extracts from the
// command line mysqld builds (SPEC §A.2), after its post-processing: values
// found only inside --mysqld-args fill the empty fields, the binlog name is
// derived from --log-bin/--log-basename, and the port is reconciled with the
// address. Field comments name the script variable each one mirrors.
type Args struct {
	// Role is "joiner" or "donor" (WSREP_SST_OPT_ROLE; default "donor").
	Role string
	// RoleSet reports whether --role was given at all.
	RoleSet bool

	// Address is the rebuilt address host:port[/path] (WSREP_SST_OPT_ADDR).
	Address string
	// AddressRaw is WSREP_SST_OPT_ADDR as the argument loop left it: the
	// last --address value trimmed, or the host of a later --host. It is
	// the "--address=" of the port-conflict message.
	AddressRaw string
	// Host is the host part, with brackets for IPv6 (WSREP_SST_OPT_HOST).
	Host string
	// HostUnescaped is Host without brackets (WSREP_SST_OPT_HOST_UNESCAPED).
	HostUnescaped string
	// IPv6 reports a bracketed host (WSREP_SST_OPT_HOST_IPv6).
	IPv6 bool
	// AddrPort is the port taken from the address, or Port when the
	// address had none (WSREP_SST_OPT_ADDR_PORT).
	AddrPort string
	// Path is everything after the first "/" following host:port
	// (WSREP_SST_OPT_PATH); Module, LSN and SSTVer are its parts.
	Path   string
	Module string
	LSN    string
	SSTVer string

	// Port is --port, else the address port, else 4444 (WSREP_SST_OPT_PORT).
	Port string
	// LocalPort is the donor's mysqld port (WSREP_SST_OPT_LPORT).
	LocalPort string
	// Socket is the donor's mysqld socket (WSREP_SST_OPT_SOCKET).
	Socket string
	// Parent is mysqld's pid, 0 when absent (WSREP_SST_OPT_PARENT).
	Parent int
	// Bypass selects IST (WSREP_SST_OPT_BYPASS).
	Bypass bool
	// Progress is the --progress value, 1 when mysqld runs with wsrep_debug
	// (WSREP_SST_OPT_PROGRESS).
	Progress int

	// Datadir without a trailing slash (WSREP_SST_OPT_DATA).
	Datadir string
	// SSTTempDir is where the joiner stages the SST instead of the
	// datadir (--sst-temp-dir DIR, or --sst-temp-dir=DIR inside
	// --mysqld-args; WSREP_SST_OPT_TMP_DIR), without a trailing slash:
	// what MariaDB 13.0's wsrep_sst_tmp_dir passes (MDEV-29909). "" means
	// the datadir.
	SSTTempDir string
	// AriaLogDir is --aria-log-dir-path (ARIA_LOG_DIR).
	AriaLogDir string
	// InnodbDataHomeDir (INNODB_DATA_HOME_DIR; also read from the
	// environment variable of that name, as the script does).
	InnodbDataHomeDir string
	// InnodbLogGroupHomeDir (INNODB_LOG_GROUP_HOME).
	InnodbLogGroupHomeDir string
	// InnodbUndoDir (INNODB_UNDO_DIR).
	InnodbUndoDir string
	// InnodbBufferPoolFilename (INNODB_BUFFER_POOL).
	InnodbBufferPoolFilename string
	// InnodbBufferPoolSize (INNODB_BUFFER_POOL_SIZE).
	InnodbBufferPoolSize string
	// InnodbForceRecovery is a non-zero --innodb-force-recovery found in
	// --mysqld-args (INNODB_FORCE_RECOVERY).
	InnodbForceRecovery string

	// DefaultsFile, DefaultsExtraFile and DefaultsGroupSuffix are passed on
	// to the option-file reader (WSREP_SST_OPT_DEFAULT & co), trimmed. The
	// first occurrence of each wins (the script makes them readonly).
	DefaultsFile        string
	DefaultsExtraFile   string
	DefaultsGroupSuffix string

	// User and Password from argv (WSREP_SST_OPT_USER, WSREP_SST_OPT_PSWD),
	// "(null)" already turned into "".
	User     string
	Password Secret

	// GTID is "uuid:seqno" (WSREP_SST_OPT_GTID); GTIDDomainID the domain.
	GTID         string
	GTIDDomainID string

	// Binlog is the binlog base name (WSREP_SST_OPT_BINLOG), BinlogIndex
	// the index name (WSREP_SST_OPT_BINLOG_INDEX), LogBasename
	// (WSREP_SST_OPT_LOG_BASENAME). LogBinSeen reports a --log-bin without
	// a value inside --mysqld-args (MYSQLD_OPT_LOG_BIN set but empty).
	Binlog      string
	BinlogIndex string
	LogBasename string
	LogBinSeen  bool

	// MysqldArgs are the words of the script's WSREP_SST_OPT_MYSQLD, the
	// mysqld options it passes on to mariadb-backup after
	// "--mysqld-args", as sh would split the string the script builds,
	// but built word by word so that a quote inside a value cannot break
	// the line. Unlike the script, every --wsrep-sst-auth option is left
	// out, with its value when that is the next word: mariadb-backup does
	// not need it and argv is visible in ps.
	MysqldArgs []string
	// InnoExtra are the words of the script's INNOEXTRA: the innodb, aria
	// and binlog options rebuilt from the values above.
	InnoExtra []string

	// mysqldLine and innoExtraLine are WSREP_SST_OPT_MYSQLD and
	// INNOEXTRA exactly as the script builds them (shell-quoted, with
	// the SST password when mysqld passed one), for the parity tests and
	// explain; never run or log them unredacted.
	mysqldLine    string
	innoExtraLine string
}

// Limits on the command line ParseArgs accepts. mysqld builds a few dozen
// short arguments; anything near these bounds is not from mysqld.
const (
	maxArgs   = 10000
	maxArgLen = 64 << 10
)

// argError is an error the script reports with its own wording (the text
// after "WSREP_SST: [ERROR] "); Unwrap gives the sentinel that selects the
// exit code.
type argError struct {
	msg string
	err error
}

func (e *argError) Error() string { return e.msg }
func (e *argError) Unwrap() error { return e.err }

// argLoop holds the script variables the argument loop of wsrep_sst_common
// and its post-processing read and write, named after them.
type argLoop struct {
	role, addr, host, hostUnescaped, hostIPv6  shVar
	addrPort, path, module, lsn, sstVer        shVar
	port, lport, socket, parent                shVar
	bypass, progress, data                     shVar
	ariaLogDir, innodbDataHome, innodbLogGroup shVar
	innodbUndo, bufferPool, bufferPoolSize     shVar
	forceRecovery, sstTmpDir                   shVar
	defaultsFile, extraFile, groupSuffix       shVar
	user, pswd, gtid, gtidDomainID             shVar
	binlog, binlogIndex, logBasename, mysqld   shVar
	innoExtra                                  string
	// mysqldWords and innoExtraWords are the words of mysqld and
	// innoExtra (see Args.MysqldArgs).
	mysqldWords, innoExtraWords []string
	roleSet                     bool
	addrRaw                     string

	// The MYSQLD_OPT_* variables: values found in --mysqld-args, used
	// only when the matching explicit option was absent.
	optAriaLogDir, optInnodbDataHome, optInnodbLogGroup   shVar
	optInnodbUndo, optBufferPool, optBufferPoolSize       shVar
	optLogBin, optLogBinIndex, optLogBasename, optDatadir shVar
	optSSTTmpDir                                          shVar
}

// ParseArgs mirrors the argument loop of wsrep_sst_common (the
// `while [ $# -gt 0 ]; do case "$1" in` block) and the post-processing that
// follows it, up to the rebuilt WSREP_SST_OPT_ADDR. argv is the command
// line after the program name; getenv supplies the environment variables
// the script reads at its top (INNODB_DATA_HOME_DIR, INNODB_LOG_GROUP_HOME,
// INNODB_UNDO_DIR, WSREP_SST_OPT_USER, WSREP_SST_OPT_PSWD).
// WSREP_SST_OPT_AUTH is not resolved here.
//
// Options take their value from the next argument only ("--opt value"):
// the script's case patterns never match "--opt=value", so such words are
// ignored like every unknown or empty argument. An option at the end of
// argv without a value gets "".
//
// The returned error wraps ErrInvalid for an unrecognized role, a
// non-numeric --port, --local-port, --parent or --progress, or an absurd
// command line (more than 10,000 arguments or one over 64 KiB), and
// ErrPortConflict when --port differs from the port in --address. For the
// role and the port conflict, Error returns the script's own message.
//
// Where bash would do something unhelpful, ParseArgs deviates on purpose:
// the script evaluates "$(( $2 ))", so a variable name counts as 0 and a
// syntax error aborts the whole loop; ParseArgs accepts integer constants
// only. A role of "!" or "(" slips through the script's
// `[ "$R" != donor -a "$R" != joiner ]`; ParseArgs rejects it. Variables
// the script forgets to initialise (WSREP_SST_OPT_ROLE, MYSQLD_OPT_* ...)
// are not taken from the environment.
func ParseArgs(argv []string, getenv func(string) string) (*Args, error) {
	if len(argv) > maxArgs {
		return nil, fmt.Errorf("parse arguments: %d arguments, more than %d: %w", len(argv), maxArgs, ErrInvalid)
	}
	for i, a := range argv {
		if len(a) > maxArgLen {
			return nil, fmt.Errorf("parse arguments: argument %d is %d bytes, more than %d: %w", i+1, len(a), maxArgLen, ErrInvalid)
		}
	}
	l := newArgLoop(getenv)
	if err := l.run(argv); err != nil {
		return nil, err
	}
	if err := l.finish(); err != nil {
		return nil, err
	}
	return l.args(), nil
}

// newArgLoop sets the variables as the script does before its loop.
func newArgLoop(getenv func(string) string) *argLoop {
	l := &argLoop{}
	l.bypass.assign("0")
	l.progress.assign("0")
	l.binlog.assign("")
	l.binlogIndex.assign("")
	l.logBasename.assign("")
	l.data.assign("")
	l.user.assign(getenv("WSREP_SST_OPT_USER"))
	l.pswd.assign(getenv("WSREP_SST_OPT_PSWD"))
	l.mysqld.assign("")
	l.port.assign("")
	l.addr.assign("")
	l.addrPort.assign("")
	l.host.assign("")
	l.hostUnescaped.assign("")
	l.ariaLogDir.assign("")
	l.innodbDataHome.assign(trimDir(getenv("INNODB_DATA_HOME_DIR")))
	l.innodbLogGroup.assign(trimDir(getenv("INNODB_LOG_GROUP_HOME")))
	l.innodbUndo.assign(trimDir(getenv("INNODB_UNDO_DIR")))
	l.bufferPool.assign("")
	l.bufferPoolSize.assign("")
	l.forceRecovery.assign("")
	return l
}

// run is the while/case loop itself.
func (l *argLoop) run(argv []string) error {
	for i := 0; i < len(argv); i++ {
		// $2, or "" when the option is the last argument; the branch's
		// own "shift" then fails and the loop's "shift" ends the loop.
		val := ""
		if i+1 < len(argv) {
			val = argv[i+1]
		}
		takesValue := true
		switch opt := argv[i]; opt {
		case "--address":
			l.address(trimString(val))
		case "--bypass":
			l.bypass.readonly("1")
			takesValue = false
		case "--progress", "--local-port", "--parent", "--port":
			// readonly X=$(( $2 ))
			n, err := shellArith(val)
			if err != nil {
				return fmt.Errorf("parse %s %q: %w", opt, val, err)
			}
			l.arithVar(opt).readonly(strconv.FormatInt(n, 10))
		case "--datadir":
			l.data.readonly(trimDir(val))
		case "--sst-temp-dir":
			l.sstTmpDir.readonly(trimDir(val))
		case "--aria-log-dir-path":
			l.ariaLogDir.readonly(trimDir(val))
		case "--innodb-data-home-dir":
			l.innodbDataHome.readonly(trimDir(val))
		case "--innodb-log-group-home-dir":
			l.innodbLogGroup.readonly(trimDir(val))
		case "--innodb-undo-directory":
			l.innodbUndo.readonly(trimDir(val))
		case "--innodb-buffer-pool-filename":
			l.bufferPool.readonly(trimString(val))
		case "--innodb-buffer-pool-size":
			l.bufferPoolSize.readonly(trimString(val))
		case "--defaults-file":
			l.defaultsFile.readonly(trimString(val))
		case "--defaults-extra-file":
			l.extraFile.readonly(trimString(val))
		case "--defaults-group-suffix":
			l.groupSuffix.readonly(trimString(val))
		case "--host":
			l.hostOpt(trimString(val))
		case "--password":
			l.pswd.assign(val)
		case "--role":
			l.role.readonly(trimString(val))
		case "--socket":
			l.socket.readonly(trimString(val))
		case "--user":
			l.user.assign(val)
		case "--gtid":
			l.gtid.readonly(trimString(val))
		case "--binlog", "--log-bin":
			l.binlog.readonly(trimString(val))
		case "--binlog-index", "--log-bin-index":
			l.binlogIndex.assign(trimString(val))
		case "--log-basename":
			l.logBasename.readonly(trimString(val))
		case "--gtid-domain-id":
			l.gtidDomainID.readonly(trimString(val))
		case "--mysqld-args":
			l.mysqldArgs(argv[i+1:])
			return nil
		default:
			// "Must be command usage": unknown words, empty words and
			// "--opt=value" forms are skipped one at a time.
			takesValue = false
		}
		if takesValue {
			i++
		}
	}
	return nil
}

// arithVar returns the variable an arithmetic option sets.
func (l *argLoop) arithVar(opt string) *shVar {
	switch opt {
	case "--progress":
		return &l.progress
	case "--local-port":
		return &l.lport
	case "--parent":
		return &l.parent
	default:
		return &l.port
	}
}

// finish mirrors the script from the role check after the loop down to the
// rebuilt WSREP_SST_OPT_ADDR.
func (l *argLoop) finish() error {
	l.roleSet = l.role.set
	if l.role.set {
		if r := l.role.val; r != "donor" && r != "joiner" {
			return &argError{msg: fmt.Sprintf("Unrecognized role: '%s'", r), err: ErrInvalid}
		}
	} else {
		l.role.readonly("donor")
	}

	// "The same argument can be present on the command line several
	// times, in this case we must take its last value."
	for _, f := range []struct{ opt, dst *shVar }{
		{&l.optAriaLogDir, &l.ariaLogDir},
		{&l.optInnodbDataHome, &l.innodbDataHome},
		{&l.optInnodbLogGroup, &l.innodbLogGroup},
		{&l.optInnodbUndo, &l.innodbUndo},
		{&l.optBufferPool, &l.bufferPool},
		{&l.optBufferPoolSize, &l.bufferPoolSize},
		{&l.optLogBin, &l.binlog},
		{&l.optLogBinIndex, &l.binlogIndex},
		{&l.optDatadir, &l.data},
		{&l.optLogBasename, &l.logBasename},
		{&l.optSSTTmpDir, &l.sstTmpDir},
	} {
		if testNonEmpty(f.opt.val) && f.dst.val == "" {
			// readonly X=..., a no-op if an explicit empty option
			// already made X readonly.
			if f.dst == &l.binlogIndex {
				f.dst.assign(f.opt.val) // the one plain assignment
			} else {
				f.dst.readonly(f.opt.val)
			}
		}
	}

	// --log-bin without a value inside --mysqld-args.
	if l.binlog.val == "" && l.optLogBin.set {
		if l.logBasename.val != "" {
			l.binlog.readonly(l.logBasename.val + "-bin")
		} else {
			l.binlog.readonly("mysql-bin")
		}
	}

	if b := l.logBasename.val; b != "" {
		l.mysqld.assign(joinSpace("--log-basename='"+b+"'", l.mysqld.val))
		l.mysqldWords = append([]string{"--log-basename=" + b}, l.mysqldWords...)
	}
	for _, e := range []struct{ name, val string }{
		{"aria-log-dir-path", l.ariaLogDir.val},
		{"innodb-data-home-dir", l.innodbDataHome.val},
		{"innodb-log-group-home-dir", l.innodbLogGroup.val},
		{"innodb-undo-directory", l.innodbUndo.val},
		{"innodb-buffer-pool-filename", l.bufferPool.val},
		{"innodb-buffer-pool-size", l.bufferPoolSize.val},
		{"log-bin", l.binlog.val},
	} {
		if e.val != "" {
			l.innoExtra += " --" + e.name + "='" + e.val + "'"
			l.innoExtraWords = append(l.innoExtraWords, "--"+e.name+"="+e.val)
		}
	}
	if l.binlog.val != "" && l.binlogIndex.val != "" {
		l.mysqld.assign(joinSpace("--log-bin-index='"+l.binlogIndex.val+"'", l.mysqld.val))
		l.mysqldWords = append([]string{"--log-bin-index=" + l.binlogIndex.val}, l.mysqldWords...)
	}

	return l.reconcilePort()
}

// args converts the script variables into Args.
func (l *argLoop) args() *Args {
	parent, _ := strconv.ParseInt(l.parent.val, 10, 64)
	progress, _ := strconv.ParseInt(l.progress.val, 10, 64)
	a := &Args{
		Role:                     l.role.val,
		RoleSet:                  l.roleSet,
		Address:                  l.addr.val,
		AddressRaw:               l.addrRaw,
		Host:                     l.host.val,
		HostUnescaped:            l.hostUnescaped.val,
		IPv6:                     l.hostIPv6.val == "1",
		AddrPort:                 l.addrPort.val,
		Path:                     l.path.val,
		Module:                   l.module.val,
		LSN:                      l.lsn.val,
		SSTVer:                   l.sstVer.val,
		Port:                     l.port.val,
		LocalPort:                l.lport.val,
		Socket:                   l.socket.val,
		Parent:                   int(parent),
		Bypass:                   l.bypass.val == "1",
		Progress:                 int(progress),
		Datadir:                  l.data.val,
		SSTTempDir:               l.sstTmpDir.val,
		AriaLogDir:               l.ariaLogDir.val,
		InnodbDataHomeDir:        l.innodbDataHome.val,
		InnodbLogGroupHomeDir:    l.innodbLogGroup.val,
		InnodbUndoDir:            l.innodbUndo.val,
		InnodbBufferPoolFilename: l.bufferPool.val,
		InnodbBufferPoolSize:     l.bufferPoolSize.val,
		InnodbForceRecovery:      l.forceRecovery.val,
		DefaultsFile:             l.defaultsFile.val,
		DefaultsExtraFile:        l.extraFile.val,
		DefaultsGroupSuffix:      l.groupSuffix.val,
		User:                     l.user.val,
		Password:                 Secret(l.pswd.val),
		GTID:                     l.gtid.val,
		GTIDDomainID:             l.gtidDomainID.val,
		Binlog:                   l.binlog.val,
		BinlogIndex:              l.binlogIndex.val,
		LogBasename:              l.logBasename.val,
		LogBinSeen:               l.optLogBin.set && l.optLogBin.val == "",
		MysqldArgs:               l.mysqldWords,
		InnoExtra:                l.innoExtraWords,
		mysqldLine:               l.mysqld.val,
		innoExtraLine:            l.innoExtra,
	}
	// The script's "Get rid of incorrect values resulting from
	// substitution in programs external to the script".
	if a.User == "(null)" {
		a.User = ""
	}
	if a.Password == "(null)" {
		a.Password = ""
	}
	return a
}
