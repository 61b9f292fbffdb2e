package sst

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/proc"
	"wsrep_sst_mariabackup/internal/status"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/transfer"
	"wsrep_sst_mariabackup/internal/ui"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// dialBudget bounds how long the donor retries connecting to the joiner.
// The stock joiner listens again for the data stage only after it has
// processed the gtid stage; the stock donor covers that with a fixed
// "sleep 10", we retry with backoff instead.
const dialBudget = 30 * time.Second

// stageSending is the donor's data stage in the status file (the joiner's
// is "receiving").
const stageSending = "sending"

// donor sends the state as the donor branch of wsrep_sst_mariabackup does,
// minus the fixed 10 s sleep between the two stages.
func (s *session) donor(ctx context.Context) (err error) {
	a := s.args
	datadir, err := s.prologue()
	if err != nil {
		return err
	}
	kind := "SST"
	if a.Bypass {
		kind = "IST"
	}
	s.log.Info(fmt.Sprintf("%s %s started on donor", s.cfg.Method, kind))
	if !a.Bypass && a.SSTVer == "" {
		return fail.Errorf(fail.TooOld, "the joiner is not supported for this version of donor (no sst_ver in its address '%s'): Upgrade joiner to 5.6.21 or higher for backup locks support", a.AddressRaw)
	}
	lock, err := acquireLock(ctx, s.log, datadir, lockParams{})
	if err != nil {
		return err
	}
	defer lock.release()
	magic := filepath.Join(datadir, infoFile)
	donorMagic := filepath.Join(datadir, donorInfoFile)
	ist := filepath.Join(datadir, istFile)
	cleanup := func() {
		for _, f := range []string{magic, donorMagic, ist} {
			_ = os.Remove(f)
		}
	}
	cleanup()
	defer cleanup()
	if s.cfg.LogArchive {
		archiveLogs(s.log, datadir, s.cfg.LogArchiveDir, time.Now())
	}
	if s.tr, err = s.setupTransport(); err != nil {
		return err
	}

	addr := net.JoinHostPort(a.HostUnescaped, a.Port)
	if a.Bypass {
		s.log.Info("Bypassing the SST for IST")
		if err := s.proto.line("continue"); err != nil {
			return err
		}
		if err := s.writeMagic(magic, donorMagic); err != nil {
			return err
		}
		if err := os.WriteFile(ist, []byte("1\n"), 0o644); err != nil {
			return fail.Errorf(fail.Missing, "write %s: %w", ist, err)
		}
		if err := s.sendFiles(ctx, addr, "IST", magic, donorMagic, ist); err != nil {
			return err
		}
	} else {
		if err := s.donateSST(ctx, datadir, addr, magic, donorMagic); err != nil {
			return err
		}
	}
	if err := s.proto.line("done %s", a.GTID); err != nil {
		return err
	}
	s.log.Info(fmt.Sprintf("%s %s completed on donor", s.cfg.Method, kind))
	return nil
}

// donateSST runs the gtid stage and then streams mariadb-backup's output.
func (s *session) donateSST(ctx context.Context, datadir, addr, magic, donorMagic string) error {
	tool, err := findBackupTool(ctx, childEnv(s.env))
	if err != nil {
		return err
	}
	base := s.cfg.Tmpdir
	xtmp, err := os.MkdirTemp(base, "sst-xtmp.")
	if err != nil {
		return fail.Errorf(fail.Missing, "create temporary directory (tmpdir=%q): %w", base, err)
	}
	defer os.RemoveAll(xtmp)
	itmp, err := os.MkdirTemp(base, "sst-itmp.")
	if err != nil {
		return fail.Errorf(fail.Missing, "create temporary directory (tmpdir=%q): %w", base, err)
	}
	defer os.RemoveAll(itmp)
	s.log.Info(fmt.Sprintf("Using '%s' as mariadb-backup temporary directory", xtmp))
	s.log.Info(fmt.Sprintf("Using '%s' as mariadb-backup working directory", itmp))

	connExtra, env, err := s.backupConnection()
	if err != nil {
		return err
	}

	// Always estimated: the joiner uses the total to decide whether its
	// previous data and the new data both fit (keep-datadir).
	s.log.Info("Estimating total transfer size")
	s.total = s.footprint(ctx, datadir)
	if s.args.Progress == 1 {
		if err := s.proto.line("total %d", s.total); err != nil {
			return err
		}
	}

	s.status.SetPeer(addr)
	s.status.Stage(status.StageGTID)
	s.log.Info("Streaming GTID file before SST")
	if err := s.writeMagic(magic, donorMagic); err != nil {
		return err
	}
	if err := s.sendFiles(ctx, addr, "gtid", magic, donorMagic); err != nil {
		return err
	}

	args, err := s.backupArgs(tool, xtmp, itmp, connExtra)
	if err != nil {
		return err
	}
	return s.sendBackup(ctx, addr, tool, args, env, datadir)
}

