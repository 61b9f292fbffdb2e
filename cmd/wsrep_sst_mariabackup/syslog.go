package main

import (
	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/logx"
)

// startSyslog switches the log to the syslog socket when the option files
// ask for it: [sst] sst-syslog=1, or [mysqld_safe] syslog unless
// sst-syslog=-1 (config resolves that into cfg.Syslog), with the script's
// tag "${syslog-tag}wsrep-sst-<role>". Only an SST run does this; explain
// and the human subcommands keep stderr.
func startSyslog(h *logx.Handler, cfg *config.Config, socket string) {
	if cfg.Syslog != 1 || cfg.Args == nil {
		return
	}
	h.UseSyslog(socket, logx.SyslogTag(cfg.SyslogTag, cfg.Args.Role))
}
