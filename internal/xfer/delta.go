package xfer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// DefaultWindow is how many offered bytes an Offerer holds, by default,
// until the joiner answers: enough to keep a 10 Gbit/s link busy over a
// few milliseconds of the joiner's reads, bounded whatever the node.
const DefaultWindow = 16 << 20

// OffererOptions configure an Offerer.
type OffererOptions struct {
	// Seed seeds the block hashes; the joiner learns it from the start
	// message. A transfer should pick a random one.
	Seed uint64
	// Window is how many bytes wait for answers at most (DefaultWindow
	// if 0).
	Window int64
}

// DeltaStats count what an Offerer sent.
type DeltaStats struct {
	Offered int64 // bytes offered
	Reused  int64 // of those, bytes sent as references
}

// Offerer is the donor's side of delta by offer: Payload offers pieces of
// files on the control stream, and once the joiner answers, sends each
// block as a reference to the joiner's own copy or as data on the Sender;
// Data queues bytes that are not offered (mbstream headers, sparse
// chunks). The Sender gets everything in the order Data and Payload were
// called. Data, Payload and Close are for one goroutine.
type Offerer struct {
	ctx    context.Context
	s      *Sender
	ctl    *control
	seed   uint64
	window int64

	items chan offerItem
	room  chan struct{} // signalled when answered bytes free the window
	mu    sync.Mutex
	held  int64 // bytes queued, not yet answered and sent
	err   error
	done  chan struct{}

	nextID uint64
	enc    []byte
	stats  DeltaStats
	// pieces recycles the copies of offered pieces (MaxOfferLen bytes
	// each) once sent: the Sender copies what it sends.
	pieces sync.Pool
}

// offerItem is one queued piece of the stream: raw bytes, or an offered
// piece of a file.
type offerItem struct {
	data  []byte
	offer *offer
}

