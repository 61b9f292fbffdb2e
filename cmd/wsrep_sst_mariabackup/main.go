// Command wsrep_sst_mariabackup is a drop-in replacement for MariaDB
// Galera's wsrep_sst_mariabackup script. mysqld runs it with the stock
// argv (see README.md). The subcommands are for people: "explain",
// "version" and "help" (help.go), "check" (check.go), and the manual SST
// pair "receive" and "send" (manual.go).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/logx"
	"wsrep_sst_mariabackup/internal/sst"
)

// version is stamped by the Makefile with -X main.version=...
var version = "dev"

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sst.MemoryLimit)
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, nil))
}

// run is main without the process: search, when non-nil, replaces the
// default option-file search list (tests keep away from /etc with it).
// It returns the exit code of dispatch's error (exitCode).
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer, search []string) int {
	return exitCode(dispatch(argv, stdin, stdout, stderr, search))
}

// dispatch runs what argv asks for, the SST mysqld started or a
// subcommand, and returns its error, logged already.
func dispatch(argv []string, stdin io.Reader, stdout, stderr io.Writer, search []string) error {
	h := logx.NewHandler(stderr, slog.LevelInfo)
	log := slog.New(h)
	args := argv[1:]
	cmd := "sst"
	if len(args) > 0 && args[0] != "" && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "check" {
		return check(args, stdout, log, search)
	}
	if cmd == "receive" || cmd == "send" {
		return manual(cmd, args, stdout, stderr, h, search)
	}
	if done, err := human(cmd, args, stdout, log); done {
		return err
	}

	ctx, stop := signalContext(context.Background())
	defer stop()

	// The server's version selects the version-suffixed option groups
	// ([mysqld-11.8]); Load reports any argv error itself.
	var probe sst.VersionProbe
	if a, err := config.ParseArgs(args, os.Getenv); err == nil {
		probe.Parent = a.Parent
	}
	serverVersion, versionSource := sst.ServerVersion(ctx, probe)
	p := config.LoadParams{Program: argv[0], Argv: args, Search: search, Secrets: h,
		ServerVersion: serverVersion, ServerVersionSource: versionSource}
	if cmd == "sst" {
		// Only a real run reads the credentials mysqld may write there.
		p.Stdin = stdin
	}
	cfg, err := config.Load(ctx, p)
	if err != nil {
		log.Error(h.Redact(err.Error()))
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if cmd == "explain" {
		out, err := cfg.Explain()
		if err != nil {
			log.Error("explain: " + err.Error())
			return err
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return nil
	}
	startSyslog(h, cfg, logx.DefaultSyslogSocket)
	err = sst.Run(ctx, sst.Params{
		Config: cfg,
		Stdout: stdout,
		Log:    log,
		Redact: h,
	})
	if err != nil {
		log.Error(err.Error())
	}
	return err
}
