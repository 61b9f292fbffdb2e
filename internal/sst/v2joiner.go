package sst

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/reflink"
	"wsrep_sst_mariabackup/internal/status"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/transfer"
	"wsrep_sst_mariabackup/internal/xfer"
)

// xferVersions are the transfer versions this program offers and
// greets with: xfer.Supported; tests narrow it to run an earlier
// release's engine (the manifest, before xfer.OfferVersion).
var xferVersions = xfer.Supported

// offerV2 reports whether this joiner offers transfer v2 (transfer.Offers).
func (s *session) offerV2() bool {
	return transfer.Offers(s.cfg.TransferV2, s.tr.cipher)
}

// v2Conn is one data connection of a v2 transfer.
type v2Conn struct {
	conn net.Conn
	link *pipe.Link
	br   *bufio.Reader // reads link; holds the peeked hello
}

// rw is the connection's plaintext both ways, reads through br.
func (c v2Conn) rw() io.ReadWriter {
	return struct {
		io.Reader
		io.Writer
	}{c.br, c.link}
}

// receiveV2 is the joiner's v2 data stage, begun on the first connection
// (whose hello answerV2 admitted, with hello and the version agreed):
// admit and answer the donor's other connections, ready the reference
// data (referenceFor: answer the donor's offers on the last connection,
// or send a manifest on stream 0), then rebuild the mbstream from the
// frames (data as sent, references from the reference data) and extract
// it into the staging directory as the stock stream is.
func (s *session) receiveV2(ctx context.Context, ln *stream.Listener, first v2Conn, hello xfer.Hello, version xfer.Version, t targets, decision keepDecision, pc pipe.Config) error {
	staging := t.staging
	var conns []v2Conn
	closeAll := sync.OnceFunc(func() {
		for _, c := range conns {
			c.conn.Close()
		}
	})
	conns = append(conns, first)
	defer closeAll()
	// Room for every connection first: links points into conns.
	conns = slices.Grow(conns, hello.Streams-1)
	links := make([]*v2Conn, hello.Streams)
	links[hello.Stream] = &conns[0]
	for len(conns) < hello.Streams {
		conn, err := s.acceptFromDonor(ctx, ln, "data")
		if err != nil {
			return err
		}
		c := v2Conn{conn: conn}
		if c.link, err = pipe.Accept(ctx, conn, pc); err != nil {
			conn.Close()
			return pipeError(ctx, err)
		}
		c.br = bufio.NewReaderSize(c.link, pipe.RecvBufferSize)
		h, _, ok, err := s.answerV2(ctx, c)
		if err != nil {
			conn.Close()
			return err
		}
		if !ok {
			conn.Close()
			continue
		}
		if h.Streams != hello.Streams || links[h.Stream] != nil {
			conn.Close()
			return s.v2Error(ctx, "the v2 hello of the donor", fmt.Errorf("%w: stream %d of %d after stream %d of %d", xfer.ErrBadHello, h.Stream, h.Streams, hello.Stream, hello.Streams))
		}
		conns = append(conns, c)
		links[h.Stream] = &conns[len(conns)-1]
	}

	// With offers, previous data that cannot be kept is patched in
	// place rather than wiped (inplace.go).
	inPlace, stagingMade := false, false
	if version >= xfer.OfferVersion && decision == stockOrder {
		moved, err := s.moveIntoStaging(t)
		if err != nil {
			return s.localError(ctx, t, "move the previous data into "+staging, err)
		}
		stagingMade, inPlace = true, moved > 0
		if inPlace {
			s.log.Info(fmt.Sprintf("Delta in place: moved %d entries of the previous data into '%s'; the new data is built over them (unchanged blocks stay, changed ones are written)", moved, staging))
		}
	} else {
		s.dropResumeAtStream(ctx, t)
	}
	refs, err := s.referenceFor(ctx, links, version, decision, t, inPlace)
	if err != nil {
		return err
	}
	defer refs.close()
	rec, answer, ctlWire := refs.rec, refs.answer, refs.ctlWire
	if answer != nil {
		// The last connection carries the offers, not frames.
		links = links[:len(links)-1]
	}
	maxRef := xfer.MaxRefRun
	if answer == nil {
		maxRef = max(maxRef, s.ref.blockSize)
	}

	wires := make([]*stream.CountingReader, len(links))
	readers := make([]io.Reader, len(links))
	var decoders []io.Closer
	var decMu sync.Mutex
	for i, c := range links {
		wires[i] = stream.NewCountingReader(c.br)
		readers[i] = &v2Decoder{ctx: ctx, br: c.br, wire: wires[i], streams: len(links), onOpen: func(cl io.Closer) {
			decMu.Lock()
			decoders = append(decoders, cl)
			decMu.Unlock()
		}}
	}
	// The answers to the donor's offers, beside the frames; a failure
	// there ends the transfer.
	type answered struct {
		st  xfer.AnswerStats
		err error
	}
	answers := make(chan answered, 1)
	// failed says which side failed first, the extractor or the
	// answerer: the other one's error is the closed connections'.
	const extractorFailed, answererFailed = 1, 2
	var failed atomic.Int32
	if answer != nil {
		go func() {
			st, err := answer.Run(ctx)
			if err != nil {
				failed.CompareAndSwap(0, answererFailed)
				closeAll()
			}
			answers <- answered{st, err}
		}()
	} else {
		answers <- answered{}
	}
	s.log.Info("Data stream from the donor started")
	s.status.Stage(status.StageReceiving)
	if !stagingMade {
		if err := os.Mkdir(staging, 0o755); err != nil {
			return s.localError(ctx, t, "create "+staging, err)
		}
	}
	start := time.Now()
	// Frames no larger than our donor writes them: the read-ahead holds
	// at most streams * 3 of them, whatever a donor claims.
	rc := xfer.NewReceiver(ctx, readers, xfer.ReceiverOptions{Version: version,
		MaxPayload: xfer.DefaultFrameSize, MaxRefLen: maxRef})
	root, err := os.OpenRoot(staging)
	if err != nil {
		closeAll()
		rc.Close()
		rc.Wait()
		return s.localError(ctx, t, "open "+staging, err)
	}
	defer root.Close()
	// The frames go to the extractor as pieces: data as bytes, each
	// reference as a clone of the reference file's range, its bytes read
	// and checked by the Reconstructor, and shared with the reference
	// file where the filesystem can (reflink) rather than written.
	src := &v2Pieces{ctx: ctx, rc: rc, rec: rec, progress: pc.Progress}
	s.status.Bytes(func() (int64, int64) { return src.n.Load(), s.total })
	sink := mbstream.NewDirSink(root, mbstream.DirSinkOptions{Refs: rec, WriteBehind: writeBehind, CloneRange: shareBlocks, InPlace: inPlace})
	var into mbstream.Sink = sink
	created := newCreatedSink(sink)
	if inPlace {
		into = created
	}
	type result struct {
		st  mbstream.ExtractStats
		err error
	}
	extracted := make(chan result, 1)
	go func() {
		st, err := mbstream.ExtractPieces(ctx, src, into, mbstream.ExtractOptions{Workers: extractWorkers, Abort: func(error) {
			failed.CompareAndSwap(0, extractorFailed)
			closeAll()
		}})
		if err != nil {
			failed.CompareAndSwap(0, extractorFailed)
			closeAll() // stop the readers blocked in the connections
		}
		extracted <- result{st, err}
	}()
	if decision == stockOrder {
		if err := s.cleanDatadir(t); err != nil {
			closeAll()
			<-extracted
			rc.Close()
			rc.Wait()
			return err
		}
	}
	s.log.Info("Waiting for SST streaming to complete!")
	x := <-extracted
	rc.Close()
	var ans answered
	if x.err == nil {
		rc.Wait()
		// The donor ended its offers before its last frames: their
		// end is due, soon.
		select {
		case ans = <-answers:
		case <-time.After(drainTimeout):
			ans.err = fmt.Errorf("%w: no end of the donor's offers %s after its last frame", xfer.ErrControl, drainTimeout)
		}
		if ans.err != nil {
			x.err = ans.err
		} else {
			// Read each data connection to its end (the compressor's
			// and TLS's closing bytes follow the end frame): closing a
			// socket with unread data resets it, and the donor would
			// see an error. The control connection has nothing after
			// the end message, and the donor closes it last.
			drainLinks(links)
		}
	}
	// Closing tells the donor that everything has been read.
	closeAll()
	rc.Wait()
	decMu.Lock()
	for _, d := range decoders {
		d.Close()
	}
	decMu.Unlock()
	if x.err != nil && failed.Load() == answererFailed {
		// The answerer closed the connections: its error is the cause
		// of the extractor's.
		if ans.err == nil {
			ans = <-answers
		}
		x.err = ans.err
	}
	if err := x.err; err != nil {
		err = fmt.Errorf("extract the SST stream into %s: %w", staging, err)
		return s.failStaging(ctx, t, s.v2Error(ctx, "receive the v2 data stream", err), err)
	}
	s.log.Info(fmt.Sprintf("Extracted %d files, %d bytes (SST)", x.st.Files, x.st.Bytes))
	if inPlace {
		n, err := created.removeStale(staging)
		if err != nil {
			return s.failStaging(ctx, t, s.localError(ctx, t, "remove what the donor no longer has from "+staging, err), err)
		}
		s.log.Info(fmt.Sprintf("Delta in place: %s of the previous data left where it was; removed %d entries the donor no longer has", swap.Bytes(sink.Kept()), n))
	}
	secs := time.Since(start).Seconds()
	refBytes, dataBytes := src.refBytes, src.n.Load()-src.refBytes
	reused := ""
	if total := dataBytes + refBytes; total > 0 {
		reused = fmt.Sprintf(", %s (%.0f%%) of it from the reference data", swap.Bytes(refBytes), 100*float64(refBytes)/float64(total))
		if c := sink.Cloned(); c > 0 {
			reused += fmt.Sprintf(", %s of that sharing the reference files' blocks (reflink) rather than written", swap.Bytes(c))
		}
	}
	var wire int64
	for _, w := range wires {
		wire += w.N()
	}
	if answer != nil {
		wire += ctlWire.N()
		s.log.Info(fmt.Sprintf("Delta by offer: %s offered, %s of it here already; %s of the reference data read to compare",
			swap.Bytes(ans.st.Offered), swap.Bytes(ans.st.Have), swap.Bytes(ans.st.Read)))
	}
	s.log.Info(fmt.Sprintf("Received %d bytes in %.1fs: %s on the wire over %d stream(s)%s (v2 wire=%d reused=%d shared=%d inplace=%d)",
		src.n.Load(), secs, swap.Bytes(wire), len(links), reused, wire, refBytes, sink.Cloned(), sink.Kept()))
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// v2Refs is what a v2 joiner rebuilds the stream's references with.
type v2Refs struct {
	rec *xfer.Reconstructor
	// answer answers the donor's offers (xfer.OfferVersion), on the
	// last connection, read through ctlWire; nil for a donor that reads
	// a manifest.
	answer  *xfer.Answerer
	ctlWire *stream.CountingReader
	close   func()
}

// referenceFor readies the reference data for the donor: as sources to
// compare its offers with (xfer.OfferVersion), or hashed into a manifest
// sent on stream 0 (an earlier release of ours). The previous data is
// reference data only if it is kept until the new data is prepared; the
// interrupted attempt's always.
func (s *session) referenceFor(ctx context.Context, links []*v2Conn, version xfer.Version, decision keepDecision, t targets, inPlace bool) (*v2Refs, error) {
	withOld := decision == keepOld
	if version < xfer.OfferVersion {
		m, dirs, err := s.ref.manifest(ctx, s, withOld, s.cfg.IdleTimeout/2)
		if err != nil {
			return nil, s.stageError(ctx, "hash the reference data", err)
		}
		if err := m.Encode(links[0].link); err != nil {
			return nil, s.stageError(ctx, "send the manifest of the reference data to the donor", err)
		}
		s.log.Info(fmt.Sprintf("Transfer v%d from the donor over %d stream(s); reference data offered: %s in %d files",
			version, len(links), swap.Bytes(m.Bytes()), len(m.Files())))
		roots, closeRoots, err := openRoots(dirs)
		if err != nil {
			return nil, s.localError(ctx, t, "open the reference data", err)
		}
		rec := reconstructor(m.Seed(), roots)
		return &v2Refs{rec: rec, close: func() { rec.Close(); closeRoots() }}, nil
	}
	prefixes, dirs, include := s.ref.sourceDirs(s, withOld)
	if inPlace {
		// First: a block found there stays where it is.
		prefixes = append([]string{inPlacePrefix}, prefixes...)
		dirs[inPlacePrefix] = t.staging
		include[inPlacePrefix] = includePath(includeOld)
	}
	roots, closeRoots, err := openRoots(dirs)
	if err != nil {
		return nil, s.localError(ctx, t, "open the reference data", err)
	}
	sources := make([]xfer.Source, len(prefixes))
	names := make([]string, len(prefixes))
	for i, p := range prefixes {
		sources[i] = xfer.Source{Prefix: p, Root: roots[p], Include: include[p]}
		names[i] = dirs[p]
	}
	ctl := links[len(links)-1]
	wire := stream.NewCountingReader(ctl.br)
	if idle := s.cfg.IdleTimeout; idle > 0 {
		_ = ctl.conn.SetReadDeadline(time.Now().Add(idle))
	}
	answer, err := xfer.AcceptOffers(wire, ctl.link, sources)
	_ = ctl.conn.SetReadDeadline(time.Time{})
	if err != nil {
		closeRoots()
		return nil, s.v2Error(ctx, "begin delta by offer with the donor", err)
	}
	what := "none (a full transfer)"
	if len(names) > 0 {
		what = strings.Join(names, ", ")
	}
	s.log.Info(fmt.Sprintf("Transfer v%d from the donor over %d stream(s), delta by offer; reference data compared block by block as the donor offers it: %s",
		version, len(links)-1, what))
	rec := reconstructor(answer.Seed(), roots)
	return &v2Refs{rec: rec, answer: answer, ctlWire: wire, close: func() { rec.Close(); closeRoots() }}, nil
}

// v2Error gives a v2 failure its exit code: a reference that does not
// match, a broken frame or a hello without a common version is a bug or a
// mix-up of nodes; the message says how to fall back.
func (s *session) v2Error(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return err
	}
	switch {
	case errors.Is(err, xfer.ErrRefMismatch), errors.Is(err, xfer.ErrRefPath), errors.Is(err, xfer.ErrRefRange):
		return errorf(ExitPipe, "%s: %w (the joiner's reference data changed during the SST, or a bug: set [sst] transfer-v2=0 on either node to use the stock stream, and report it)", what, err)
	case errors.Is(err, xfer.ErrNoVersion), errors.Is(err, xfer.ErrBadHello):
		return errorf(ExitPipe, "%s: %w (set [sst] transfer-v2=0 on either node to use the stock stream)", what, err)
	}
	return errorf(ExitPipe, "%s: %w", what, err)
}

