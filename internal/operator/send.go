package operator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/proc"
	"wsrep_sst_mariabackup/internal/sst"
	"wsrep_sst_mariabackup/internal/xfer"
)

// Send is the donor of a manual SST: it reads the server's datadir and
// socket from the option files (unless given), asks the server for its
// position, and runs the donor flow to the joiner at p.To. The SST user
// is WSREP_SST_OPT_AUTH, else [mysqld] wsrep_sst_auth, else [sst]
// wsrep-sst-auth, as for mysqld's SST.
func Send(ctx context.Context, p Params) error {
	if p.To == "" {
		return fail.Errorf(fail.Invalid, "send: --to HOST:PORT is required")
	}
	if strings.ContainsAny(p.To, "/@ ") || !strings.Contains(p.To, ":") {
		return fail.Errorf(fail.Invalid, "send: --to %q: want HOST:PORT, as receive printed it", p.To)
	}
	files, err := config.ReadOptionFiles(config.Files{DefaultsFile: p.DefaultsFile, Search: p.Search})
	if err != nil {
		return fail.Wrap(fail.Missing, err)
	}
	lookup := func(key string) string {
		o, _ := files.Lookup("--mysqld", key)
		return o.Value
	}
	datadir := p.Datadir
	if datadir == "" {
		if datadir = lookup("datadir"); datadir == "" {
			return fail.Errorf(fail.Invalid, "send: the server's datadir is not in the option files: pass --datadir or --defaults-file")
		}
	}
	if p.AsOwner && os.Geteuid() == 0 {
		uid, gid, err := ownerOf(datadir)
		if err != nil {
			return fail.Errorf(fail.Missing, "send: %w", err)
		}
		if uid > 0 {
			if err := dropPrivileges(uid, gid); err != nil {
				return fail.Errorf(fail.Unexpected, "send: run as the owner of %s (uid %d gid %d): %w", datadir, uid, gid, err)
			}
			p.Log.Info(fmt.Sprintf("Running as the owner of %s (uid %d gid %d), as the server's SST would (an SST user IDENTIFIED VIA unix_socket logs in as that user)", datadir, uid, gid))
		}
	}
	socket := p.Socket
	if socket == "" {
		socket = lookup("socket")
	}
	sstAuth := lookup("wsrep-sst-auth")
	getenv := func(k string) string {
		v := p.getenv(k)
		if k == "WSREP_SST_OPT_AUTH" && v == "" {
			return sstAuth
		}
		return v
	}
	if p.Redact != nil && sstAuth != "" {
		if _, pw, ok := strings.Cut(sstAuth, ":"); ok {
			p.Redact.AddSecret(pw)
		}
	}
	// receive is this program: it takes transfer v2 (delta against the
	// datadir it receives into, parallel streams), offered as its ready
	// line would; transfer-v2=0 in [sst] sends the stock stream.
	m := config.Manual{Role: "donor", Address: p.To + "/xtrabackup_sst/" + xfer.Supported.Token() + "/1", Datadir: datadir,
		GTID: "00000000-0000-0000-0000-000000000000:-1", GTIDDomainID: "0", Socket: socket,
		DefaultsFile: p.DefaultsFile, Progress: p.Progress != nil}
	cfg, err := p.load(ctx, m, getenv)
	if err != nil {
		return err
	}
	if cfg.RemotePassword == "" {
		p.Log.Warn("no WSREP_SST_OPT_REMOTE_AUTH in the environment: a joiner with donor-auth (the default) refuses a donor that does not know its secret; run the command receive printed, with its WSREP_SST_OPT_REMOTE_AUTH='...'")
	}
	st, err := serverStatus(ctx, cfg, p.DefaultsFile, socket)
	if err != nil {
		return err
	}
	if s := st["wsrep_local_state_comment"]; s != "Synced" {
		return fail.Errorf(fail.Invalid, "send: the server is %q, not Synced: send from a synced node", s)
	}
	seqno, err := strconv.ParseInt(st["wsrep_last_committed"], 10, 64)
	uuid := st["wsrep_local_state_uuid"]
	if err != nil || !validUUID(uuid) {
		return fail.Errorf(fail.Invalid, "send: the server reports no Galera position (wsrep_local_state_uuid %q, wsrep_last_committed %q): is wsrep on?", uuid, st["wsrep_last_committed"])
	}
	cfg.Args.GTID = Position{UUID: uuid, Seqno: seqno}.String()
	if d := st["wsrep_gtid_domain_id"]; d != "" {
		cfg.Args.GTIDDomainID = d
	}
	p.Log.Info(fmt.Sprintf("Donor position when the send starts: %s (the joiner takes the backup's own)", cfg.Args.GTID))
	ev := p.progressEvents()
	ev.Position = func(gtid string) { p.Log.Info("Sent; the donor was at " + gtid + " when it started") }
	err = sst.Run(ctx, sst.Params{Config: cfg, Stdout: io.Discard, Log: p.Log, Redact: p.Redact, Events: ev})
	p.Progress.Finish()
	return err
}

// serverStatus asks the donor's server, through the mariadb client, for
// its Galera state; the password travels only in MYSQL_PWD.
func serverStatus(ctx context.Context, cfg *config.Config, defaultsFile, socket string) (map[string]string, error) {
	client := ""
	for _, name := range []string{"mariadb", "mysql"} {
		if path, err := exec.LookPath(name); err == nil {
			client = path
			break
		}
	}
	if client == "" {
		return nil, fail.Errorf(fail.Missing, "the mariadb client is not in PATH: install mariadb-client")
	}
	var args []string
	if defaultsFile != "" {
		args = append(args, "--defaults-file="+defaultsFile)
	}
	if socket != "" {
		args = append(args, "--socket="+socket)
	}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	args = append(args, "--connect-timeout=10", "-N", "-B", "-e",
		"SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_uuid','wsrep_last_committed','wsrep_local_state_comment'); "+
			"SELECT 'wsrep_gtid_domain_id', @@global.wsrep_gtid_domain_id")
	var env []string
	if pw := cfg.Password.Reveal(); pw != "" {
		env = append(env, "MYSQL_PWD="+pw)
	}
	var stdout bytes.Buffer
	err := proc.Run(ctx, proc.Cmd{Name: "mariadb", Path: client, Args: args, Env: sst.ChildEnv(nil, env...), Stdout: &stdout})
	if err != nil {
		return nil, fail.Errorf(fail.Invalid, "ask the server for its Galera position (check that it runs and that the SST user may connect): %w", err)
	}
	st := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
			st[k] = v
		}
	}
	return st, nil
}
