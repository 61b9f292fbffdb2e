package config

import (
	"encoding/json"
	"sort"
)

// explained is the JSON shape of Explain. Secrets are Secret values, which
// marshal as "***", and the mysqld arguments go through RedactArgs
// and RedactWords.
type explained struct {
	Method      string            `json:"method"`
	Role        string            `json:"role"`
	Address     explainedAddress  `json:"address"`
	Datadir     string            `json:"datadir"`
	Dirs        map[string]string `json:"dirs"`
	Binlog      map[string]string `json:"binlog"`
	GTID        string            `json:"gtid"`
	GTIDDomain  string            `json:"gtid_domain_id"`
	Bypass      bool              `json:"bypass"`
	Progress    int               `json:"progress"`
	Parent      int               `json:"parent"`
	LocalPort   string            `json:"local_port,omitempty"`
	Socket      string            `json:"socket,omitempty"`
	MysqldArgs  string            `json:"mysqld_args"`
	MysqldArgv  []string          `json:"mysqld_argv"`
	InnoExtra   string            `json:"innoextra"`
	User        string            `json:"user"`
	Password    Secret            `json:"password"`
	AuthSource  string            `json:"auth_source"`
	RemoteUser  string            `json:"remote_user,omitempty"`
	RemotePass  Secret            `json:"remote_password,omitempty"`
	OptionFiles []string          `json:"option_files"`
	Warnings    []string          `json:"warnings,omitempty"`
	// ServerVersion selects the version-suffixed groups ([mysqld-11.8]).
	ServerVersion       string            `json:"server_version"`
	ServerVersionSource string            `json:"server_version_source"`
	Settings            []explainedOption `json:"settings"`
}

type explainedAddress struct {
	Raw     string `json:"raw"`
	Rebuilt string `json:"rebuilt"`
	Host    string `json:"host"`
	IPv6    bool   `json:"ipv6"`
	Port    string `json:"port"`
	Module  string `json:"module"`
	LSN     string `json:"lsn"`
	SSTVer  string `json:"sst_ver"`
}

type explainedOption struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// Explain returns the resolved configuration as indented JSON with every
// secret redacted: the output of "wsrep_sst_mariabackup explain".
func (c *Config) Explain() ([]byte, error) {
	a := c.Args
	e := explained{
		Method: c.Method,
		Role:   a.Role,
		Address: explainedAddress{
			Raw: a.AddressRaw, Rebuilt: a.Address, Host: a.HostUnescaped, IPv6: a.IPv6,
			Port: a.Port, Module: a.Module, LSN: a.LSN, SSTVer: a.SSTVer,
		},
		Datadir: a.Datadir,
		Dirs: map[string]string{
			"innodb-data-home-dir":      a.InnodbDataHomeDir,
			"innodb-log-group-home-dir": a.InnodbLogGroupHomeDir,
			"innodb-undo-directory":     a.InnodbUndoDir,
			"aria-log-dir-path":         a.AriaLogDir,
			"sst-temp-dir":              a.SSTTempDir,
		},
		Binlog: map[string]string{
			"log-bin":       a.Binlog,
			"log-bin-index": a.BinlogIndex,
			"log-basename":  a.LogBasename,
		},
		GTID: a.GTID, GTIDDomain: a.GTIDDomainID, Bypass: a.Bypass,
		Progress: a.Progress, Parent: a.Parent, LocalPort: a.LocalPort, Socket: a.Socket,
		MysqldArgs:  RedactArgs(a.mysqldLine),
		MysqldArgv:  RedactWords(a.MysqldArgs),
		InnoExtra:   RedactArgs(a.innoExtraLine),
		User:        c.User,
		Password:    c.Password,
		AuthSource:  c.AuthSource,
		RemoteUser:  c.RemoteUser,
		RemotePass:  c.RemotePassword,
		OptionFiles: c.OptionFiles,
		Warnings:    c.Warnings,

		ServerVersion:       c.ServerVersion,
		ServerVersionSource: c.ServerVersionSource,
	}
	values := c.settingValues()
	names := make([]string, 0, len(c.Sources))
	for k := range c.Sources {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, ok := values[k]
		if !ok {
			continue
		}
		e.Settings = append(e.Settings, explainedOption{Name: k, Value: v, Source: c.Sources[k]})
	}
	return json.MarshalIndent(e, "", "  ")
}