// answerV2 runs the joiner's side of the hello exchange on a data
// connection and judges the donor's proof of the secret
// (xfer.AnswerAuth): a wrong one is refused, a missing one too with
// donor-auth=required (with auto it comes from the gtid stage's address,
// acceptFromDonor saw to that: an earlier release of this program as
// donor). A refused connection gives ok false, logged; the caller closes
// it and waits for another. Within the handshake bound.
func (s *session) answerV2(ctx context.Context, c v2Conn) (xfer.Hello, xfer.Version, bool, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(pipe.DefaultHandshakeTimeout))
	h, v, auth, err := xfer.AnswerAuth(c.rw(), xferVersions, s.tr.mySecret)
	_ = c.conn.SetReadDeadline(time.Time{})
	addr := c.conn.RemoteAddr().String()
	switch {
	case auth == xfer.AuthBad:
		s.refusals().add(addr, errors.New("its v2 hello carries a wrong proof of this joiner's secret"))
		return h, 0, false, nil
	case err != nil && errors.Is(err, xfer.ErrNoVersion):
		return h, 0, false, s.v2Error(ctx, "the v2 hello of the donor", err)
	case err != nil:
		s.refusals().add(addr, fmt.Errorf("its v2 hello: %w", err))
		return h, 0, false, nil
	case auth == xfer.AuthNone && s.tr.mySecret != "" && s.cfg.DonorAuth == "required":
		s.refusals().add(addr, errors.New("its v2 hello carries no proof of this joiner's secret (donor-auth=required; an earlier release of this program as donor cannot give one)"))
		return h, 0, false, nil
	}
	return h, v, true, nil
}

