// Package sst runs one state snapshot transfer the way the stock
// wsrep_sst_mariabackup script does: the joiner listens, prints "ready",
// receives the donor's two streams and prepares and moves the backup into
// the datadir; the donor streams the galera info files and a
// mariadb-backup --backup stream to the joiner and prints "done".
//
// It owns the stdout line protocol with mysqld, the log format on stderr,
// the exit-code table, child processes (mariadb-backup, mbstream) and the
// datadir. It does not parse argv or option files (package config), and
// the byte pipe itself (TCP, framing) lives in package stream.
package sst
