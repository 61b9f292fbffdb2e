// Package config turns what mysqld hands the SST program (argv, the
// environment, and on newer donors the credentials on stdin) and the
// MariaDB option files into one resolved, validated Config.
//
// It mirrors three pieces of the stock scripts: the argument loop of
// wsrep_sst_common (args.go, address.go, with the bash it relies on
// emulated in shell.go), my_print_defaults plus the script's parse_cnf and
// in_config helpers (optfile.go), and read_cnf of wsrep_sst_mariabackup
// (config.go, tls.go, transfer.go, cpat.go). Precedence is resolved once,
// here: script defaults < option files < argv, and values come out parsed:
// option strings as words, sockopt as SockOpts, rlimit in bytes per
// second, cpat as a compiled regexp, encrypt/ssl-mode as TransportTLS.
// Nothing downstream reads ini files, flags or stdin, or splits words.
//
// The package does not talk to mysqld, start programs or touch the network,
// and it never logs: it returns Config.Warnings and TransportTLS.Notes for
// the caller to print. Passwords are Secret values, whose String method
// hides them; RedactArgs and RedactWords hide them in command lines, and
// LoadParams.Secrets learns each one as soon as it is read.
package config