// writeMagic is send_magic: "<gtid> <domain>" in both info files, plus the
// joiner's secret when it sent one.
func (s *session) writeMagic(magic, donorMagic string) error {
	line := fmt.Sprintf("%s %s\n", s.args.GTID, s.args.GTIDDomainID)
	content := line
	if pw := s.cfg.RemotePassword.Reveal(); pw != "" {
		// Let the joiner know that we know its secret.
		content += "secret " + pw + "\n"
	}
	if !s.args.Bypass && s.total > 0 {
		// Tell the joiner what to expect (its progress and its
		// keep-datadir space check; a stock joiner ignores the line
		// unless it reports progress).
		content += fmt.Sprintf("total %d\n", s.total)
	}
	if err := os.WriteFile(magic, []byte(content), 0o600); err != nil {
		return fail.Errorf(fail.Missing, "write %s: %w", magic, err)
	}
	if err := os.WriteFile(donorMagic, []byte(line), 0o644); err != nil {
		return fail.Errorf(fail.Missing, "write %s: %w", donorMagic, err)
	}
	return nil
}

// sendFiles connects to the joiner and sends files as one mbstream, named
// by their base names (the script runs mbstream -c in the datadir).
func (s *session) sendFiles(ctx context.Context, addr, stage string, files ...string) error {
	conn, err := s.dial(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := stream.CloseOnCancel(ctx, conn)
	defer stop()
	ss, err := pipe.OpenSend(ctx, conn, s.tr.pipeConfig("joiner", nil, false))
	if err != nil {
		return failure(ctx, fail.Transfer, "set up the connection", err)
	}
	defer ss.Abort()
	bw := bufio.NewWriter(ss)
	w := mbstream.NewWriter(bw)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fail.Errorf(fail.Missing, "read %s: %w", f, err)
		}
		if err := w.WriteFile(filepath.Base(f), data); err != nil {
			return failure(ctx, fail.Transfer, "send the "+stage+" stage to "+addr, err)
		}
	}
	if err := w.Close(); err != nil {
		return failure(ctx, fail.Transfer, "send the "+stage+" stage to "+addr, err)
	}
	if err := bw.Flush(); err != nil {
		return failure(ctx, fail.Transfer, "send the "+stage+" stage to "+addr, err)
	}
	if err := ss.Finish(ctx); err != nil {
		return failure(ctx, fail.Transfer, "send the "+stage+" stage to "+addr, err)
	}
	return nil
}

// dial connects to the joiner, retrying while it is not listening yet.
func (s *session) dial(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := stream.Dial(ctx, stream.DialConfig{
		Addr: addr, Timeout: s.dialTimeout(), ConnectTimeout: s.sock.ConnectTimeout,
		Network: s.sock.Network, SendBuffer: s.sock.SendBuffer, RecvBuffer: s.sock.RecvBuffer,
		UserTimeout: s.cfg.IdleTimeout,
	})
	if err != nil {
		return nil, failure(ctx, fail.Transfer, "connect to the joiner (check that it is up and its SST port is reachable from here)", err)
	}
	return conn, nil
}

