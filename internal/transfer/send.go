package transfer

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/ui"
	"wsrep_sst_mariabackup/internal/xfer"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// Sender is an engine's donor side: it connects to the joiner, starts
// the backup (SendParams.Backup) and sends it, and reports what it sent.
// Its errors have their class (package fail); the caller still prefers
// its context's cause (a stall, a signal) over them.
type Sender interface {
	Send(ctx context.Context, p SendParams) (Sent, error)
}

// NewSender returns engine e's sender.
func NewSender(e Engine) Sender {
	if e == V2 {
		return v2Sender{}
	}
	return stockSender{}
}

// SendParams is what a sender takes from the flow: plain values and
// functions, none of the configuration.
type SendParams struct {
	// Addr is the joiner's data address, for messages.
	Addr string
	// Dial connects to the joiner, retrying while it does not listen
	// yet; its error is the caller's to word and class.
	Dial func(context.Context) (net.Conn, error)
	// Pipe is every connection's stack (TLS, cipher, codec, rate limit,
	// progress, watchdog). V2 shares the rate limit and gives each
	// connection a single-threaded codec of its own.
	Pipe pipe.Config
	// Backup starts mariadb-backup --backup once the connections are up.
	Backup func(context.Context) (*Backup, error)
	// Log is the SST log.
	Log *slog.Logger

	// V2 only. Streams is parallel-streams (0: AutoStreams). Token is
	// the lsn field of the joiner's address (the versions it offers),
	// Versions ours. Secret proves the joiner's secret in each hello
	// (xfer.AuthVersion). ManifestWait bounds the wait for an earlier
	// release's manifest, OnManifest sees it (memory limit).
	Streams      int
	Token        string
	Versions     xfer.Range
	Secret       string
	ManifestWait time.Duration
	OnManifest   func(*manifest.Manifest)
}

// Sent is what a sender sent.
type Sent struct {
	// Started is when the backup started (zero if it did not).
	Started time.Time
	// Bytes is the backup's stream; Refs of it went as references to
	// the joiner's data (V2).
	Bytes, Refs int64
	// Streams is the number of data connections.
	Streams int
	// V2 is set for transfer v2.
	V2 bool
}

// stageError is the failure of a step of an engine, a sender's or a
// receiver's: class Transfer with V2Hint's advice, unless it has a class
// of its own.
func stageError(what string, err error) error {
	if fail.Has(err) {
		return err
	}
	return fail.Errorf(fail.Transfer, "%s: %w%s", what, err, V2Hint(err))
}

// V2Hint is what a v2 protocol error's message adds: a reference that does
// not match, or a hello without a common version, is a bug or a mix-up of
// nodes, and the hint says how to fall back to the stock stream.
func V2Hint(err error) string {
	switch {
	case errors.Is(err, xfer.ErrRefMismatch), errors.Is(err, xfer.ErrRefPath), errors.Is(err, xfer.ErrRefRange):
		return " (the joiner's reference data changed during the SST, or a bug: set [sst] transfer-v2=0 on either node to use the stock stream, and report it)"
	case errors.Is(err, xfer.ErrNoVersion), errors.Is(err, xfer.ErrBadHello):
		return " (set [sst] transfer-v2=0 on either node to use the stock stream)"
	}
	return ""
}

// finishError words Backup.Finish's error: a send error with the joiner's
// address and how far it got, or a broken stream from mariadb-backup; the
// backup's own failure and the context's cause as they are.
func finishError(err error, addr string, n int64) error {
	var se *SendError
	if !errors.As(err, &se) {
		return err
	}
	var scanErr *mbstream.ChunkError
	if errors.As(se.Err, &scanErr) {
		return fail.Errorf(fail.Transfer, "read mariadb-backup's stream: %w", se.Err)
	}
	return fail.Errorf(fail.Transfer, "send the backup stream to the joiner at %s after %d bytes: %w", addr, n, se.Err)
}

// stockSender is the script's data stage: the backup's mbstream through
// the pipe on one connection.
type stockSender struct{}

func (stockSender) Send(ctx context.Context, p SendParams) (Sent, error) {
	p.Log.Info(fmt.Sprintf("Streaming the backup to joiner at %s", p.Addr))
	sent := Sent{Streams: 1}
	conn, err := p.Dial(ctx)
	if err != nil {
		return sent, err
	}
	defer conn.Close()
	stop := stream.CloseOnCancel(ctx, conn)
	defer stop()
	ss, err := pipe.OpenSend(ctx, conn, p.Pipe)
	if err != nil {
		return sent, err
	}
	defer ss.Abort()

	start := time.Now()
	b, err := p.Backup(ctx)
	if err != nil {
		return sent, err
	}
	sent.Started = start
	n, copyErr := stream.Copy(ctx, ss.Writer, b)
	sent.Bytes = n
	if err := b.Finish(ctx, copyErr); err != nil {
		return sent, finishError(err, p.Addr, n)
	}
	if err := ss.Finish(ctx); err != nil {
		return sent, stageError("finish the backup stream to "+p.Addr, err)
	}
	return sent, nil
}