// settingValues maps option names to the resolved values for Explain.
func (c *Config) settingValues() map[string]any {
	m := map[string]any{
		"streamfmt":           c.StreamFmt,
		"transferfmt":         c.TransferFmt,
		"encrypt":             c.Encrypt,
		"ssl-mode":            c.SSLMode,
		"encrypt-algo":        c.EncryptAlgo,
		"encrypt-format":      c.EncryptFormat,
		"encrypt-key":         c.EncryptKey,
		"encrypt-key-file":    c.EncryptKeyFile,
		"encrypt-threads":     c.EncryptThreads,
		"encrypt-chunk-size":  c.EncryptChunkSize,
		"sockopt":             c.Sockopt,
		"progress":            c.Progress,
		"time":                c.Time,
		"cpat":                c.Cpat,
		"compressor":          c.Compressor,
		"decompressor":        c.Decompressor,
		"rlimit":              c.Rlimit,
		"use-extra":           c.UseExtra,
		"sst-special-dirs":    c.SpecialDirs,
		"inno-backup-opts":    RedactWords(c.InnoBackupOpts),
		"inno-apply-opts":     RedactWords(c.InnoApplyOpts),
		"inno-move-opts":      RedactWords(c.InnoMoveOpts),
		"use-memory":          c.UseMemory,
		"sst-initial-timeout": int(c.InitialTimeout.Seconds()),
		"sst-idle-timeout":    int(c.IdleTimeout.Seconds()),
		"keep-datadir":        c.KeepDatadir,
		"donor-auth":          c.DonorAuth,
		"prepare-tool":        c.PrepareTool,
		"status-file":         c.StatusFile,
		"transfer-v2":         c.TransferV2,
		"parallel-streams":    parallelStreams(c.ParallelStreams),
		"sst-syslog":          c.Syslog,
		"syslog-tag":          c.SyslogTag,
		"sst-log-archive":     c.LogArchive,
		"sst-log-archive-dir": c.LogArchiveDir,
		"compress":            c.Compress,
		"compress-chunk-size": c.CompressChunkSize,
		"compress-threads":    c.CompressThreads,
		"backup-threads":      c.BackupThreads,
		"tmpdir":              c.Tmpdir,
		"thread-handling":     c.ThreadHandling,
		"extra-port":          c.ExtraPort,
		"wsrep-sst-auth":      Secret(""),
	}
	if c.Sources["wsrep-sst-auth"] != "default" {
		m["wsrep-sst-auth"] = Secret("set")
	}
	for k, v := range c.TLS {
		m[k] = v
	}
	for _, k := range []string{"innodb-data-home-dir", "innodb-log-group-home-dir", "innodb-undo-directory", "aria-log-dir-path", "log-bin", "log-bin-index", "log-basename"} {
		if _, ok := c.Sources[k]; ok {
			m[k] = c.explainArgValue(k)
		}
	}
	return m
}

func (c *Config) explainArgValue(k string) string {
	a := c.Args
	switch k {
	case "innodb-data-home-dir":
		return a.InnodbDataHomeDir
	case "innodb-log-group-home-dir":
		return a.InnodbLogGroupHomeDir
	case "innodb-undo-directory":
		return a.InnodbUndoDir
	case "aria-log-dir-path":
		return a.AriaLogDir
	case "log-bin":
		return a.Binlog
	case "log-bin-index":
		return a.BinlogIndex
	case "log-basename":
		return a.LogBasename
	}
	return ""
}

func parallelStreams(n int) any {
	if n == 0 {
		return "auto"
	}
	return n
}
