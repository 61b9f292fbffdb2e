package sst

import "wsrep_sst_mariabackup/internal/logx"

// LogHandler is the log handler cmd passes in Params.Log: with it, Run
// also sends mariadb-backup's output to syslog when the log goes there
// (mariabackup.go childOutput). It lives in internal/logx; these two names
// stay until mariabackup.go uses logx directly.
type LogHandler = logx.Handler

// ChildSyslogTag is logx.ChildSyslogTag.
func ChildSyslogTag(syslogTag, stage string) string { return logx.ChildSyslogTag(syslogTag, stage) }
