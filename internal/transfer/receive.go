package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/reflink"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
)

// Conn is a data connection the joiner admitted: the connection, its link
// (after TLS) and a buffered reader of the link that holds what was
// peeked (Detect, the hello).
type Conn struct {
	Conn net.Conn
	Link *pipe.Link
	R    *bufio.Reader
}

// RW is the connection's plaintext both ways, reads through R.
func (c Conn) RW() io.ReadWriter {
	return struct {
		io.Reader
		io.Writer
	}{c.R, c.Link}
}

// Detect is the joiner's side of the negotiation: the engine whose stream
// r starts with (V2 opens with a hello; anything else is Stock).
func Detect(r *bufio.Reader) (Engine, error) {
	v2, err := xfer.IsHello(r)
	if err != nil {
		return Stock, err
	}
	if v2 {
		return V2, nil
	}
	return Stock, nil
}

// Receiver is an engine's joiner side: it reads the donor's stream from
// the connections and extracts it into the staging directory through
// mbstream's per-file sink, calling back into the flow where the flow
// decides (RecvParams). Its errors have their class, but a failure of
// the transfer once the staging directory may hold data is a
// *StreamError.
type Receiver interface {
	Receive(ctx context.Context, p RecvParams) (Received, error)
}

// NewReceiver returns engine e's receiver.
func NewReceiver(e Engine) Receiver {
	if e == V2 {
		return v2Receiver{}
	}
	return stockReceiver{}
}

// RecvParams is what a receiver takes from the flow.
type RecvParams struct {
	// First is the donor's first data connection, its first bytes
	// peeked (and, for V2, its hello answered: Hello, Version).
	First Conn
	// Pipe is every connection's stack (TLS, codec, progress, watchdog).
	Pipe pipe.Config
	// Staging is the directory the stream is extracted into.
	Staging string
	// Log is the SST log.
	Log *slog.Logger
	// Receiving is called once the data flows, before the first write:
	// the flow readies Staging (it exists when Receiving returns) and
	// counts the stream's bytes with n.
	Receiving func(n func() int64) error
	// Started is called once the extraction runs (the stock order
	// cleans the datadir then). Its error ends the transfer.
	Started func() error
	// Prepare is called once the engine knows the transfer version it
	// runs (0: the stock stream, no delta), every connection up: the
	// flow moves the previous data into Staging for a delta in place
	// (inPlace), or gives up what only a delta would have used.
	Prepare func(xfer.Version) (inPlace bool, err error)

	// V2 only. Hello and Version are First's. Accept returns the next
	// admitted connection of the donor, its hello answered. References
	// readies the reference data (Refs) for the links. Sink, when set,
	// wraps the staging directory's sink (in place: what the stream
	// created is counted).
	Hello      xfer.Hello
	Version    xfer.Version
	Accept     func(context.Context) (Conn, xfer.Hello, error)
	References func(ctx context.Context, links []Conn, v xfer.Version, inPlace bool) (*Refs, error)
	Sink       func(*mbstream.DirSink) mbstream.Sink
}

// Refs is what a v2 receiver rebuilds references with.
type Refs struct {
	Rec *xfer.Reconstructor
	// Answer answers the donor's offers (xfer.OfferVersion) on the last
	// connection, read through CtlWire; nil for a donor that reads a
	// manifest, whose references may be up to MaxRef bytes.
	Answer  *xfer.Answerer
	CtlWire *stream.CountingReader
	MaxRef  int
	Close   func()
}

// Received is what a receiver received.
type Received struct {
	Files, Bytes int64 // files and bytes extracted
	// Stream is the mbstream's bytes, Refs of them rebuilt from the
	// reference data, Cloned of those shared (reflink), Kept left in
	// place; Wire the bytes on the wire (V2).
	Stream, Refs, Cloned, Kept, Wire int64
	Streams                          int
	// ByOffer is set for a delta by offer, whose Answers say what the
	// joiner compared.
	ByOffer bool
	Answers xfer.AnswerStats
	V2      bool
	Elapsed time.Duration
}

// StreamError is a failure of the transfer once the staging directory may
// hold some of the data: the flow removes or keeps the directory.
type StreamError struct{ Err error }

func (e *StreamError) Error() string     { return e.Err.Error() }
func (e *StreamError) Unwrap() error     { return e.Err }
func (e *StreamError) Class() fail.Class { return fail.ClassOf(e.Err) }

