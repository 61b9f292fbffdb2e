// Command wsrep_sst_mariabackup is a drop-in replacement for MariaDB
// Galera's wsrep_sst_mariabackup script. mysqld runs it with the stock
// argv (see README.md); "explain" and "version" are subcommands for people.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/sst"
)

// version is stamped by the Makefile with -X main.version=...
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, nil))
}

// run is main without the process: search, when non-nil, replaces the
// default option-file search list (tests keep away from /etc with it).
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer, search []string) int {
	h := sst.NewLogHandler(stderr, slog.LevelInfo)
	log := slog.New(h)
	args := argv[1:]
	cmd := "sst"
	if len(args) > 0 && args[0] != "" && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "wsrep_sst_mariabackup %s\n", version)
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "explain", "sst":
	default:
		log.Error(fmt.Sprintf("unknown subcommand %q: run with the argv mysqld passes (--role ...), or use explain, version or help", cmd))
		return sst.ExitInvalid
	}

	ctx, stop := sst.SignalContext(context.Background())
	defer stop()

	// The server's version selects the version-suffixed option groups
	// ([mysqld-11.8]); Load reports any argv error itself.
	var probe sst.VersionProbe
	if a, err := config.ParseArgs(args, os.Getenv); err == nil {
		probe.Parent = a.Parent
	}
	serverVersion, versionSource := sst.ServerVersion(ctx, probe)
	cfg, err := config.Load(config.LoadParams{
		Program: argv[0], Argv: args, Search: search,
		ServerVersion: serverVersion, ServerVersionSource: versionSource,
	})
	if err != nil {
		log.Error(h.Redact(err.Error()))
		return sst.ExitCode(err)
	}
	h.AddSecret(cfg.Password.Reveal())
	h.AddSecret(cfg.RemotePassword.Reveal())
	h.AddSecret(cfg.EncryptKey.Reveal())
	if cmd == "explain" {
		out, err := cfg.Explain()
		if err != nil {
			log.Error("explain: " + err.Error())
			return sst.ExitGeneric
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	}
	err = sst.Run(ctx, sst.Params{
		Config: cfg,
		Stdin:  stdin,
		Stdout: stdout,
		Log:    log,
		Redact: h,
	})
	if err != nil {
		log.Error(err.Error())
	}
	return sst.ExitCode(err)
}

const usage = `wsrep_sst_mariabackup: Galera state snapshot transfer with mariadb-backup.

mysqld runs it as wsrep_sst_<method> with the stock argv, e.g.
  wsrep_sst_mariabackup --role 'joiner' --address '10.0.0.2' --datadir '/var/lib/mysql/' --parent 1234 --progress 0

Subcommands:
  explain <argv>   print the resolved configuration as JSON (secrets redacted)
  version          print the version
  help             this text
`
