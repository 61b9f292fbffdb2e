package sst

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/status"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/transfer"
	"wsrep_sst_mariabackup/internal/ui"
	"wsrep_sst_mariabackup/internal/xfer"
)

// joiner receives the state as the joiner branch of wsrep_sst_mariabackup
// does, with two differences on purpose: the previous data is replaced only
// once the new data is prepared (keep-datadir; see receiveSST), and one
// listener serves both donor sessions (so "ready" is printed exactly once,
// as soon as the port is bound).
func (s *session) joiner(ctx context.Context) (err error) {
	datadir, err := s.prologue()
	if err != nil {
		return err
	}
	if s.tr, err = s.setupTransport(); err != nil {
		return err
	}
	if err := os.MkdirAll(datadir, 0o755); err != nil {
		return fail.Errorf(fail.Missing, "create datadir: %w", err)
	}
	lock, err := acquireLock(ctx, s.log, datadir, lockParams{})
	if err != nil {
		return err
	}
	defer lock.release()
	defer func() {
		if s.refused != nil {
			s.refused.flush()
		}
	}()
	s.log.Info(fmt.Sprintf("%s SST started on joiner", s.cfg.Method))
	// A swap a crash interrupted is finished or undone before anything
	// else looks at the datadir.
	if err := s.recoverSwap(ctx, datadir); err != nil {
		return err
	}
	// Unlike the script, the previous SST's info files stay: they belong
	// to the previous data, which is replaced only once the new data is
	// prepared (the wipe or the swap removes them then).
	if s.cfg.LogArchive {
		archiveLogs(s.log, datadir, s.cfg.LogArchiveDir, time.Now())
	}
	dirs, err := s.joinerDirs(datadir)
	if err != nil {
		return err
	}
	// MariaDB's wsrep_sst_tmp_dir (MDEV-29909): stage there, not in the
	// datadir; checked before anything is received.
	if err := s.useSSTTempDir(datadir, dirs); err != nil {
		return err
	}
	unmark, err := s.markInProgress(datadir)
	if err != nil {
		return err
	}
	defer unmark()
	if s.offerV2() {
		s.ref = s.startReference(ctx, datadir, dirs)
		defer func() { s.ref.stop() }()
	}

	ln, err := s.listen(ctx)
	if err != nil {
		return err
	}
	defer ln.Close()
	statdir, err := os.MkdirTemp("", "sst-gtid.")
	if err != nil {
		return fail.Errorf(fail.Missing, "create temporary directory: %w", err)
	}
	defer os.RemoveAll(statdir)
	s.status.Stage(status.StageListening)
	if err := s.printReady(); err != nil {
		return err
	}

	magic, err := s.receiveGTID(ctx, ln, statdir)
	if err != nil {
		return err
	}
	coordsFile := filepath.Join(statdir, donorInfoFile)
	kind := "SST"
	if _, err := os.Stat(filepath.Join(statdir, istFile)); err == nil {
		kind = "IST"
		s.log.Info(fmt.Sprintf("'%s' received from donor: Running IST", istFile))
	} else {
		if err := s.receiveSST(ctx, ln, datadir, dirs, s.cfg.CpatRegexp); err != nil {
			return err
		}
		coordsFile = filepath.Join(datadir, donorInfoFile)
		if magic, err = findInfoFile(datadir); err != nil {
			return fail.Errorf(fail.Missing, "internal error: SST magic file not found or not readable in %s after move-back", datadir)
		}
	}
	if err := s.mtrDelay(ctx); err != nil {
		return err
	}
	if err := s.printCoords(coordsFile, magic); err != nil {
		return err
	}
	// The interrupted attempt's data served this transfer, or a stock
	// one made it useless: either way it goes.
	s.ref.stop()
	if err := os.RemoveAll(s.resumePath(datadir)); err != nil {
		s.log.Warn(fmt.Sprintf("remove %s: %v", s.resumePath(datadir), err))
	}
	_ = os.Remove(filepath.Join(datadir, reflinkShort))
	// MariaDB's mtr tests grep for "<method> IST completed on joiner".
	s.log.Info(fmt.Sprintf("%s %s completed on joiner", s.cfg.Method, kind))
	return nil
}