// hostOf is the IP address of a connection's remote end.
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// v2Decoder reads one v2 connection's frame stream. The donor may
// compress each connection with lz4 or zstd; the first bytes tell which,
// so the decoder is chosen at the first Read, in the Receiver's goroutine
// of the connection. br is peeked at; wire reads br and counts the bytes
// on the wire.
type v2Decoder struct {
	ctx     context.Context
	br      *bufio.Reader
	wire    io.Reader
	streams int // connections of the transfer, for the zstd window bound
	onOpen  func(io.Closer)
	r       io.Reader
}

// The zstd window a v2 donor may make the joiner allocate: per stream at
// most v2ZstdMaxWindowLog, and across all streams at most v2ZstdBudget,
// instead of the zstd CLI's 128 MiB per stream (8 GiB over 64 streams).
// Our donor's in-process zstd writes 8 MiB windows (klauspost's largest
// at any level, 4 MiB at levels 1-2) on one stream and 2 MiB ones
// (SingleThreaded) on several; the zstd CLI as an [sst] compressor
// command writes at most 8 MiB at levels up to 19. The budget is
// MaxStreams * 8 MiB, so those frames pass at any stream count; only
// --ultra -20 and up or --long may exceed it, on many streams.
const (
	v2ZstdBudget       = xfer.MaxStreams * 8 << 20 // 512 MiB
	v2ZstdMaxWindowLog = 27                        // 128 MiB, the zstd CLI's default limit
)

