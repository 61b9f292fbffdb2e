// Package sst runs one state snapshot transfer the way the stock
// wsrep_sst_mariabackup script does: the joiner listens, prints "ready",
// receives the donor's two streams, prepares the backup in a staging
// directory and only then replaces its previous data (keep-datadir); the
// donor streams the galera info files and a mariadb-backup --backup stream
// to the joiner and prints "done".
//
// It owns the stdout line protocol with mysqld (and its typed copy,
// Events, for in-process callers), the exit-code table (exit.go), the
// mariadb-backup command lines and runs (mariabackup.go) and the datadir.
// The flows read top to bottom in joiner.go and donor.go; run.go holds
// what both share. The joiner admits only its donor (gate.go: a per-SST
// secret in the ready address, strays refused while it keeps listening);
// the v2 data stage is in v2joiner.go and v2donor.go, its reference data
// (the sources a donor's offers are compared with, or an earlier
// release's manifest) in reference.go, the delta in place (previous data
// that cannot be kept patched inside the staging directory) in
// inplace.go. The staging directory is <datadir>/.sst, or .sst in
// --sst-temp-dir (tempdir.go, the one place that names it). The operator commands receive and send
// (internal/operator) call Run in-process.
//
// It does not parse argv or option files (package config), format the
// log (package logx), run children itself (package proc), stack the byte
// pipe (package pipe, on stream and tlsx), or move datadir entries
// (package swap). Package transfer picks the data stage's engine and runs
// the donor's mariadb-backup for both engines (transfer.Backup), deciding
// which failure is reported; sst maps its errors to exit codes.
package sst