// joinerDirs is create_dirs 1: the separate InnoDB data home, undo and
// log directories and the Aria log directory, absolute and created; ""
// where one is the datadir itself.
func (s *session) joinerDirs(datadir string) ([]string, error) {
	a := s.args
	var dirs []string
	for _, d := range []string{a.InnodbDataHomeDir, a.InnodbUndoDir, a.InnodbLogGroupHomeDir, a.AriaLogDir} {
		p, err := resolveDir(datadir, d)
		if err != nil {
			return nil, fail.Wrap(fail.Missing, err)
		}
		dirs = append(dirs, p)
	}
	return dirs, nil
}

// markInProgress creates the sst_in_progress marker; the returned
// function removes it.
func (s *session) markInProgress(datadir string) (func(), error) {
	marker := filepath.Join(datadir, progressMarker)
	if _, err := os.Stat(marker); err == nil {
		s.log.Info("Stale sst_in_progress file: " + marker)
	}
	// Not through a symbolic link planted there (see tryLock).
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return nil, fail.Errorf(fail.Missing, "create %s: %w", marker, err)
	}
	return func() {
		s.log.Info("Removing the sst_in_progress file")
		_ = os.Remove(marker)
	}, nil
}

// printReady prints the "ready" line with the address the donor must use.
// sst_ver is 1 (backup locks). The lsn field, empty in the script, offers
// transfer v2 (xfer.Range.Token) when this joiner can take it; a stock
// donor ignores the field.
func (s *session) printReady() error {
	a := s.args
	module := a.Module
	if module == "" {
		module = "xtrabackup_sst"
	}
	lsn := ""
	if s.ref != nil {
		lsn = xferVersions.Token()
	}
	return s.proto.line("ready %s%s:%s/%s/%s/1", s.tr.addrPrefix, a.Host, a.Port, module, lsn)
}

// printCoords prints the final line: the donor's coordinates, or those of
// the galera info file (recovery).
func (s *session) printCoords(coordsFile, magic string) error {
	coords, err := firstLine(coordsFile)
	if err == nil {
		s.log.Info("Galera co-ords from donor: " + coords)
	} else {
		if coords, err = firstLine(magic); err != nil {
			return fail.Errorf(fail.Missing, "read galera info: %w", err)
		}
		s.log.Info("Galera co-ords from recovery: " + coords)
	}
	if strings.TrimSpace(coords) == "" {
		return fail.Errorf(fail.Transfer, "failed to get current position: the galera info file is empty")
	}
	return s.proto.line("%s", coords)
}

// listen binds the SST port where the address says. When the address is
// not local (NAT, a container's public address) it falls back to all
// interfaces of that family, which is what the stock script's socat
// TCP-LISTEN always does.
func (s *session) listen(ctx context.Context) (*stream.Listener, error) {
	a := s.args
	port, err := strconv.Atoi(a.Port)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fail.Errorf(fail.Invalid, "invalid SST port %q", a.Port)
	}
	// TCP_USER_TIMEOUT = sst-idle-timeout: data unacknowledged that long
	// (a half-open peer) fails the connection even inside the kernel.
	lc := stream.ListenConfig{Host: a.HostUnescaped, Port: port, Network: s.sock.Network,
		SendBuffer: s.sock.SendBuffer, RecvBuffer: s.sock.RecvBuffer, UserTimeout: s.cfg.IdleTimeout}
	ln, err := stream.Listen(ctx, lc)
	if err != nil && errors.Is(err, syscall.EADDRNOTAVAIL) {
		any := "0.0.0.0"
		if a.IPv6 {
			any = "::"
		}
		s.log.Warn(fmt.Sprintf("%s is not a local address; listening on %s port %d instead", a.HostUnescaped, any, port))
		lc.Host = any
		ln, err = stream.Listen(ctx, lc)
	}
	if err != nil {
		return nil, fail.Errorf(fail.Transfer, "%w: free the port or set another one in wsrep_sst_receive_address", err)
	}
	s.log.Info(fmt.Sprintf("Listening for the donor on %s", ln.Addr()))
	return ln, nil
}

