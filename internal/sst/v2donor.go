package sst

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/transfer"
	"wsrep_sst_mariabackup/internal/xfer"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// acceptV2 reports whether the donor runs the v2 data stage
// (transfer.Choose) and logs why not when the joiner offered it.
func (s *session) acceptV2() bool {
	e, why := transfer.Choose(transfer.Offer{Token: s.args.LSN, V2: s.cfg.TransferV2, Cipher: s.tr.cipher, Codec: s.tr.codec})
	if why != "" {
		s.log.Info(why)
	}
	return e == transfer.V2
}

// streamBackupV2 is the donor's v2 data stage: open parallel-streams
// connections (each with its own TLS session and compressor) and greet
// the joiner on each, read the manifest of its reference data, then run
// mariadb-backup and send its mbstream as frames, each run of payload
// bytes the joiner already has as a reference to them.
func (s *session) streamBackupV2(ctx context.Context, addr string, tool *backupTool, args, env []string, datadir string) error {
	n := s.cfg.ParallelStreams
	if n == 0 {
		n = transfer.AutoStreams(s.tr.tlsConfig != nil, s.tr.codec)
	}
	// A joiner that speaks delta by offer gets one connection more, the
	// last, for the offers and its answers; an earlier one sends its
	// manifest on stream 0 instead.
	offers := s.offersDelta()
	nconn := n
	if offers {
		n = min(n, xfer.MaxStreams-1)
		nconn = n + 1
	}
	s.log.Info(fmt.Sprintf("Streaming the backup to joiner at %s: transfer v2, %d stream(s)", addr, n))
	ctx, stall, release := s.stallContext(ctx, "joiner")
	defer release()
	progress, stopProgress := s.startProgress(ctx, s.total)
	defer stopProgress()
	pc := s.tr.pipeConfig("joiner", progress, true)
	pc.Watchdog = stall

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	links := make([]*pipe.Link, nconn)
	var version xfer.Version
	for i := range nconn {
		conn, err := s.dial(ctx, addr)
		if err != nil {
			return err
		}
		conns = append(conns, conn)
		stop := stream.CloseOnCancel(ctx, conn)
		defer stop()
		if links[i], err = pipe.Connect(ctx, conn, pc); err != nil {
			return pipeError(ctx, err)
		}
		if version, err = s.greet(ctx, conn, links[i], xfer.Hello{Versions: xferVersions, Stream: i, Streams: nconn}); err != nil {
			return err
		}
	}
	if offers != (version >= xfer.OfferVersion) {
		return s.v2Error(ctx, "the v2 hello", fmt.Errorf("%w: the joiner's address offers versions up to %s, its hello agreed on %d", xfer.ErrBadHello, s.args.LSN, version))
	}
	var m *manifest.Manifest
	if !offers {
		var err error
		if m, err = s.readManifest(ctx, conns[0], links[0]); err != nil {
			return err
		}
	}

	senders := make([]*pipe.Sender, n)
	defer func() {
		for _, ss := range senders {
			if ss != nil {
				ss.Abort()
			}
		}
	}()
	writers := make([]io.Writer, n)
	if pc.Codec != nil && n > 1 {
		// One compressor per connection, each on its connection's
		// goroutine: n of them use the cores, within n codecs' memory.
		single := pc.Codec.SingleThreaded()
		pc.Codec = &single
	}
	for i, l := range links[:n] {
		c := pc
		if c.Rate > 0 {
			c.Rate = max(c.Rate/int64(n), 1)
		}
		var err error
		if senders[i], err = l.Send(ctx, c); err != nil {
			return pipeError(ctx, err)
		}
		writers[i] = senders[i]
	}
	xs := xfer.NewSender(ctx, writers, xfer.SenderOptions{Version: version})
	var delta transfer.Delta = &transfer.ByManifest{S: xs, M: m}
	var offerer *xfer.Offerer
	if offers {
		var seed [8]byte
		_, _ = rand.Read(seed[:])
		var err error
		// The control stream goes as it is: hashes and answers do not
		// compress, and are a thousandth of the data.
		offerer, err = xfer.NewOfferer(ctx, xs, links[n], links[n], xfer.OffererOptions{Seed: binary.BigEndian.Uint64(seed[:])})
		if err != nil {
			xs.Close()
			return s.stageError(ctx, "start delta by offer with the joiner at "+addr, err)
		}
		delta = offerer
	}
	// endOffers stops the Offerer; after a failure its control
	// connection is closed first, so that it does not wait for answers.
	endOffers := func(failed bool) (xfer.DeltaStats, error) {
		if offerer == nil {
			return xfer.DeltaStats{}, nil
		}
		if failed {
			conns[n].Close()
		}
		o := offerer
		offerer = nil
		return o.Close()
	}
	// abort ends a failed transfer: the connections are reset first (the
	// joiner must see a broken transfer, not the end frames of a complete
	// one), and the stages are released (Abort) only once the Sender's
	// writers, which the reset makes fail, have stopped using them.
	abort := func() {
		for _, ss := range senders {
			ss.Reset()
		}
		_, _ = endOffers(true)
		xs.Close()
		for _, ss := range senders {
			ss.Abort()
		}
	}

	start := time.Now()
	b, done, err := s.startBackup(ctx, tool, args, env, datadir, stall)
	if err != nil {
		abort()
		return err
	}
	defer done()
	sendErr := transfer.SendMbstream(delta, b)
	st, offerErr := endOffers(sendErr != nil)
	if sendErr == nil {
		sendErr = offerErr
	}
	refBytes := st.Reused
	if bm, ok := delta.(*transfer.ByManifest); ok {
		refBytes = bm.Refs
	}
	err = b.Finish(ctx, sendErr)
	if s.cfg.Time {
		s.log.Info(fmt.Sprintf("Donor-SST took %.3f seconds", time.Since(start).Seconds()))
	}
	if err != nil {
		abort()
		return backupError(err, func(err error) error {
			var scanErr *mbstream.ChunkError
			if errors.As(err, &scanErr) {
				return errorf(ExitPipe, "read mariadb-backup's stream: %w", err)
			}
			return errorf(ExitPipe, "send the backup stream to the joiner at %s after %d bytes: %w", addr, b.N(), err)
		})
	}
	if err := xs.Close(); err != nil {
		return s.stageError(ctx, "send the backup stream to "+addr, err)
	}
	// All at once: each Finish ends its compressor and then waits for the
	// joiner to close the connection, which it does once every stream's
	// end frame arrived.
	errs := make(chan error, n)
	for _, ss := range senders {
		go func() { errs <- ss.Finish(ctx) }()
	}
	var finishErr error
	for range senders {
		if err := <-errs; err != nil && finishErr == nil {
			finishErr = err
		}
	}
	clear(senders)
	if finishErr != nil {
		return s.stageError(ctx, "finish the backup stream to "+addr, finishErr)
	}
	reused := ""
	if b.N() > 0 {
		reused = fmt.Sprintf(", %s (%.0f%%) of it as references to the joiner's data", swap.Bytes(refBytes), 100*float64(refBytes)/float64(b.N()))
	}
	s.log.Info(fmt.Sprintf("Sent %d bytes in %.1fs over %d stream(s)%s", b.N(), time.Since(start).Seconds(), n, reused))
	return nil
}