// ExtractWorkers bounds the files written in parallel on the joiner.
const ExtractWorkers = 4

// writeBehind is how much of a file the extractor writes before it starts
// the kernel's writeback of it: the staging directory is synced before
// the swap, and a fast transfer (a rejoin rebuilt mostly from the
// previous data) would otherwise leave gigabytes of dirty pages, below
// the kernel's dirty thresholds, for that sync to wait on.
const writeBehind = 8 << 20

// streamError is a failure of the extraction into staging.
func streamError(staging string, err error) error {
	err = fmt.Errorf("extract the SST stream into %s: %w", staging, err)
	return &StreamError{Err: stageError("receive the SST data stream", err)}
}

// stockReceiver reads the script's stream: one connection, mbstream.
type stockReceiver struct{}

func (stockReceiver) Receive(ctx context.Context, p RecvParams) (Received, error) {
	conn := p.First.Conn
	if _, err := p.Prepare(0); err != nil {
		return Received{}, err
	}
	in, err := p.First.Link.Recv(ctx, p.First.R, p.Pipe)
	if err != nil {
		return Received{}, err
	}
	defer in.Close()
	p.Log.Info("Data stream from the donor started")
	counted := stream.NewCountingReader(in)
	if err := p.Receiving(counted.N); err != nil {
		return Received{}, err
	}
	start := time.Now()
	type result struct {
		st  mbstream.ExtractStats
		err error
	}
	extracted := make(chan result, 1)
	go func() {
		// A local failure (a full disk) closes the connection at once
		// instead of leaving the reader blocked until the donor ends.
		st, err := mbstream.Extract(ctx, counted, p.Staging, mbstream.ExtractOptions{
			Workers: ExtractWorkers, Abort: func(error) { conn.Close() }, WriteBehind: writeBehind})
		extracted <- result{st, err}
	}()
	if err := p.Started(); err != nil {
		conn.Close()
		<-extracted
		return Received{}, err
	}
	p.Log.Info("Waiting for SST streaming to complete!")
	x := <-extracted
	if cerr := in.Close(); x.err == nil {
		x.err = cerr
	}
	// Closing tells the donor that everything has been read.
	conn.Close()
	p.Pipe.Watchdog.Stop()
	got := Received{Files: int64(x.st.Files), Bytes: x.st.Bytes, Stream: counted.N(), Streams: 1, Elapsed: time.Since(start)}
	if x.err != nil {
		return got, streamError(p.Staging, x.err)
	}
	p.Log.Info(fmt.Sprintf("Extracted %d files, %d bytes (SST)", x.st.Files, x.st.Bytes))
	return got, nil
}

// v2Receiver reads transfer v2: frames over parallel connections,
// references rebuilt from the reference data (and, for a delta by
// offer, answers to the donor's offers on the last connection).
type v2Receiver struct{}