// sendBackup is the data stage: the engine the joiner's address and our
// transport allow (transfer.Choose) runs mariadb-backup --backup and
// sends its stream to the joiner at addr, under the stall watchdog and
// the progress report.
func (s *session) sendBackup(ctx context.Context, addr string, tool *backupTool, args, env []string, datadir string) error {
	e, why := transfer.Choose(transfer.Offer{Token: s.args.LSN, V2: s.cfg.TransferV2, Cipher: s.tr.cipher, Codec: s.tr.codec})
	if why != "" {
		s.log.Info(why)
	}
	// The watchdog cancels ctx (closing the connections, stopping
	// mariadb-backup) when the joiner accepts no data or mariadb-backup
	// produces none.
	ctx, stall, release := s.stallContext(ctx, "joiner")
	defer release()
	progress, stopProgress := s.startProgress(ctx, s.total)
	defer stopProgress()
	pc := s.tr.pipeConfig("joiner", progress, true)
	pc.Watchdog = stall
	done := func() {}
	defer func() { done() }()
	sent, err := transfer.NewSender(e).Send(ctx, transfer.SendParams{
		Addr: addr,
		Dial: func(ctx context.Context) (net.Conn, error) { return s.dial(ctx, addr) },
		Pipe: pc,
		Backup: func(ctx context.Context) (*transfer.Backup, error) {
			b, end, err := s.startBackup(ctx, tool, args, env, datadir, stall)
			if err == nil {
				done = end
			}
			return b, err
		},
		Log:          s.log,
		Streams:      s.cfg.ParallelStreams,
		Token:        s.args.LSN,
		Versions:     xferVersions,
		Secret:       s.cfg.RemotePassword.Reveal(),
		ManifestWait: s.cfg.IdleTimeout,
		OnManifest:   func(m *manifest.Manifest) { raiseMemoryLimit(manifestMemory(m)) },
	})
	if s.cfg.Time && !sent.Started.IsZero() {
		s.log.Info(fmt.Sprintf("Donor-SST took %.3f seconds", time.Since(sent.Started).Seconds()))
	}
	if err != nil {
		return failure(ctx, fail.Transfer, "send the backup stream to "+addr, err)
	}
	secs := time.Since(sent.Started).Seconds()
	if !sent.V2 {
		s.log.Info(fmt.Sprintf("Sent %d bytes in %.1fs", sent.Bytes, secs))
		return nil
	}
	reused := ""
	if sent.Bytes > 0 {
		reused = fmt.Sprintf(", %s (%.0f%%) of it as references to the joiner's data", ui.Bytes(sent.Refs), 100*float64(sent.Refs)/float64(sent.Bytes))
	}
	s.log.Info(fmt.Sprintf("Sent %d bytes in %.1fs over %d stream(s)%s", sent.Bytes, secs, sent.Streams, reused))
	return nil
}

// startBackup runs mariadb-backup --backup (transfer.StartBackup) with
// its stderr in the backup log (and syslog), its output watched by stall
// and counted for the status file, and returns it and what to call once
// it ended.
func (s *session) startBackup(ctx context.Context, tool *backupTool, args, env []string, datadir string, stall *pipe.Watchdog) (*transfer.Backup, func(), error) {
	logFile := filepath.Join(datadir, backupLog)
	f, err := openLog(logFile)
	if err != nil {
		return nil, nil, err
	}
	s.logCommand("mariadb-backup backup", tool.path, args)
	stderr, stderrDone := s.childOutput(f, "backup")
	done := func() {
		stderrDone()
		f.Close()
	}
	b, err := transfer.StartBackup(ctx, transfer.BackupParams{
		Cmd: proc.Cmd{
			Name: "mariadb-backup", Path: tool.path, Args: args, Env: childEnv(s.env, env...),
			Stderr: stderr, LogFile: logFile, WaitDelay: childWaitDelay,
		},
		Stall: stall,
		Hook:  func(r io.Reader) io.Reader { return s.donorPause(ctx, r) },
	})
	if err != nil {
		done()
		return nil, nil, fail.Errorf(fail.Invalid, "%w", err)
	}
	s.status.Stage(stageSending)
	s.status.Bytes(func() (int64, int64) { return b.N(), s.total })
	return b, done, nil
}
