package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/preflight"
)

// checkCommand describes "check" for help, the man page and its --help.
var checkCommand = subcommand{
	name:     "check",
	synopsis: "[--role donor|joiner|both] [--defaults-file F] [--peer-version X.Y.Z] [--user U]",
	summary:  "check this node's SST setup; one line per problem with its fix",
	detail: "Reads the option files as an SST would and checks what a transfer will use, with mysqld up or down: " +
		"unknown [sst] options (with the nearest known one), values out of range, mariadb-backup and its version " +
		"against mariadbd's, the SST user's login and privileges (mysqld up), certificates (readable, key matches, " +
		"chain, expiry; warns 30 days ahead), the joiner's SST port, free disk space for keep-datadir, entries of the " +
		"datadir the joiner's swap cannot move aside as mysqld's user (--user, else the datadir's owner when run as root), the donor's " +
		"tmpdir, and an interrupted swap or a stale sst_in_progress in the datadir. Changes nothing.\n" +
		"With --peer-version (the other node's server version, e.g. during a major-version upgrade) it says for each role " +
		"whether this node and the peer straddle an InnoDB redo-log format change (10.5.1, 10.8.1): the joiner prepares " +
		"the donor's backup, so a newer joiner needs [sst] prepare-tool = the donor version's mariadb-backup; " +
		"with prepare-tool set it reports that tool's version and whether it can prepare the peer's backup.\n" +
		"Prints one line per problem, warning or note, then a summary; exits 22 if there is a problem, 0 otherwise.",
}

// check runs the check subcommand; search is as for run.
func check(args []string, stdout io.Writer, log *slog.Logger, search []string) error {
	fs := newFlagSet(checkCommand)
	role := fs.String("role", "both", "donor, joiner or both")
	defaults := fs.String("defaults-file", "", "read only this option file (as mysqld's --defaults-file)")
	usr := fs.String("user", "", "the user mysqld runs as, whose permissions the swap check judges (default: this user, or the datadir's owner when run as root)")
	peer := fs.String("peer-version", "", "the other node's server version (10.6.21 or 10.6): say whether the two straddle an InnoDB redo-log format change")
	if done, err := parseHuman(checkCommand, fs, args, stdout, log); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(log, fmt.Sprintf("check takes no arguments, got %q: run 'wsrep_sst_mariabackup check --help'", fs.Arg(0)))
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	r, err := preflight.Run(ctx, preflight.Params{Role: *role, DefaultsFile: *defaults, PeerVersion: *peer, User: *usr, Search: search})
	if err != nil {
		return usageError(log, fmt.Sprintf("check: %v: run 'wsrep_sst_mariabackup check --help'", err))
	}
	for _, f := range r.Findings {
		fmt.Fprintln(stdout, f.String())
	}
	fmt.Fprintln(stdout, r.Summary())
	if n := r.Problems(); n > 0 {
		return fail.Errorf(fail.Invalid, "check found %d problem(s)", n)
	}
	return nil
}