func (v2Receiver) Receive(ctx context.Context, p RecvParams) (Received, error) {
	got := Received{V2: true}
	hello := p.Hello
	var conns []Conn
	closeAll := sync.OnceFunc(func() {
		for _, c := range conns {
			c.Conn.Close()
		}
	})
	conns = append(conns, p.First)
	defer closeAll()
	// Room for every connection first: links points into conns.
	conns = slices.Grow(conns, hello.Streams-1)
	links := make([]*Conn, hello.Streams)
	links[hello.Stream] = &conns[0]
	for len(conns) < hello.Streams {
		c, h, err := p.Accept(ctx)
		if err != nil {
			return got, err
		}
		if h.Streams != hello.Streams || links[h.Stream] != nil {
			c.Conn.Close()
			return got, stageError("the v2 hello of the donor", fmt.Errorf("%w: stream %d of %d after stream %d of %d", xfer.ErrBadHello, h.Stream, h.Streams, hello.Stream, hello.Streams))
		}
		conns = append(conns, c)
		links[h.Stream] = &conns[len(conns)-1]
	}
	inPlace, err := p.Prepare(p.Version)
	if err != nil {
		return got, err
	}
	all := make([]Conn, len(links))
	for i, c := range links {
		all[i] = *c
	}
	refs, err := p.References(ctx, all, p.Version, inPlace)
	if err != nil {
		return got, err
	}
	defer refs.Close()
	if refs.Answer != nil {
		// The last connection carries the offers, not frames.
		links = links[:len(links)-1]
	}
	got.Streams, got.ByOffer = len(links), refs.Answer != nil
	maxRef := max(xfer.MaxRefRun, refs.MaxRef)

	wires := make([]*stream.CountingReader, len(links))
	readers := make([]io.Reader, len(links))
	var decoders []io.Closer
	var decMu sync.Mutex
	for i, c := range links {
		wires[i] = stream.NewCountingReader(c.R)
		readers[i] = &v2Decoder{ctx: ctx, br: c.R, wire: wires[i], streams: len(links), onOpen: func(cl io.Closer) {
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
	if refs.Answer != nil {
		go func() {
			st, err := refs.Answer.Run(ctx)
			if err != nil {
				failed.CompareAndSwap(0, answererFailed)
				closeAll()
			}
			answers <- answered{st, err}
		}()
	} else {
		answers <- answered{}
	}
	p.Log.Info("Data stream from the donor started")
	// The frames go to the extractor as pieces: data as bytes, each
	// reference as a clone of the reference file's range, its bytes read
	// and checked by the Reconstructor, and shared with the reference
	// file where the filesystem can (reflink) rather than written.
	src := &v2Pieces{ctx: ctx, rec: refs.Rec, progress: p.Pipe.Progress}
	if err := p.Receiving(src.n.Load); err != nil {
		return got, err
	}
	start := time.Now()
	// Frames no larger than our donor writes them: the read-ahead holds
	// at most streams * 3 of them, whatever a donor claims.
	rc := xfer.NewReceiver(ctx, readers, xfer.ReceiverOptions{Version: p.Version,
		MaxPayload: xfer.DefaultFrameSize, MaxRefLen: maxRef})
	src.rc = rc
	root, err := os.OpenRoot(p.Staging)
	if err != nil {
		closeAll()
		rc.Close()
		rc.Wait()
		return got, fail.Errorf(fail.Missing, "open %s: %w", p.Staging, err)
	}
	defer root.Close()
	sink := mbstream.NewDirSink(root, mbstream.DirSinkOptions{Refs: refs.Rec, WriteBehind: writeBehind, CloneRange: shareBlocks, Shared: limitCopyOnWrite, InPlace: inPlace})
	var into mbstream.Sink = sink
	if p.Sink != nil {
		into = p.Sink(sink)
	}
	type result struct {
		st  mbstream.ExtractStats
		err error
	}
	extracted := make(chan result, 1)
	go func() {
		st, err := mbstream.ExtractPieces(ctx, src, into, mbstream.ExtractOptions{Workers: ExtractWorkers, Abort: func(error) {
			failed.CompareAndSwap(0, extractorFailed)
			closeAll()
		}})
		if err != nil {
			failed.CompareAndSwap(0, extractorFailed)
			closeAll() // stop the readers blocked in the connections
		}
		extracted <- result{st, err}
	}()
	if err := p.Started(); err != nil {
		closeAll()
		<-extracted
		rc.Close()
		rc.Wait()
		return got, err
	}
	p.Log.Info("Waiting for SST streaming to complete!")
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
	got.Files, got.Bytes, got.Elapsed = int64(x.st.Files), x.st.Bytes, time.Since(start)
	got.Stream, got.Refs, got.Cloned, got.Kept, got.Answers = src.n.Load(), src.refBytes, sink.Cloned(), sink.Kept(), ans.st
	for _, w := range wires {
		got.Wire += w.N()
	}
	if refs.Answer != nil {
		got.Wire += refs.CtlWire.N()
	}
	if x.err != nil {
		return got, streamError(p.Staging, x.err)
	}
	p.Log.Info(fmt.Sprintf("Extracted %d files, %d bytes (SST)", x.st.Files, x.st.Bytes))
	return got, nil
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
func drainLinks(links []*Conn) {
	var wg sync.WaitGroup
	for _, c := range links {
		wg.Go(func() {
			_ = c.Conn.SetReadDeadline(time.Now().Add(drainTimeout))
			_, _ = io.Copy(io.Discard, c.R)
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

// limitCopyOnWrite is the sink's Shared: prepare then rewrites the pages
// its redo log changes in files whose blocks are shared with the previous
// datadir's until the swap removes it; on XFS each such page would
// otherwise reserve a 128 KiB extent. A filesystem without the hint
// (btrfs) allocates what is written, so an error only costs that saving.
func limitCopyOnWrite(dst *os.File) {
	_ = reflink.LimitCopyOnWrite(dst, reflink.CopyOnWriteUnit)
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
