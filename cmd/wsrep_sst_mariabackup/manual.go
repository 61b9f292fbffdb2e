package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"wsrep_sst_mariabackup/internal/logx"
	"wsrep_sst_mariabackup/internal/operator"
	"wsrep_sst_mariabackup/internal/ui"
)

// The manual SST subcommands: receive on the stopped joiner, send on the
// running donor (internal/operator does the work).
var (
	manualReceive = subcommand{
		name:     "receive",
		synopsis: "--datadir DIR [--listen ADDR:PORT] [--defaults-file F]",
		summary:  "manual SST, joiner side: receive a backup into a stopped node's datadir",
		detail: "Run on the joiner with its server stopped. Listens (default: wsrep_sst_receive_address, else 0.0.0.0:4444) for one 'send' from a donor, " +
			"with the transport options (TLS, compression, rlimit) of the option files, keeps or replaces the datadir as an SST does, " +
			"prepares, moves back, gives the files to the datadir's owner and writes grastate.dat with the backup's position, " +
			"so that the server, once started, joins with IST.\n" +
			"Example: wsrep_sst_mariabackup receive --datadir /var/lib/mysql --defaults-file /etc/mysql/my.cnf",
	}
	manualSend = subcommand{
		name:     "send",
		synopsis: "--to HOST:PORT [--defaults-file F] [--socket S] [--datadir DIR]",
		summary:  "manual SST, donor side: stream a backup of this running, synced node to 'receive'",
		detail: "Run on a synced donor while 'receive' waits on the joiner. The datadir and socket come from the [mysqld] group " +
			"of the option files unless given; the SST user is WSREP_SST_OPT_AUTH, else wsrep_sst_auth (password only through the environment).\n" +
			"Example: wsrep_sst_mariabackup send --to 10.0.0.2:4444 --defaults-file /etc/mysql/my.cnf",
	}
)

// manual runs "receive" or "send"; search replaces the option-file search
// list when non-nil (tests).
func manual(cmd string, args []string, stdout, stderr io.Writer, h *logx.Handler, search []string) error {
	var bar *ui.ProgressBar
	if isTerminal(stderr) {
		// Log lines go above the bar; nothing has been logged or
		// learnt by h yet, so a new handler loses nothing.
		bar = ui.NewProgressBar(stderr)
		stderr = bar
		h = logx.NewHandler(bar, slog.LevelInfo)
	}
	log := slog.New(h)
	s := manualReceive
	if cmd == "send" {
		s = manualSend
	}
	fs := newFlagSet(s)
	p := operator.Params{Search: search, Log: log, Redact: h, Notice: stderr, Progress: bar}
	fs.StringVar(&p.Datadir, "datadir", "", "the datadir (receive: required; send: default [mysqld] datadir)")
	fs.StringVar(&p.DefaultsFile, "defaults-file", "", "read only this option file")
	if cmd == "receive" {
		fs.StringVar(&p.Listen, "listen", "", "address to listen on (default wsrep_sst_receive_address, else 0.0.0.0:4444)")
	} else {
		fs.StringVar(&p.To, "to", "", "the joiner's HOST:PORT, as receive printed it (required)")
		fs.StringVar(&p.Socket, "socket", "", "the server's socket (default [mysqld] socket)")
	}
	if done, err := parseHuman(s, fs, args, stdout, log); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(log, fmt.Sprintf("%s takes no arguments, got %q: run 'wsrep_sst_mariabackup %s --help'", cmd, fs.Arg(0), cmd))
	}
	switch {
	case cmd == "receive" && p.Datadir == "":
		return usageError(log, "receive: --datadir is required: run 'wsrep_sst_mariabackup receive --help'")
	case cmd == "send" && p.To == "":
		return usageError(log, "send: --to HOST:PORT is required (the address 'receive' printed): run 'wsrep_sst_mariabackup send --help'")
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	p.Program = "wsrep_sst_mariabackup"
	var err error
	p.AsOwner = true
	if cmd == "receive" {
		_, err = operator.Receive(ctx, p)
	} else {
		err = operator.Send(ctx, p)
	}
	if err != nil {
		log.Error(h.Redact(err.Error()))
	}
	return err
}

// isTerminal reports whether w is a terminal: a character device other
// than /dev/null (portable, where a TCGETS ioctl is not).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
