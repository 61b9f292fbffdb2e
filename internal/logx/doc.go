// Package logx is the program's log: a slog.Handler writing the stock
// script's line shape, "WSREP_SST: [INFO] message (20261124
// 11:35:50.123)", on stderr, scrubbing registered secrets from every line,
// and optionally sending records, and a child's output, to the local
// syslog socket as the script does with sst-syslog (syslog.go). A
// LineWriter cuts a child's output into bounded lines for a log.
//
// It knows nothing of the SST itself: cmd makes one Handler per process
// and passes it down as a *slog.Logger (and as the secrets registry);
// there is no global logger.
package logx
