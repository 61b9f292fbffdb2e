package mbstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ExtractOptions tunes Extract.
type ExtractOptions struct {
	// Workers is the number of goroutines writing files; chunks of one
	// file are written by one worker, in order. 0 means 4.
	Workers int
	// MaxPayload is the largest chunk payload accepted, in bytes; see
	// ReaderOptions. 0 means DefaultMaxPayload.
	MaxPayload int64
	// MemoryLimit bounds the payload bytes buffered between the stream
	// reader and the workers. A chunk larger than the limit waits until
	// all others are written. Sparse maps count as well as payloads.
	// 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// Abort, if set, is called once, from another goroutine, with the
	// first error that ends the extraction while the reading goroutine may
	// be blocked in a Read of r: a worker's failure to create or write a
	// file (ENOSPC, say), or the cancellation of ctx. The caller should
	// close the connection behind r there, so that the blocked Read and
	// with it Extract return at once rather than when the sender gives up.
	// Abort is not called for errors of the stream itself, and never after
	// Extract returned.
	Abort func(error)
	// WriteBehind, when positive, starts the kernel's writeback of each
	// file's data every WriteBehind bytes written (sync_file_range on
	// Linux; no waiting, no durability promise): a joiner that syncs the
	// extracted tree afterwards then finds most of it on disk already,
	// instead of waiting for gigabytes of dirty pages that the kernel,
	// below its dirty thresholds, had not begun to write.
	WriteBehind int64

	// create replaces opening files under dir, for tests.
	create func(name string) (outWriter, error)
	// onWait is called each time the reader waits for memory, for tests.
	onWait func()
}

// DefaultMemoryLimit is the payload memory Extract buffers by default:
// room for the chunk being read while another is written. More does
// not help: the reader only runs further ahead, and the data it leaves
// behind falls out of the CPU caches before a worker copies it to the
// kernel, so the writes get slower (measured with perf on a 1 GiB stream:
// copy_folio_from_iter, the copy into the page cache, took 7 times as long
// with 80 MiB in flight as mbstream -x with its single 10 MiB buffer).
const DefaultMemoryLimit = 2 * ChunkSize

// ExtractStats counts what Extract read from the stream.
type ExtractStats struct {
	Files int   // files completed by an end-of-file chunk
	Bytes int64 // payload bytes handed to the writers
}

// Extract reads an mbstream from r and writes its files under dir, which
// must exist, as mbstream -x -C dir does. It returns when the stream ends,
// on the first error, or when ctx is cancelled; a Read blocked in r is not
// interrupted: close r to stop promptly, from opts.Abort for failures that
// arise outside the stream.
//
// Unlike the stock tool (SPEC §B.4, §B.6), Extract treats the stream as
// hostile: paths that are empty, absolute, not in clean form, or contain a
// ".." component, a NUL byte or a backslash fail with ErrUnsafePath, and
// all files are opened through an os.Root on dir, so symbolic links cannot
// lead outside it. Parent directories are created as needed (mode 0777
// before umask, as ds_local.cc's my_mkdir). Files are created with mode
// 0660 before umask (mysys my_umask) and O_EXCL: an existing file is never
// overwritten, and the error wraps fs.ErrExist. A path that reappears after
// its end-of-file chunk (the stock extractor forgets it and then fails on
// O_EXCL) fails the same way. Files still open at the end of the stream
// fail with ErrTruncated, as an SST must not start from a partial copy.
//
// Sparse chunks leave holes: their skips are not written, and each file is
// truncated to its final size when its end-of-file chunk arrives, so holes
// read back as zeros and do not use disk space (files are new, so there is
// nothing to punch).
//
// Files are written in parallel by opts.Workers goroutines while a single
// goroutine reads the stream; memory for payloads and sparse maps stays
// within opts.MemoryLimit plus one chunk and one map (the Reader's, before
// it is counted). After an error, files already written stay in dir, some
// partial; the caller cleans up. Errors about a chunk are *ChunkError values naming
// the path; filesystem errors keep their *fs.PathError inside, so that
// errors.Is(err, syscall.ENOSPC) holds for a full disk.
//
// Extract is ExtractTo with a DirSink on dir.
func Extract(ctx context.Context, r io.Reader, dir string, opts ExtractOptions) (ExtractStats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("mbstream: extract: %w", err)
	}
	defer root.Close()
	sink := NewDirSink(root, DirSinkOptions{WriteBehind: opts.WriteBehind, create: opts.create})
	return ExtractTo(ctx, r, sink, opts)
}

