// Package config turns what mysqld hands the SST program (argv, environment)
// and the MariaDB option files into one resolved Config.
//
// It mirrors three pieces of the stock scripts: the argument loop of
// wsrep_sst_common (args.go), my_print_defaults plus the script's parse_cnf
// and in_config helpers (optfile.go), and read_cnf of wsrep_sst_mariabackup
// (settings.go). Precedence is resolved once, here: script defaults < option
// files < argv. Nothing downstream reads ini files or flags.
//
// The package does not talk to mysqld, start programs or touch the network,
// and it never logs: callers decide what to print, and use Config.Redacted
// (or the Secret type's String method) so that passwords never reach a log.
package config
