package operator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/sst"
	"wsrep_sst_mariabackup/internal/ui"
)

// DefaultSSTPort is the port a manual receive listens on without --listen
// (the script's default, WSREP_SST_OPT_PORT).
const DefaultSSTPort = "4444"

// Params are the inputs of Receive and Send.
type Params struct {
	// Program is argv[0] (its base name gives the SST method name).
	Program string
	// Datadir is the joiner's datadir (receive, required) or the donor's
	// (send; "" means [mysqld] datadir from the option files).
	Datadir string
	// Listen is the receive address, ADDR[:PORT]; "" means the option
	// files' wsrep_sst_receive_address, else all interfaces, port 4444.
	Listen string
	// To is the joiner's HOST:PORT (send, required).
	To string
	// DefaultsFile is --defaults-file, "" for the default search.
	DefaultsFile string
	// Socket is the donor server's socket; "" means [mysqld] socket.
	Socket string
	// Search, when non-nil, replaces the option-file search list (tests).
	Search []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Log receives the log lines; Redact (may be nil) learns secrets.
	Log    *slog.Logger
	Redact sst.Secrets
	// Notice receives the lines an operator must read unredacted (the
	// command to run on the donor, which may carry the joiner's secret);
	// nil means Log.
	Notice io.Writer
	// AsOwner makes Receive and Send run as the datadir's owner (mysqld's
	// user on a packaged node) when started as root: they drop to that
	// user's uid, gid and groups before anything touches the datadir, as
	// an SST mysqld starts would run. So nothing planted in the datadir
	// (a symbolic link at a file we write) can make root write elsewhere,
	// and an SST user IDENTIFIED VIA unix_socket logs in. The whole
	// process changes user: only the receive and send commands set it.
	AsOwner bool
	// Progress, when non-nil, draws the data stage's progress (a
	// terminal); otherwise the option files' progress setting applies.
	Progress *ui.ProgressBar
}

func (p *Params) getenv(k string) string {
	if p.Getenv != nil {
		return p.Getenv(k)
	}
	return os.Getenv(k)
}

func (p *Params) notice(line string) {
	if p.Notice != nil {
		fmt.Fprintln(p.Notice, line)
		return
	}
	p.Log.Info(line)
}

func (p *Params) load(ctx context.Context, m config.Manual, getenv func(string) string) (*config.Config, error) {
	cfg, err := m.Load(ctx, config.LoadParams{Program: p.Program, Search: p.Search, Getenv: getenv, Secrets: p.Redact})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		p.Log.Warn(w)
	}
	return cfg, nil
}

// progressEvents draws Run's progress on p.Progress, if any.
func (p *Params) progressEvents() sst.Events {
	if p.Progress == nil {
		return sst.Events{}
	}
	return sst.Events{Total: p.Progress.SetTotal, Progress: p.Progress.Update}
}
