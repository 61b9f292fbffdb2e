// Package sst runs one state snapshot transfer the way the stock
// wsrep_sst_mariabackup script does: the joiner listens, prints "ready",
// receives the donor's two streams, prepares the backup in a staging
// directory and only then replaces its previous data (keep-datadir); the
// donor streams the galera info files and a mariadb-backup --backup stream
// to the joiner and prints "done".
//
// It owns the stdout line protocol with mysqld (and its typed copy,
// Events, for in-process callers), the mariadb-backup command lines and
// runs (mariabackup.go) and the datadir. The flows read top to bottom in
// joiner.go and donor.go; run.go holds what both share. The joiner admits
// only its donor (gate.go: a per-SST secret in the ready address, strays
// refused while it keeps listening, and each v2 connection's hello
// checked in v2joiner.go).
//
// The data stage is package transfer's: the donor's flow (sendBackup)
// hands a transfer.Sender its dialer, pipe stack and a way to start
// mariadb-backup; the joiner's (receiveData) hands a transfer.Receiver
// the connection the gate admitted, the staging directory and the
// decisions only the flow can take, as callbacks: when the staging
// directory is ready, when to clean the datadir (the stock order),
// whether the previous data is patched in place (inplace.go), and the
// reference data a v2 donor's offers are compared with, or an earlier
// release's manifest (reference.go, v2joiner.go). Which engine runs is
// decided by transfer (Choose on the donor, Detect on the joiner); the
// flows do not branch on it. The staging directory is <datadir>/.sst, or
// .sst in --sst-temp-dir (tempdir.go, the one place that names it). The
// operator commands receive and send (internal/operator) call Run
// in-process.
//
// It does not parse argv or option files (package config), format the
// log (package logx), run children itself (package proc), stack the byte
// pipe (package pipe, on stream and tlsx), or move datadir entries
// (package swap). Errors carry their class (package fail) from where
// they happen; failure (joiner.go) is the flows' one rule for which error
// wins (the cancellation cause first), and cmd maps the class to the exit
// code.
package sst