// offersDelta reports whether the joiner's address offers delta by offer
// (xfer.OfferVersion), which this donor then uses.
func (s *session) offersDelta() bool {
	r, _ := xfer.ParseToken(s.args.LSN)
	return min(r.Max, xferVersions.Max) >= xfer.OfferVersion
}

// greet runs the hello exchange on one connection, within the handshake
// bound (a joiner that accepts and says nothing must not hold us), with
// the proof of the joiner's secret when the joiner offered it
// (xfer.AuthVersion).
func (s *session) greet(ctx context.Context, conn net.Conn, l *pipe.Link, h xfer.Hello) (xfer.Version, error) {
	_ = conn.SetReadDeadline(time.Now().Add(pipe.DefaultHandshakeTimeout))
	var v xfer.Version
	var err error
	if r, _ := xfer.ParseToken(s.args.LSN); r.Max >= xfer.AuthVersion {
		// The joiner reads a proof of the secret of its address after
		// our hello (empty when mysqld passed none: a joiner with
		// donor-auth=off ignores it).
		v, err = xfer.GreetAuth(l, h, s.cfg.RemotePassword.Reveal())
	} else {
		v, err = xfer.Greet(l, h)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		return 0, s.v2Error(ctx, fmt.Sprintf("the v2 hello on stream %d", h.Stream), err)
	}
	return v, nil
}

// readManifest reads the joiner's manifest from stream 0. The joiner
// sends it once its reference data is hashed, within half of
// sst-idle-timeout; we wait the whole timeout.
func (s *session) readManifest(ctx context.Context, conn net.Conn, l *pipe.Link) (*manifest.Manifest, error) {
	if t := s.cfg.IdleTimeout; t > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(t))
	}
	m, err := manifest.Decode(bufio.NewReader(l), manifest.DecodeOptions{})
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, errorf(ExitTimedOut, "the joiner sent no manifest of its reference data within sst-idle-timeout=%ds", int(s.cfg.IdleTimeout.Seconds()))
		}
		return nil, errorf(ExitPipe, "read the joiner's manifest: %w", err)
	}
	s.log.Info(fmt.Sprintf("The joiner has %s of reference data in %d files", swap.Bytes(m.Bytes()), len(m.Files())))
	if w := m.Warning(); w != "" {
		s.log.Warn(w)
	}
	raiseMemoryLimit(manifestMemory(m))
	return m, nil
}