// v2Sender is transfer v2: parallel connections (each with its own TLS
// session and compressor), each greeted with a hello; then the backup's
// mbstream as frames, payload the joiner has sent as references to it,
// found by its answers to offers on one connection more (version 3) or
// by the manifest it sends on stream 0 (versions 1-2).
type v2Sender struct{}

func (v2Sender) Send(ctx context.Context, p SendParams) (Sent, error) {
	n := p.Streams
	if n == 0 {
		n = AutoStreams(p.Pipe.TLS != nil, p.Pipe.Codec)
	}
	// A joiner that speaks delta by offer gets one connection more, the
	// last, for the offers and its answers; an earlier one sends its
	// manifest on stream 0 instead.
	token, _ := xfer.ParseToken(p.Token)
	offers := min(token.Max, p.Versions.Max) >= xfer.OfferVersion
	nconn := n
	if offers {
		n = min(n, xfer.MaxStreams-1)
		nconn = n + 1
	}
	sent := Sent{Streams: n, V2: true}
	p.Log.Info(fmt.Sprintf("Streaming the backup to joiner at %s: transfer v2, %d stream(s)", p.Addr, n))
	pc := p.Pipe

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	links := make([]*pipe.Link, nconn)
	var version xfer.Version
	for i := range nconn {
		conn, err := p.Dial(ctx)
		if err != nil {
			return sent, err
		}
		conns = append(conns, conn)
		stop := stream.CloseOnCancel(ctx, conn)
		defer stop()
		if links[i], err = pipe.Connect(ctx, conn, pc); err != nil {
			return sent, err
		}
		h := xfer.Hello{Versions: p.Versions, Stream: i, Streams: nconn}
		if version, err = greet(conn, links[i], h, token, p.Secret); err != nil {
			return sent, stageError(fmt.Sprintf("the v2 hello on stream %d", i), err)
		}
	}
	if offers != (version >= xfer.OfferVersion) {
		return sent, stageError("the v2 hello", fmt.Errorf("%w: the joiner's address offers versions up to %s, its hello agreed on %d", xfer.ErrBadHello, p.Token, version))
	}
	var m *manifest.Manifest
	if !offers {
		var err error
		if m, err = readManifest(conns[0], links[0], p.ManifestWait); err != nil {
			return sent, err
		}
		p.Log.Info(fmt.Sprintf("The joiner has %s of reference data in %d files", ui.Bytes(m.Bytes()), len(m.Files())))
		if w := m.Warning(); w != "" {
			p.Log.Warn(w)
		}
		if p.OnManifest != nil {
			p.OnManifest(m)
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
			return sent, err
		}
		writers[i] = senders[i]
	}
	xs := xfer.NewSender(ctx, writers, xfer.SenderOptions{Version: version})
	var delta Delta = &ByManifest{S: xs, M: m}
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
			return sent, stageError("start delta by offer with the joiner at "+p.Addr, err)
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
	b, err := p.Backup(ctx)
	if err != nil {
		abort()
		return sent, err
	}
	sent.Started = start
	sendErr := SendMbstream(delta, b)
	st, offerErr := endOffers(sendErr != nil)
	if sendErr == nil {
		sendErr = offerErr
	}
	sent.Refs = st.Reused
	if bm, ok := delta.(*ByManifest); ok {
		sent.Refs = bm.Refs
	}
	err = b.Finish(ctx, sendErr)
	sent.Bytes = b.N()
	if err != nil {
		abort()
		return sent, finishError(err, p.Addr, b.N())
	}
	if err := xs.Close(); err != nil {
		return sent, stageError("send the backup stream to "+p.Addr, err)
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
		return sent, stageError("finish the backup stream to "+p.Addr, finishErr)
	}
	return sent, nil
}

// greet runs the hello exchange on one connection, within the handshake
// bound (a joiner that accepts and says nothing must not hold us), with
// the proof of the joiner's secret when the joiner offered it
// (xfer.AuthVersion; an empty secret when mysqld passed none: a joiner
// with donor-auth=off ignores it).
func greet(conn net.Conn, l *pipe.Link, h xfer.Hello, token xfer.Range, secret string) (xfer.Version, error) {
	_ = conn.SetReadDeadline(time.Now().Add(pipe.DefaultHandshakeTimeout))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	if token.Max >= xfer.AuthVersion {
		return xfer.GreetAuth(l, h, secret)
	}
	return xfer.Greet(l, h)
}

// readManifest reads the joiner's manifest from stream 0. The joiner
// sends it once its reference data is hashed, within half of
// sst-idle-timeout; we wait wait (the whole timeout; 0: no bound).
func readManifest(conn net.Conn, l *pipe.Link, wait time.Duration) (*manifest.Manifest, error) {
	if wait > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(wait))
	}
	m, err := manifest.Decode(bufio.NewReader(l), manifest.DecodeOptions{})
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fail.Errorf(fail.Stalled, "the joiner sent no manifest of its reference data within sst-idle-timeout=%ds", int(wait.Seconds()))
		}
		return nil, fail.Errorf(fail.Transfer, "read the joiner's manifest: %w", err)
	}
	return m, nil
}