// ExtractTo reads an mbstream from r and applies it to sink as per-file
// operations: Create at a file's first chunk, WriteAt for payloads, Punch
// for the holes of sparse chunks, and End with the file's size at its
// end-of-file chunk (Close for files still open when extraction fails). It
// checks paths, orders and limits, runs workers and reports errors as
// Extract does; opts.WriteBehind is the DirSink's business and is ignored.
func ExtractTo(ctx context.Context, r io.Reader, sink Sink, opts ExtractOptions) (ExtractStats, error) {
	return extract(ctx, streamChunks{NewReaderOptions(r, ReaderOptions{MaxPayload: opts.MaxPayload})}, sink, opts)
}

// chunkReader is where the extractor's chunks come from: a Reader on a
// byte stream, or a pieceReader on a stream in pieces with clones.
type chunkReader interface {
	next() (*Chunk, error)
	// payload reads the current chunk's payload into dst (its length)
	// and appends to clones the parts that are clones, Off relative to
	// the payload's start.
	payload(dst []byte, clones []Clone) ([]Clone, error)
	position() (index, pos int64)
}

// streamChunks reads chunks from a Reader: data only.
type streamChunks struct{ rd *Reader }

func (c streamChunks) next() (*Chunk, error)        { return c.rd.Next() }
func (c streamChunks) position() (index, pos int64) { return c.rd.position() }

// readPiece is the most payload asks of the Reader at once, so that the
// Reader's CRC runs over data still in the CPU's L2 cache.
const readPiece = 512 << 10

func (c streamChunks) payload(dst []byte, clones []Clone) ([]Clone, error) {
	for off := 0; off < len(dst); {
		k := min(len(dst)-off, readPiece)
		if _, err := io.ReadFull(c.rd, dst[off:off+k]); err != nil {
			return clones, err
		}
		off += k
	}
	return clones, nil
}

