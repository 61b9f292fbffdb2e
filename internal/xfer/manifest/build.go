package manifest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BuildOptions tunes Build.
type BuildOptions struct {
	// BlockSize is the block size; 0 means DefaultBlockSize.
	BlockSize int
	// Seed is the hash seed; 0 draws one at random. Manifests to be
	// merged need the same seed.
	Seed uint64
	// Prefix, if set, is put before every path with a "/": the name of
	// this source in a merged manifest (see Merge and
	// xfer.Reconstructor.Mount).
	Prefix string
	// Workers is the number of goroutines hashing; 0 means 2. Each holds
	// one block buffer.
	Workers int
	// Include, if set, is asked for every regular file (path relative to
	// the root, slash-separated) and directory; false leaves it out (a
	// directory with all it contains).
	Include func(path string, dir bool) bool
	// Progress, if set, is called from one goroutine at a time with the
	// bytes hashed so far and the total, at most every ProgressEvery
	// (0 means 5 seconds) and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// OnSkip, if set, is told of each file or directory left out because
	// this process may not read it (permission denied), e.g. a root-owned
	// directory in a datadir owned by mysqld's user. Without it such an
	// entry fails the build.
	OnSkip func(path string, err error)
	// Stop, if set, ends the build early when it is closed: no new work
	// is started, the stripes being hashed are finished, and Build returns
	// a manifest of the files hashed whole by then (Progress.Done and
	// Bytes tell how much that is). A joiner whose donor is waiting sends
	// what it has rather than nothing.
	Stop <-chan struct{}
}

// Progress reports how far Build got.
type Progress struct {
	Files      int   // files found
	Bytes      int64 // bytes hashed so far
	TotalBytes int64 // bytes to hash
	Done       bool  // the last report
	Stopped    bool  // the last report of a build ended by BuildOptions.Stop
}

// stripe is how many blocks one work item hashes: big files are split so
// that all workers share them.
const stripe = 64

type work struct {
	file   int   // index in files
	block  int   // first block
	blocks int   // number of blocks
	size   int64 // file size
}

// Build hashes the regular files under the directory root, which it reads
// through an os.Root (symbolic links are not followed and leave nothing
// in the manifest), with opts.Workers goroutines. It returns when all are
// hashed, on the first error, or when ctx is cancelled. A file that is
// shorter when read than when listed fails the build: reference data must
// not change while it is in use.
func Build(ctx context.Context, root string, opts BuildOptions) (*Manifest, error) {
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	if opts.Seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("manifest: draw seed: %w", err)
		}
		opts.Seed = binary.BigEndian.Uint64(b[:]) | 1
	}
	bld, err := newBuilder(opts.BlockSize, opts.Seed)
	if err != nil {
		return nil, err
	}
	if opts.Prefix != "" && !ValidPath(opts.Prefix) {
		return nil, fmt.Errorf("manifest: prefix %q is not a clean relative path", opts.Prefix)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("manifest: open reference root: %w", err)
	}
	defer r.Close()

	type file struct {
		path string
		size int64
	}
	var files []file
	var total int64
	skip := func(p string, err error) bool {
		if opts.OnSkip == nil || !errors.Is(err, fs.ErrPermission) {
			return false
		}
		opts.OnSkip(p, err)
		return true
	}
	err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != "." && skip(p, err) {
				return nil // an unreadable directory: its entries are left out
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			if opts.Include != nil && !opts.Include(p, true) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (opts.Include != nil && !opts.Include(p, false)) {
			return nil
		}
		if !ValidPath(p) || (opts.Prefix != "" && !ValidPath(opts.Prefix+"/"+p)) {
			return fmt.Errorf("manifest: %q: unusable path", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if opts.OnSkip != nil {
			f, err := r.Open(p)
			if err != nil {
				if skip(p, err) {
					return nil
				}
				return err
			}
			f.Close()
		}
		if info.Size() > MaxFileSize {
			return fmt.Errorf("manifest: %q: %d bytes, more than %d", p, info.Size(), int64(MaxFileSize))
		}
		if opts.Prefix != "" {
			p = opts.Prefix + "/" + p
		}
		files = append(files, file{p, info.Size()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("manifest: list %s: %w", root, err)
	}

	// Hashes go straight to their place in one slice, sized once, in
	// path order, so that finish has nothing to move.
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.path, b.path) })
	bs := opts.BlockSize
	offsets := make([]int, len(files))
	nblocks := 0
	for i, f := range files {
		offsets[i] = nblocks
		nblocks += blocksOf(f.size, bs)
	}
	hashes := make([]Hash, nblocks)

	prefix := ""
	if opts.Prefix != "" {
		prefix = opts.Prefix + "/"
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan work)
	done := make(chan int64, opts.Workers)
	stripesDone := make([]atomic.Int32, len(files))
	stopped := false
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			buf := make([]byte, bs)
			for w := range jobs {
				n, err := hashStripe(r, strings.TrimPrefix(files[w.file].path, prefix), w, bs, opts.Seed, buf, hashes[offsets[w.file]+w.block:])
				if err != nil {
					cancel(err)
					return
				}
				stripesDone[w.file].Add(1)
				select {
				case done <- n:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i, f := range files {
			k := blocksOf(f.size, bs)
			for b := 0; b < k; b += stripe {
				select {
				case jobs <- work{file: i, block: b, blocks: min(stripe, k-b), size: f.size}:
				case <-ctx.Done():
					return
				case <-opts.Stop:
					stopped = true
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	p := Progress{Files: len(files), TotalBytes: total}
	last := time.Now()
	for n := range done {
		p.Bytes += n
		if opts.Progress != nil && time.Since(last) >= opts.ProgressEvery {
			last = time.Now()
			opts.Progress(p)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	// The feeder has returned (jobs is closed, every worker is done), so
	// stopped is safe to read.
	if stopped {
		var kept int64
		for i, f := range files {
			n := blocksOf(f.size, bs)
			if int(stripesDone[i].Load()) != (n+stripe-1)/stripe {
				continue
			}
			if err := bld.add(f.path, f.size, hashes[offsets[i]:offsets[i]+n]); err != nil {
				return nil, err
			}
			kept += f.size
		}
		p.Bytes, p.Done, p.Stopped = kept, true, true
		if opts.Progress != nil {
			opts.Progress(p)
		}
		return bld.finish(), nil
	}
	for i, f := range files {
		bld.m.files = append(bld.m.files, File{Path: f.path, Size: f.size, first: offsets[i]})
	}
	bld.m.hashes = hashes
	if opts.Progress != nil {
		p.Done = true
		opts.Progress(p)
	}
	m := bld.finish()
	return m, nil
}

// hashStripe hashes w.blocks blocks of the file from block w.block into
// out and returns the bytes read.
func hashStripe(r *os.Root, path string, w work, bs int, seed uint64, buf []byte, out []Hash) (int64, error) {
	f, err := r.Open(path)
	if err != nil {
		return 0, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	var n int64
	for i := range w.blocks {
		off := int64(w.block+i) * int64(bs)
		b := buf[:min(int64(bs), w.size-off)]
		if _, err := f.ReadAt(b, off); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("file shrank below %d bytes while hashing: %w", w.size, io.ErrUnexpectedEOF)
			}
			return n, fmt.Errorf("manifest: read %s at %d: %w", path, off, err)
		}
		out[i] = Sum(seed, b)
		n += int64(len(b))
	}
	return n, nil
}