// NewOfferer starts the donor's side of delta by offer: it writes the
// start message on ctlW and reads the joiner's have message and answers
// from ctlR. Frames go to s.
func NewOfferer(ctx context.Context, s *Sender, ctlR io.Reader, ctlW io.Writer, opts OffererOptions) (*Offerer, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	o := &Offerer{
		ctx: ctx, s: s, ctl: newControl(ctlR, ctlW), seed: opts.Seed, window: max(opts.Window, MaxOfferLen),
		items: make(chan offerItem, 4096), room: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if err := o.ctl.send(ctlStart, encodeStart(o.seed)); err != nil {
		return nil, err
	}
	if err := o.ctl.flush(); err != nil {
		return nil, err
	}
	go o.run()
	return o, nil
}

// fail records the first error.
func (o *Offerer) fail(err error) {
	o.mu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.mu.Unlock()
	select {
	case o.room <- struct{}{}:
	default:
	}
}

// Err returns the first error of the Offerer, or of its Sender.
func (o *Offerer) Err() error {
	o.mu.Lock()
	err := o.err
	o.mu.Unlock()
	if err != nil {
		return err
	}
	return o.s.Err()
}

// reserve waits until n more bytes fit in the window.
func (o *Offerer) reserve(n int64) error {
	for {
		if err := o.Err(); err != nil {
			return err
		}
		o.mu.Lock()
		if o.held == 0 || o.held+n <= o.window {
			o.held += n
			o.mu.Unlock()
			return nil
		}
		o.mu.Unlock()
		select {
		case <-o.room:
		case <-o.done:
			return o.stopped()
		case <-o.ctx.Done():
			return context.Cause(o.ctx)
		}
	}
}

// stopped is the error for a call after the sending goroutine ended.
func (o *Offerer) stopped() error {
	if err := o.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: offerer stopped", ErrClosed)
}

func (o *Offerer) release(n int64) {
	o.mu.Lock()
	o.held -= n
	o.mu.Unlock()
	select {
	case o.room <- struct{}{}:
	default:
	}
}

func (o *Offerer) queue(it offerItem) error {
	select {
	case o.items <- it:
		return nil
	case <-o.done:
		return o.stopped()
	case <-o.ctx.Done():
		return context.Cause(o.ctx)
	}
}

// Data queues p, bytes of the stream that are not offered, behind what is
// queued; it copies p.
func (o *Offerer) Data(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := o.reserve(int64(len(p))); err != nil {
		return err
	}
	return o.queue(offerItem{data: append([]byte(nil), p...)})
}

// Payload offers p, the bytes at offset off of the file path (clean,
// relative, as the joiner's sources name it), in pieces of at most
// MaxOfferLen bytes cut at DeltaBlock boundaries; it copies p.
func (o *Offerer) Payload(path string, off int64, p []byte) error {
	if !validRefPath(path) {
		return o.Data(p) // a name no source can have: send it as it is
	}
	for len(p) > 0 {
		n := len(p)
		if n > MaxOfferLen {
			// End the piece at a block boundary so that the next one
			// starts on one.
			n = MaxOfferLen - int((off+MaxOfferLen)%DeltaBlock)
		}
		if err := o.reserve(int64(n)); err != nil {
			return err
		}
		of := &offer{id: o.nextID, path: path, off: off, length: n}
		o.nextID++
		data := o.piece(n)
		copy(data, p[:n])
		blockSpans(off, n, func(_, start, end int) {
			of.hashes = append(of.hashes, Hash(manifest.Sum(o.seed, data[start:end])))
		})
		o.enc = encodeOffer(o.enc, of)
		if err := o.ctl.send(ctlOffer, o.enc); err != nil {
			o.fail(err)
			return err
		}
		if err := o.ctl.flush(); err != nil {
			o.fail(err)
			return err
		}
		if err := o.queue(offerItem{data: data, offer: of}); err != nil {
			return err
		}
		o.stats.Offered += int64(n)
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// piece returns a buffer of n <= MaxOfferLen bytes for an offered piece.
func (o *Offerer) piece(n int) []byte {
	if b, ok := o.pieces.Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, MaxOfferLen)
}

// run sends the queued items in order, each offered piece once answered.
func (o *Offerer) run() {
	defer close(o.done)
	body, err := o.ctl.expect(ctlHave)
	if err != nil {
		o.fail(err)
		return
	}
	prefixes, err := decodeHave(body)
	if err != nil {
		o.fail(err)
		return
	}
	for it := range o.items {
		if o.Err() != nil {
			continue // drain: Payload and Data see the error
		}
		if it.offer == nil {
			err = o.s.Data(it.data)
		} else {
			err = o.answered(it, prefixes)
			b := it.data[:0]
			o.pieces.Put(&b)
		}
		o.release(int64(len(it.data)))
		if err != nil {
			o.fail(err)
		}
	}
}

// answered reads the answer to it's offer and sends its blocks.
func (o *Offerer) answered(it offerItem, prefixes []string) error {
	of := it.offer
	body, err := o.ctl.expect(ctlAnswer)
	if err != nil {
		return err
	}
	have, err := decodeAnswer(body, of.id, len(of.hashes), len(prefixes))
	if err != nil {
		return err
	}
	// Runs of blocks the same source has go as one reference of up to
	// MaxRefRun bytes; the rest as data.
	runStart, runSrc := 0, byte(0)
	flush := func(end int) error {
		if end <= runStart {
			return nil
		}
		piece := it.data[runStart:end]
		if runSrc == 0 {
			return o.s.Data(piece)
		}
		o.stats.Reused += int64(len(piece))
		return o.s.Ref(Ref{
			Path:   prefixes[runSrc-1] + "/" + of.path,
			Offset: of.off + int64(runStart),
			Length: len(piece),
			Hash:   Hash(manifest.Sum(o.seed, piece)),
			CRC:    crc32.ChecksumIEEE(piece),
		})
	}
	var ferr error
	blockSpans(of.off, of.length, func(i, start, end int) {
		if ferr != nil {
			return
		}
		if have[i] != runSrc || (runSrc != 0 && end-runStart > MaxRefRun) {
			ferr = flush(start)
			runStart, runSrc = start, have[i]
		}
	})
	if ferr != nil {
		return ferr
	}
	return flush(of.length)
}

// Close sends what is queued, then the end message, and returns the
// first error and what was sent. It does not close the Sender.
func (o *Offerer) Close() (DeltaStats, error) {
	close(o.items)
	<-o.done
	if err := o.Err(); err != nil {
		return o.stats, err
	}
	if err := o.ctl.send(ctlEnd, nil); err != nil {
		return o.stats, err
	}
	return o.stats, o.ctl.flush()
}

// Source is one place the joiner may have a file's blocks: a directory
// (as an os.Root) whose files are named as the donor's stream names them,
// mounted under Prefix in the Reconstructor that rebuilds the stream.
// Include, if not nil, says which paths (clean, relative, as offered) may
// be compared there: files that change while the SST runs, or that are
// not data at all, are not.
type Source struct {
	Prefix  string
	Root    *os.Root
	Include func(path string) bool
}

// AnswerStats count what AnswerOffers compared.
type AnswerStats struct {
	Offers  int64
	Offered int64 // bytes offered
	Have    int64 // bytes answered as present
	Read    int64 // bytes read from the sources to compare
}

// maxAnswerFiles is how many source files AnswerOffers keeps open.
const maxAnswerFiles = 16

type answerFile struct {
	f    *os.File
	size int64
}

// AnswerOffers is the joiner's side of delta by offer: AcceptOffers, then
// Answerer.Run.
func AnswerOffers(ctx context.Context, ctlR io.Reader, ctlW io.Writer, sources []Source) (AnswerStats, error) {
	a, err := AcceptOffers(ctlR, ctlW, sources)
	if err != nil {
		return AnswerStats{}, err
	}
	return a.Run(ctx)
}

// Answerer answers a donor's offers.
type Answerer struct {
	c       *control
	sources []Source
	seed    uint64
	open    map[answerKey]*answerFile
	buf     []byte
	have    []byte
}

// AcceptOffers begins the joiner's side of delta by offer: it reads the
// donor's start message from ctlR and names its sources on ctlW. The
// Answerer's Seed checks the references the donor then sends.
func AcceptOffers(ctlR io.Reader, ctlW io.Writer, sources []Source) (*Answerer, error) {
	c := newControl(ctlR, ctlW)
	prefixes := make([]string, len(sources))
	for i, s := range sources {
		prefixes[i] = s.Prefix
	}
	hb, err := encodeHave(prefixes)
	if err != nil {
		return nil, err
	}
	// The donor's start first, then our sources: neither side writes
	// before the other has read, whatever the streams buffer.
	body, err := c.expect(ctlStart)
	if err != nil {
		return nil, err
	}
	seed, err := decodeStart(body)
	if err != nil {
		return nil, err
	}
	if err := c.send(ctlHave, hb); err != nil {
		return nil, err
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	return &Answerer{c: c, sources: sources, seed: seed, open: map[answerKey]*answerFile{}}, nil
}

// Seed is the seed of the block hashes, from the donor's start message.
func (a *Answerer) Seed() uint64 { return a.seed }

// Run answers each offer with the blocks the first source that has them
// (the same bytes at the same path and offset) has, until the donor's end
// message. It holds one piece in memory and at most maxAnswerFiles open
// files, whatever the node.
func (a *Answerer) Run(ctx context.Context) (AnswerStats, error) {
	var st AnswerStats
	defer a.closeAll()
	c := a.c
	var of offer
	var enc []byte
	for want := uint64(0); ; want++ {
		if err := context.Cause(ctx); err != nil {
			return st, err
		}
		t, body, err := c.recv()
		if err != nil {
			return st, err
		}
		switch t {
		case ctlEnd:
			return st, nil
		case ctlOffer:
		default:
			return st, fmt.Errorf("%w: %c message where an offer or the end was due", ErrControl, t)
		}
		if err := decodeOffer(body, &of); err != nil {
			return st, err
		}
		if of.id != want {
			return st, fmt.Errorf("%w: offer %d where %d was due", ErrControl, of.id, want)
		}
		have, err := a.compare(&of, &st)
		if err != nil {
			return st, err
		}
		enc = encodeAnswer(enc, of.id, have)
		if err := c.send(ctlAnswer, enc); err != nil {
			return st, err
		}
		// Flush only when no further offer is waiting to be read:
		// answers to a burst of offers go out together.
		if c.r.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return st, err
			}
		}
	}
}

type answerKey struct {
	source int
	path   string
}

// compare returns, per block of the offer, the source (from 1) that has
// it, or 0.
func (a *Answerer) compare(of *offer, st *AnswerStats) ([]byte, error) {
	st.Offers++
	st.Offered += int64(of.length)
	n := len(of.hashes)
	a.have = append(a.have[:0], make([]byte, n)...)
	missing := n
	for k := range a.sources {
		if missing == 0 {
			break
		}
		f, err := a.file(k, of.path)
		if err != nil {
			return nil, err
		}
		if f == nil || of.off >= f.size {
			continue
		}
		end := min(f.size, of.off+int64(of.length))
		if cap(a.buf) < of.length {
			a.buf = make([]byte, of.length)
		}
		b := a.buf[:end-of.off]
		if _, err := f.f.ReadAt(b, of.off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("xfer: read %s/%s at %d: %w", a.sources[k].Prefix, of.path, of.off, err)
		}
		st.Read += int64(len(b))
		blockSpans(of.off, of.length, func(i, start, bend int) {
			if a.have[i] != 0 || bend > len(b) {
				return
			}
			if Hash(manifest.Sum(a.seed, b[start:bend])) == of.hashes[i] {
				a.have[i] = byte(k + 1)
				st.Have += int64(bend - start)
				missing--
			}
		})
	}
	return a.have, nil
}

// file opens path in source k, or returns nil if that source has no
// regular file there.
func (a *Answerer) file(k int, path string) (*answerFile, error) {
	key := answerKey{k, path}
	if f, ok := a.open[key]; ok {
		return f, nil
	}
	if len(a.open) >= maxAnswerFiles {
		a.closeAll()
	}
	if inc := a.sources[k].Include; inc != nil && !inc(path) {
		a.open[key] = nil
		return nil, nil
	}
	f, err := a.sources[k].Root.Open(path)
	if err != nil {
		a.open[key] = nil // absent, or not ours to read: not a source
		return nil, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		a.open[key] = nil
		return nil, nil
	}
	af := &answerFile{f: f, size: fi.Size()}
	a.open[key] = af
	return af, nil
}

func (a *Answerer) closeAll() {
	for k, f := range a.open {
		if f != nil {
			f.f.Close()
		}
		delete(a.open, k)
	}
}