// v2WindowLog is the largest zstd window, as a power of two, that each of
// streams connections may use within v2ZstdBudget.
func v2WindowLog(streams int) int {
	per := v2ZstdBudget / max(streams, 1)
	return min(bits.Len(uint(per))-1, v2ZstdMaxWindowLog)
}

func (d *v2Decoder) Read(p []byte) (int, error) {
	if d.r == nil {
		if err := d.open(); err != nil {
			return 0, err
		}
	}
	return d.r.Read(p)
}

func (d *v2Decoder) open() error {
	b, err := d.br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read the start of a v2 stream: %w", err)
	}
	if xfer.IsStreamStart(b) { // not compressed
		d.r = d.wire
		return nil
	}
	f := stream.SniffFormat(b)
	if f == "" {
		return fmt.Errorf("%w: a v2 stream starting with %x is neither a frame stream nor lz4 or zstd", xfer.ErrFrame, b)
	}
	codec, err := stream.NewCodec(f, 0)
	if err != nil {
		return err
	}
	codec = codec.MaxWindowLog(v2WindowLog(d.streams), fmt.Sprintf(
		"a v2 stream's share of the joiner's %d MiB zstd window budget over %d stream(s)", v2ZstdBudget>>20, d.streams))
	r, err := codec.NewReader(d.ctx, d.wire)
	if err != nil {
		return err
	}
	d.onOpen(r)
	d.r = r
	return nil
}