// receiveGTID is the first stage (recv_joiner for the gtid stage): within
// sst-initial-timeout, admit the donor's connection (gate.go: strays are
// refused and logged, the secret checked in memory) and write its small
// stream of galera info files into dir. It returns the path of the galera
// info file.
func (s *session) receiveGTID(ctx context.Context, ln *stream.Listener, dir string) (string, error) {
	sctx := ctx
	if t := s.cfg.InitialTimeout; t > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeoutCause(ctx, t, fail.Errorf(fail.Transfer,
			"possible timeout in receiving first data from donor in gtid stage (sst-initial-timeout=%ds): check that the donor can reach this node's SST port", int(t.Seconds())))
		defer cancel()
	}
	st, err := s.acceptGTID(sctx, ln)
	if err != nil {
		return "", err
	}
	s.donorHost = st.host
	s.status.Stage(status.StageGTID)
	s.status.SetPeer(st.host)
	if s.tr.mySecret != "" {
		s.log.Info(fmt.Sprintf("The donor at %s proved this joiner's secret in the gtid stage", st.host))
	}
	for name, b := range st.files {
		// Plain names only (parseGTIDStage), in our own temporary
		// directory; O_EXCL: each name once.
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err == nil {
			_, err = f.Write(b)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return "", fail.Errorf(fail.Missing, "write the gtid stage's %s: %w", name, err)
		}
	}
	s.log.Info(fmt.Sprintf("Extracted %d files (gtid stage)", len(st.files)))
	magic, err := findInfoFile(dir)
	if err != nil {
		return "", fail.Errorf(fail.Transfer, "receiving process ended without creating magic file (%s) in %s", infoFile, dir)
	}
	if v, ok := tagValue(magic, "total"); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			s.total = n
			if s.args.Progress == 1 {
				if err := s.proto.line("total %d", n); err != nil {
					return "", err
				}
			}
		}
	}
	return magic, nil
}

// failure is how a step of the flows reports err, the one rule for which
// error wins: the cancellation cause (a timeout, the parent gone, a
// signal) over the I/O error it provoked; else err as it is when it has a
// class (it was given one where it happened); else err after what, with
// class and the fallback to the stock stream when it is a v2 protocol
// error (transfer.V2Hint).
func failure(ctx context.Context, class fail.Class, what string, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	if err == nil || fail.Has(err) {
		return err
	}
	return fail.Errorf(class, "%s: %w%s", what, err, transfer.V2Hint(err))
}

