// Package preflight checks a node's SST setup before an SST needs it: the
// "wsrep_sst_mariabackup check" subcommand. It reads the option files as an
// SST run would (config.Manual: the values mysqld would pass), then looks
// at what a transfer will use: unknown [sst] keys, mariadb-backup and its
// version against mariadbd's, the SST user's login and privileges when
// mysqld is up, the TLS files, the joiner's SST port, the space for the
// keep-the-datadir rule, the donor's tmpdir, and what an interrupted SST
// left in the datadir. Given the peer's server version, it says whether the
// two straddle an InnoDB redo-log format change (redo.go) and which side
// must set prepare-tool.
//
// Every problem is a Finding: one line saying what is wrong and how to fix
// it. The package changes nothing on the node: it never runs swap.Recover,
// never removes a marker, and only binds the SST port for as long as it
// takes to see that it is free. Passwords reach the mariadb client only
// through MYSQL_PWD and never appear in a Finding.
package preflight