// drainTimeout bounds how long the joiner reads what follows the end
// frames.
const drainTimeout = 10 * time.Second

// drainLinks reads every connection to its end, all at once, within
// drainTimeout.
func drainLinks(links []*v2Conn) {
	var wg sync.WaitGroup
	for _, c := range links {
		wg.Go(func() {
			_ = c.conn.SetReadDeadline(time.Now().Add(drainTimeout))
			_, _ = io.Copy(io.Discard, c.br)
		})
	}
	wg.Wait()
}

// v2Pieces hands the frames of a v2 transfer to the extractor
// (mbstream.PieceSource): data frames as bytes, reference frames as clones
// whose bytes the Reconstructor has read and checked (hash, CRC-32, range,
// path), so that a bad reference fails as it always did, and the sink
// only places them. It counts the stream's bytes for progress and the
// status file.
type v2Pieces struct {
	ctx      context.Context
	rc       *xfer.Receiver
	rec      *xfer.Reconstructor
	progress *stream.Progress
	buf      []byte
	n        atomic.Int64 // stream bytes handed on
	refBytes int64
}

func (p *v2Pieces) NextPiece() ([]byte, *mbstream.Clone, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, nil, context.Cause(p.ctx)
	}
	f, b, err := p.rc.Next()
	if err != nil {
		return nil, nil, err
	}
	if f.Type != xfer.FrameRef {
		p.count(len(b))
		return b, nil, nil
	}
	if p.buf, err = p.rec.Read(f.Ref, p.buf); err != nil {
		return nil, nil, fmt.Errorf("xfer: frame %d: %w", f.Seq, err)
	}
	p.count(len(p.buf))
	p.refBytes += int64(len(p.buf))
	return nil, &mbstream.Clone{Ref: f.Ref.Path, RefOff: f.Ref.Offset, Len: int64(len(p.buf)), CRC: f.Ref.CRC, Sum: f.Ref.Hash[:], Data: p.buf}, nil
}

func (p *v2Pieces) count(n int) {
	p.n.Add(int64(n))
	if p.progress != nil {
		p.progress.Add(int64(n))
	}
}

// shareBlocks is the sink's cloner: reflink.CloneRange, with "cannot
// here" as false.
func shareBlocks(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (bool, error) {
	err := reflink.CloneRange(dst, dstOff, src, srcOff, n)
	if errors.Is(err, reflink.ErrUnsupported) {
		return false, nil
	}
	return err == nil, err
}