// extract runs the workers on the chunks of cr.
func extract(ctx context.Context, cr chunkReader, sink Sink, opts ExtractOptions) (ExtractStats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	limit := opts.MemoryLimit
	if limit <= 0 {
		limit = DefaultMemoryLimit
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x := &extractor{
		sink:   sink,
		cancel: cancel,
		budget: newBudget(limit, opts.onWait),
		// The budget lets at most this many ChunkSize buffers out at once.
		free: make(chan []byte, max(1, limit/ChunkSize)),
	}

	queues := make([]chan *writeOp, workers)
	var wg sync.WaitGroup
	for i := range queues {
		q := make(chan *writeOp, 64)
		queues[i] = q
		wg.Go(func() { x.work(ctx, q) })
	}
	stopAbort := func() bool { return true }
	aborted := make(chan struct{})
	if opts.Abort != nil {
		// ctx is cancelled by a worker's failure or by the caller's ctx;
		// the reader's own errors come after stopAbort.
		stopAbort = context.AfterFunc(ctx, func() {
			defer close(aborted)
			opts.Abort(context.Cause(ctx))
		})
	}
	stats, err := x.read(ctx, cr, queues)
	if !stopAbort() {
		<-aborted // Abort runs or ran: let it finish before returning
	}
	x.dropSlab()
	if err != nil {
		cancel(err) // keeps a worker's earlier error if there is one
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return stats, context.Cause(ctx)
	}
	return stats, nil
}

// writeOp is one step for a worker: create and/or write and/or close a file.
type writeOp struct {
	path   string
	index  int64 // chunk number and position, for errors
	pos    int64
	create bool // open the file first
	close  bool // end-of-file chunk: set the size and close
	off    int64
	end    int64 // offset just past the data and holes
	sparse []SparseRange
	data   []byte
	clones []Clone // parts of data's range taken from reference files; Off in the file
	slab   *slab   // holder of data, if carved from a slab
	cost   int64   // budget held by data (if not from a slab) and sparse
}

func (o *writeOp) fail(err error) error {
	return &ChunkError{Index: o.index, Pos: o.pos, Path: o.path, Offset: uint64(o.off), Err: err}
}

// extractor holds what the reading goroutine and the workers share.
type extractor struct {
	sink   Sink
	cancel context.CancelCauseFunc
	budget *budget
	free   chan []byte // ChunkSize buffers for reuse; never blocks
	cur    *slab       // slab the reader carves payloads from, if any
}

// slab is a ChunkSize buffer from which the reader carves the payloads of
// consecutive chunks, so that no payload up to ChunkSize is allocated on
// its own: a stream of full chunks uses one slab per chunk, and thousands
// of small files share a few. The slab goes back to extractor.free, and
// its cost to the budget, when the reader has moved on and every op
// carved from it has been written.
type slab struct {
	buf  []byte
	used int
	refs atomic.Int32 // ops holding a part, plus 1 while the reader's cur
	cost int64        // budget held
}

// read parses the stream and hands each chunk to the worker that owns its
// file, picking the least busy worker when a file starts.
func (x *extractor) read(ctx context.Context, rd chunkReader, queues []chan *writeOp) (ExtractStats, error) {
	var st ExtractStats
	owner := make(map[string]int) // open file -> worker
	load := make([]int, len(queues))
	for {
		if ctx.Err() != nil {
			return st, context.Cause(ctx)
		}
		c, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
		index, pos := rd.position()
		o := &writeOp{path: c.Path, index: index, pos: pos}
		if err := checkExtractPath(c.Path); err != nil {
			return st, o.fail(err)
		}
		w, ok := owner[c.Path]
		if !ok {
			w = slices.Index(load, slices.Min(load))
			owner[c.Path] = w
			load[w]++
			o.create = true
		}
		if c.Type == ChunkEOF {
			o.close = true
			delete(owner, c.Path)
			load[w]--
			st.Files++
		} else {
			o.off, o.end, o.sparse = int64(c.Offset), int64(c.End()), c.Sparse
			if err := x.readPayload(ctx, rd, o, int(c.Length)); err != nil {
				return st, err
			}
			st.Bytes += int64(c.Length)
		}
		select {
		case queues[w] <- o:
		case <-ctx.Done():
			x.release(o)
			return st, context.Cause(ctx)
		}
	}
	if len(owner) > 0 {
		paths := make([]string, 0, len(owner))
		for p := range owner {
			paths = append(paths, fmt.Sprintf("%q", p))
		}
		slices.Sort(paths)
		if len(paths) > 10 {
			paths = append(paths[:10], "...")
		}
		return st, fmt.Errorf("%w: end of stream with %d files lacking an end-of-file chunk: %s",
			ErrTruncated, len(owner), strings.Join(paths, ", "))
	}
	return st, nil
}

// readPayload reads the current chunk's payload into a buffer counted
// against the memory budget, with the chunk's sparse map if any.
func (x *extractor) readPayload(ctx context.Context, rd chunkReader, o *writeOp, n int) error {
	switch {
	case o.sparse != nil || n > ChunkSize:
		// Oversized chunks (DefaultMaxPayload allows them) and sparse ones
		// are allocated to size, the sparse map counted with the payload.
		// The reader holds no slab while it waits, or a limit below a
		// slab could never be met.
		x.dropSlab()
		cost, err := x.budget.acquire(ctx, int64(n)+8*int64(len(o.sparse)))
		if err != nil {
			return err
		}
		o.cost = cost
		o.data = make([]byte, n)
	case n == 0:
		return nil
	default:
		if x.cur != nil && ChunkSize-x.cur.used < n {
			x.dropSlab()
		}
		if x.cur == nil {
			if err := x.newSlab(ctx); err != nil {
				return err
			}
		}
		sl := x.cur
		o.data = sl.buf[sl.used : sl.used+n : sl.used+n]
		o.slab = sl
		sl.used += n
		sl.refs.Add(1)
		if sl.used == ChunkSize {
			x.dropSlab()
		}
	}
	clones, err := rd.payload(o.data, nil)
	if err != nil {
		x.release(o)
		return err
	}
	for i := range clones {
		clones[i].Off += o.off
	}
	o.clones = clones
	return nil
}

// newSlab makes x.cur a slab with nothing carved from it. The caller
// must have dropped the previous one: the budget may be waiting for it.
func (x *extractor) newSlab(ctx context.Context) error {
	cost, err := x.budget.acquire(ctx, ChunkSize)
	if err != nil {
		return err
	}
	sl := &slab{cost: cost}
	select {
	case sl.buf = <-x.free:
	default:
		sl.buf = make([]byte, ChunkSize)
	}
	sl.refs.Store(1)
	x.cur = sl
	return nil
}

// dropSlab lets go of the reader's slab, if any.
func (x *extractor) dropSlab() {
	if x.cur != nil {
		x.unref(x.cur)
		x.cur = nil
	}
}

// unref drops one reference to sl and recycles it after the last.
func (x *extractor) unref(sl *slab) {
	if sl.refs.Add(-1) != 0 {
		return
	}
	select {
	case x.free <- sl.buf:
	default: // cannot happen: the budget bounds the slabs out
	}
	sl.buf = nil
	x.budget.release(sl.cost)
}

// release returns o's buffer and budget.
func (x *extractor) release(o *writeOp) {
	if o.slab != nil {
		x.unref(o.slab)
		o.slab = nil
	}
	o.data = nil
	x.budget.release(o.cost)
	o.cost = 0
}

// outFile is a file a worker has open.
type outFile struct {
	f   SinkFile
	end int64 // logical size so far, holes included
}

// work applies ops from q until q is closed. After the first failure (its
// own or anyone's) it only drains q, so that the reader never blocks on it.
func (x *extractor) work(ctx context.Context, q <-chan *writeOp) {
	files := make(map[string]*outFile)
	defer func() {
		for _, f := range files {
			f.f.Close()
		}
	}()
	for o := range q {
		if ctx.Err() == nil {
			if err := x.apply(files, o); err != nil {
				x.cancel(err)
			}
		}
		x.release(o)
	}
}

// apply performs one op.
func (x *extractor) apply(files map[string]*outFile, o *writeOp) error {
	f := files[o.path]
	if o.create {
		fh, err := x.sink.Create(o.path)
		if err != nil {
			return o.fail(err)
		}
		f = &outFile{f: fh}
		files[o.path] = f
	}
	if f == nil {
		// Cannot happen: the reader sends create with a file's first op.
		return o.fail(errors.New("internal error: write to a file not open"))
	}
	if len(o.data) > 0 || o.end > o.off {
		if err := f.write(o); err != nil {
			return o.fail(err)
		}
	}
	if o.close {
		delete(files, o.path)
		if err := f.f.End(f.end); err != nil {
			return o.fail(err)
		}
	}
	return nil
}

// write writes a payload or sparse chunk at its offset, a sparse chunk's
// skips as holes.
func (f *outFile) write(o *writeOp) error {
	if o.sparse == nil {
		// The data between the clones, then each clone.
		at := o.off
		for _, c := range o.clones {
			if c.Off > at {
				if _, err := f.f.WriteAt(o.data[at-o.off:c.Off-o.off], at); err != nil {
					return fmt.Errorf("write: %w", err)
				}
			}
			if err := f.f.Clone(c); err != nil {
				return err
			}
			at = c.Off + c.Len
		}
		if end := o.off + int64(len(o.data)); end > at {
			if _, err := f.f.WriteAt(o.data[at-o.off:], at); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	} else {
		pos, data := o.off, o.data
		for _, s := range o.sparse {
			if s.Skip > 0 {
				if err := f.f.Punch(pos, int64(s.Skip)); err != nil {
					return err
				}
				pos += int64(s.Skip)
			}
			if s.Len == 0 {
				continue
			}
			if _, err := f.f.WriteAt(data[:s.Len], pos); err != nil {
				return fmt.Errorf("write at %d: %w", pos, err)
			}
			pos += int64(s.Len)
			data = data[s.Len:]
		}
	}
	f.end = o.end
	return nil
}

// checkExtractPath rejects paths that could leave the target directory or
// name the same file in two ways.
func checkExtractPath(p string) error {
	why := ""
	switch {
	case p == "":
		why = "empty"
	case strings.IndexByte(p, 0) >= 0:
		why = "contains a NUL byte"
	case p[0] == '/':
		why = "absolute"
	case strings.IndexByte(p, '\\') >= 0:
		why = "contains a backslash"
	case p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/../"):
		why = `has a ".." component`
	case path.Clean(p) != p || p == ".":
		why = "not in clean form"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnsafePath, why)
}

// budget is a byte semaphore with a single waiter (the reader) and any
// number of releasers (the workers).
type budget struct {
	mu     sync.Mutex
	avail  int64
	total  int64
	wake   chan struct{}
	onWait func() // called before each wait, if set (tests)
}

func newBudget(total int64, onWait func()) *budget {
	return &budget{avail: total, total: total, wake: make(chan struct{}, 1), onWait: onWait}
}

// acquire waits until n bytes (at most the total) are free and takes them,
// returning how many it took.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.total)
	for {
		b.mu.Lock()
		if b.avail >= n {
			b.avail -= n
			b.mu.Unlock()
			return n, nil
		}
		b.mu.Unlock()
		if b.onWait != nil {
			b.onWait()
		}
		select {
		case <-b.wake:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.avail += n
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}
