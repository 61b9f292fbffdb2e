// Package operator is the manual SST a person runs: "receive" on a
// stopped joiner and "send" on a running, synced donor. Each runs the
// joiner or donor flow of sst.Run in-process with the settings an SST
// mysqld starts would get (config.Manual: option files, transport, TLS,
// compression and keep-the-datadir behave exactly as in that SST), and
// follows it through sst.Events rather than its stdout. What mysqld
// would do around the script is done here instead: refuse a datadir a
// running server holds, run as the datadir's owner, ask the donor's
// server for its Galera position (the mariadb client), and on the joiner
// give the files to the datadir's owner and write grastate.dat so that
// the node joins with IST.
//
// It is its own package, not part of cmd, so that it is tested like the
// rest of internal/ (cmd only parses flags and maps errors to exit
// codes); and not part of sst, which is the mysqld protocol flow and
// knows nothing of terminals, grastate.dat or the mariadb client. It
// does not draw (internal/ui) or format log lines (internal/logx).
package operator
