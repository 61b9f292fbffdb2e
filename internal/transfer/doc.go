// Package transfer moves a donor's backup to the joiner: the data stage of
// an SST, after the flows in package sst have set it up.
//
// Choose (transfer.go) is the donor's side of the negotiation: from the
// token a joiner put in its ready address and the donor's own transport
// it picks the engine, Stock (the script's one mbstream stream) or V2
// (package xfer's frames over parallel connections, payload the joiner
// already has sent as references; v2.go). Offers is the joiner's side.
// SendMbstream cuts mariadb-backup's stream into headers and payloads for
// a Delta: ByManifest (the joiner's manifest says what it has: versions 1
// and 2) or an xfer.Offerer (the joiner answers offers: version 3).
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