// receiveSST is the data stage: wait for the donor's backup stream,
// extract it into the staging directory (<datadir>/.sst, or .sst in
// --sst-temp-dir), prepare it, and only then replace the
// previous data (keep-datadir): a failure before the swap leaves the
// datadir as it was. When old and new do not both fit (keep-datadir=auto)
// the datadir is cleaned when the stream starts, as the script does.
func (s *session) receiveSST(ctx context.Context, ln *stream.Listener, datadir string, dirs []string, keep *regexp.Regexp) error {
	tool, err := findBackupTool(ctx, childEnv(s.env))
	if err != nil {
		return err
	}
	t := s.targetsFor(datadir, dirs, keep)
	staging := t.staging
	if _, err := os.Stat(staging); err == nil {
		s.log.Info(fmt.Sprintf("WARNING: Stale temporary SST directory: '%s' from previous state transfer, removing...", staging))
		if err := os.RemoveAll(staging); err != nil {
			return fail.Errorf(fail.Missing, "remove stale %s: %w", staging, err)
		}
	}
	decision, err, decided := s.unmovable(t)
	if !decided {
		decision, err = s.decideKeep(t, s.total)
		switch {
		case err == nil && decision == stockOrder && s.cfg.KeepDatadir != "0" && s.ref != nil && s.ref.roots[resumePrefix] != "":
			// Not to make room yet: a delta in place builds on it;
			// decided at the data stage.
			s.resumeAtStream = true
		case (err != nil || decision != keepOld && s.cfg.KeepDatadir != "0") && s.dropResume(ctx, datadir, dirs):
			decision, err = s.decideKeep(t, s.total)
		}
	}
	if err != nil {
		return err
	}
	if err := s.receiveData(ctx, ln, t, decision); err != nil {
		return err
	}
	s.status.Stage(status.StagePreparing)
	if err := s.prepareStaging(ctx, t, tool); err != nil {
		return err
	}
	moveBack := func() error { return s.moveBack(ctx, tool, staging, datadir) }
	s.status.Stage(status.StageSwapping)
	if decision == keepOld {
		swapStart := time.Now()
		if err := s.swapIn(ctx, t, moveBack); err != nil {
			return s.failStaging(ctx, t, err, err)
		}
		s.log.Info(fmt.Sprintf("Replaced the previous data in %.3fs", time.Since(swapStart).Seconds()))
	} else if err := moveBack(); err != nil {
		return s.failStaging(ctx, t, err, err)
	}
	s.log.Info("Move successful, removing " + staging)
	if err := os.RemoveAll(staging); err != nil {
		s.log.Warn(fmt.Sprintf("remove %s: %v", staging, err))
	}
	if a := s.args; a.Binlog != "" {
		recreateBinlogDirs(s.log, datadir, a.Binlog, a.BinlogIndex)
	}
	return nil
}

