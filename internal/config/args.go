package config

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
	// AddressRaw is the --address value as given, trimmed.
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
	// to the option-file reader (WSREP_SST_OPT_DEFAULT & co).
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

	// MysqldArgs is the reconstructed mysqld argument string the script
	// passes to mariadb-backup (WSREP_SST_OPT_MYSQLD), shell-quoted
	// exactly as the script builds it. It may contain secrets; log
	// RedactArgs(MysqldArgs) instead.
	MysqldArgs string
	// InnoExtra is the script's INNOEXTRA: the innodb, aria and binlog
	// options rebuilt from the values above, shell-quoted.
	InnoExtra string
}
