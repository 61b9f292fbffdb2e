// Package transfer moves a donor's backup to the joiner: the data stage of
// an SST, after the flows in package sst have set it up.
//
// Every engine's sender runs the donor's mariadb-backup --backup the same
// way, as a Backup (backup.go): started through package proc, its output
// watched for stalls by a pipe.Watchdog and counted, and, when the backup
// and the sending both end, one rule for which failure is reported
// (Backup.Finish).
//
// It takes plain values (commands, watchdogs, readers and writers) and
// reports typed errors (BackupError, SendError); it knows nothing of
// mysqld's line protocol, my.cnf, exit codes or the datadir, which stay in
// package sst, the caller.
package transfer