// receiveData accepts the donor's data stream and has the engine it
// opens with (transfer.Detect) extract it into the staging directory. In
// the stock order the datadir is cleaned once the first bytes have
// arrived; a delta in place first moves the previous data into the
// staging directory.
func (s *session) receiveData(ctx context.Context, ln *stream.Listener, t targets, decision keepDecision) error {
	staging := t.staging
	s.log.Info("Proceeding with SST: waiting for the donor's data stream")
	ctx, stall, release := s.stallContext(ctx, "donor")
	defer release()
	progress, stopProgress := s.startProgress(ctx, s.total)
	defer stopProgress()
	pc := s.tr.pipeConfig("donor", progress, false)
	pc.Watchdog = stall

	p := transfer.RecvParams{Pipe: pc, Staging: staging, Log: s.log}
	e, stop, err := s.firstDataConn(ctx, ln, &p)
	if err != nil {
		return err
	}
	defer p.First.Conn.Close()
	defer stop()
	stagingMade, inPlace := false, false
	var created *createdSink
	p.Receiving = func(n func() int64) error {
		s.status.Stage(status.StageReceiving)
		if !stagingMade {
			if err := os.Mkdir(staging, 0o755); err != nil {
				return s.localError(ctx, t, "create "+staging, err)
			}
		}
		s.status.Bytes(func() (int64, int64) { return n(), s.total })
		return nil
	}
	p.Started = func() error {
		if decision == stockOrder {
			return s.cleanDatadir(t)
		}
		return nil
	}
	p.Accept = func(ctx context.Context) (transfer.Conn, xfer.Hello, error) { return s.nextV2Conn(ctx, ln, pc) }
	p.Prepare = func(v xfer.Version) (bool, error) {
		if v == 0 && s.ref != nil {
			s.log.Info("The donor sends the stock stream (a stock donor, or transfer-v2=0 there): no delta")
			s.ref.stop()
		}
		// With offers, previous data that cannot be kept is patched in
		// place rather than wiped (inplace.go).
		if v < xfer.OfferVersion || decision != stockOrder {
			s.dropResumeAtStream(ctx, t)
			return false, nil
		}
		moved, err := s.moveIntoStaging(t)
		if err != nil {
			return false, s.localError(ctx, t, "move the previous data into "+staging, err)
		}
		stagingMade, inPlace = true, moved > 0
		if inPlace {
			s.log.Info(fmt.Sprintf("Delta in place: moved %d entries of the previous data into '%s'; the new data is built over them (unchanged blocks stay, changed ones are written)", moved, staging))
		}
		return inPlace, nil
	}
	p.References = func(ctx context.Context, links []transfer.Conn, v xfer.Version, inPlace bool) (*transfer.Refs, error) {
		return s.referenceFor(ctx, links, v, decision, t, inPlace)
	}
	p.Sink = func(d *mbstream.DirSink) mbstream.Sink {
		if inPlace {
			created = newCreatedSink(d)
			return created
		}
		return d
	}
	got, err := transfer.NewReceiver(e).Receive(ctx, p)
	if err != nil {
		var se *transfer.StreamError
		if errors.As(err, &se) {
			return s.failStaging(ctx, t, failure(ctx, fail.Transfer, "receive the SST data stream", se.Err), se.Err)
		}
		return failure(ctx, fail.Transfer, "receive the SST data stream", err)
	}
	if created != nil {
		n, err := created.removeStale(staging)
		if err != nil {
			return s.failStaging(ctx, t, s.localError(ctx, t, "remove what the donor no longer has from "+staging, err), err)
		}
		s.log.Info(fmt.Sprintf("Delta in place: %s of the previous data left where it was; removed %d entries the donor no longer has", ui.Bytes(got.Kept), n))
	}
	s.logReceived(got)
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// logReceived logs what the data stage received.
func (s *session) logReceived(got transfer.Received) {
	secs := got.Elapsed.Seconds()
	if !got.V2 {
		s.log.Info(fmt.Sprintf("Received %d bytes in %.1fs", got.Stream, secs))
		return
	}
	reused := ""
	if total := got.Stream; total > 0 {
		reused = fmt.Sprintf(", %s (%.0f%%) of it from the reference data", ui.Bytes(got.Refs), 100*float64(got.Refs)/float64(total))
		if got.Cloned > 0 {
			reused += fmt.Sprintf(", %s of that sharing the reference files' blocks (reflink) rather than written", ui.Bytes(got.Cloned))
		}
	}
	if a := got.Answers; got.ByOffer {
		s.log.Info(fmt.Sprintf("Delta by offer: %s offered, %s of it here already; %s of the reference data read to compare",
			ui.Bytes(a.Offered), ui.Bytes(a.Have), ui.Bytes(a.Read)))
	}
	s.log.Info(fmt.Sprintf("Received %d bytes in %.1fs: %s on the wire over %d stream(s)%s (v2 wire=%d reused=%d shared=%d inplace=%d)",
		got.Stream, secs, ui.Bytes(got.Wire), got.Streams, reused, got.Wire, got.Refs, got.Cloned, got.Kept))
}

// firstDataConn waits for the donor's first data connection, admitted
// by the gate, and returns the engine its stream opens with, with the
// connection in p.First (and, for V2, its hello answered in p.Hello and
// p.Version), and a stop function: the connection is closed when ctx is
// cancelled until stop is called. A joiner that offered no V2 reads
// whatever comes as the stock stream, as the script does.
func (s *session) firstDataConn(ctx context.Context, ln *stream.Listener, p *transfer.RecvParams) (transfer.Engine, func(), error) {
	for {
		conn, err := s.acceptFromDonor(ctx, ln, "data")
		if err != nil {
			return "", nil, err
		}
		stop := stream.CloseOnCancel(ctx, conn)
		e, ok, err := s.openDataConn(ctx, conn, p)
		if err != nil || !ok {
			stop()
			conn.Close()
		}
		if err != nil {
			return "", nil, err
		}
		if ok {
			return e, stop, nil
		}
		// Refused and logged; wait for the donor's.
	}
}

// openDataConn is firstDataConn's work on one connection: ok false for a
// v2 hello refused (logged).
func (s *session) openDataConn(ctx context.Context, conn net.Conn, p *transfer.RecvParams) (transfer.Engine, bool, error) {
	c := transfer.Conn{Conn: conn}
	var err error
	if c.Link, err = pipe.Accept(ctx, conn, p.Pipe); err != nil {
		return "", false, failure(ctx, fail.Transfer, "set up the connection", err)
	}
	c.R = bufio.NewReaderSize(c.Link, pipe.RecvBufferSize)
	if _, err := c.R.Peek(1); err != nil {
		// Nothing has been touched yet: a donor that failed before
		// sending data leaves this datadir as it was.
		return "", false, failure(ctx, fail.Transfer, "the donor closed the data stream before sending any data (the datadir was left untouched; see the donor's error log)", err)
	}
	p.First = c
	if s.ref == nil {
		return transfer.Stock, true, nil
	}
	e, err := transfer.Detect(c.R)
	if err != nil {
		return "", false, failure(ctx, fail.Transfer, "read the data stream", err)
	}
	if e != transfer.V2 {
		return e, true, nil
	}
	hello, version, ok, err := s.answerV2(ctx, c)
	if err != nil || !ok {
		return "", false, err
	}
	p.Hello, p.Version = hello, version
	return e, true, nil
}

// nextV2Conn is a v2 transfer's next data connection: admitted by the
// gate, its hello answered (refused ones are closed and logged).
func (s *session) nextV2Conn(ctx context.Context, ln *stream.Listener, pc pipe.Config) (transfer.Conn, xfer.Hello, error) {
	for {
		conn, err := s.acceptFromDonor(ctx, ln, "data")
		if err != nil {
			return transfer.Conn{}, xfer.Hello{}, err
		}
		c := transfer.Conn{Conn: conn}
		if c.Link, err = pipe.Accept(ctx, conn, pc); err != nil {
			conn.Close()
			return c, xfer.Hello{}, failure(ctx, fail.Transfer, "set up the connection", err)
		}
		c.R = bufio.NewReaderSize(c.Link, pipe.RecvBufferSize)
		h, _, ok, err := s.answerV2(ctx, c)
		if err != nil {
			conn.Close()
			return c, h, err
		}
		if ok {
			return c, h, nil
		}
		conn.Close()
	}
}

// prepareStaging checks the received backup, decompresses qpress files,
// runs --prepare and drops the donor's binary logs (MDEV-38147).
func (s *session) prepareStaging(ctx context.Context, t targets, tool *backupTool) error {
	staging := t.staging
	if err := checkCheckpoints(staging); err != nil {
		return err
	}
	if err := s.decompressQpress(ctx, staging); err != nil {
		return s.failStaging(ctx, t, err, err)
	}
	if err := s.prepare(ctx, tool, staging, t.datadir); err != nil {
		return s.failStaging(ctx, t, err, err)
	}
	if a := s.args; a.Binlog != "" {
		s.removeReceivedBinlogs(staging, filepath.Base(a.Binlog))
	}
	return nil
}

// mtrDelay honours MTR_SST_JOINER_DELAY, the stock script's test hook,
// read from Params.Env (ours when nil), the environment mtr gave us.
func (s *session) mtrDelay(ctx context.Context) error {
	v := strings.TrimSpace(envValue(s.env, "MTR_SST_JOINER_DELAY"))
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return nil
	}
	s.log.Info(fmt.Sprintf("Sleeping %d seconds for MTR test", n))
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(time.Duration(n) * time.Second):
		return nil
	}
}

// envValue returns k's value in env, or in ours when env is nil (as for
// Params.Env).
func envValue(env []string, k string) string {
	if env == nil {
		return os.Getenv(k)
	}
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v
		}
	}
	return ""
}
