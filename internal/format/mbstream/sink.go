package mbstream

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"
)

// ErrCloneMismatch means the bytes a Clone names in its reference file do
// not have the CRC-32 or the content hash the Clone promised: the
// reference file changed or the sender was wrong, and the file is not
// built from guesses.
var ErrCloneMismatch = errors.New("mbstream: referenced bytes differ")

// Sink receives the files of an extracted stream as per-file operations.
// ExtractTo calls Create once for each file, with a path that passed the
// checks described at Extract, and then calls the returned file's methods
// from one goroutine; different files are written concurrently, so Create
// must be safe for concurrent use.
type Sink interface {
	// Create creates the new file name, a clean relative path, and
	// returns it open for writing. An existing file is an error.
	Create(name string) (SinkFile, error)
}

// SinkFile is one file being built. Offsets may come in any order; the
// extractor of an mbstream sends them ascending. Every SinkFile ends with
// one call of End (success) or Close (abandoned).
type SinkFile interface {
	// WriteAt writes p at offset off, as io.WriterAt.
	WriteAt(p []byte, off int64) (int, error)
	// Punch makes the n bytes at off a hole: they read as zeros and need
	// no disk space.
	Punch(off, n int64) error
	// Clone copies the bytes of c's reference range to c.Off, after
	// checking them against c's CRC-32 and content hash.
	Clone(c Clone) error
	// End gives the file its final size, size, and closes it; bytes past
	// the last data written read as zeros (a hole).
	End(size int64) error
	// Close closes an unfinished file, after a failure.
	Close() error
}

// Clone names a range of a reference file, the joiner's old copy of a
// file, whose bytes go to offset Off of the file being built, and what
// those bytes must be.
type Clone struct {
	Ref    string // reference file: a clean relative path, opened through DirSinkOptions.Refs
	RefOff int64  // offset of the range in Ref
	Len    int64  // bytes in the range, at most DefaultMaxPayload
	Off    int64  // destination offset in the file being built
	CRC    uint32 // CRC-32 (IEEE) of the bytes, always checked
	// Sum is the caller's content hash of the bytes (transfer v2: the
	// manifest's block hash), checked by DirSinkOptions.Verify.
	Sum []byte
	// Data, if set, are the Len bytes, which the caller has read from
	// the reference file and checked already, against CRC too (the
	// extractor takes their part of the chunk's CRC from CRC): the sink
	// neither reads nor checks them again, writes them where it cannot
	// share the reference file's blocks, and opens the reference file
	// only to share them.
	Data []byte
}

// DirSinkOptions tunes a DirSink.
type DirSinkOptions struct {
	// Refs opens reference files for clones, by path; an *os.Root on the
	// reference directory confines them to it. nil refuses every clone.
	Refs interface {
		Open(name string) (*os.File, error)
	}
	// Verify, if set, checks the bytes b read for c against c.Sum and
	// returns an error wrapping ErrCloneMismatch if they differ. The CRC
	// is checked whether it is set or not.
	Verify func(c Clone, b []byte) error
	// WriteBehind, when positive, starts the kernel's writeback of each
	// file every WriteBehind bytes written; see ExtractOptions.
	WriteBehind int64
	// CloneRange, if set, shares the n checked bytes at srcOff of src
	// with dst at dstOff instead of writing them (reflink.CloneRange:
	// FICLONERANGE on XFS and btrfs), for clones whose offsets and length
	// are multiples of CloneAlign. It returns false, and no error, where
	// the filesystem cannot share them; the DirSink then writes the bytes,
	// and stops trying for its other clones.
	CloneRange func(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (bool, error)
	// Shared, if set, is called once for each file, after CloneRange
	// first shared blocks into it (transfer limits how much a later
	// rewrite of those blocks reserves: reflink.LimitCopyOnWrite).
	Shared func(dst *os.File)
	// CloneAlign is the alignment CloneRange needs (the filesystem's
	// block size); 0 means 4096.
	CloneAlign int64
	// InPlace builds files over the ones already under the root (the
	// previous data, moved there for a delta in place) instead of
	// refusing them: Create opens an existing regular file as it is, a
	// clone of the same file's bytes at the same offset writes nothing
	// (they are there), punches apply to the old bytes, and End gives the
	// file the stream's size, shorter or longer.
	InPlace bool

	// create replaces opening files under the root, for tests.
	create func(name string) (outWriter, error)
}

// DirSink is the Sink that writes files under a directory, opened as an
// os.Root: names and symbolic links cannot lead outside it. Files are
// created as Extract describes (parents 0777 and files 0660 before umask,
// O_EXCL). A DirSink is safe for concurrent use; it does not close the
// root.
type DirSink struct {
	root *os.Root
	opts DirSinkOptions
	dirs sync.Map // parent directories already created

	noClone atomic.Bool  // CloneRange said the filesystem cannot share blocks
	cloned  atomic.Int64 // bytes shared by CloneRange
	kept    atomic.Int64 // bytes of clones left where they were (InPlace)
}

// Kept returns how many bytes of clones were already in place
// (DirSinkOptions.InPlace) and were not written.
func (s *DirSink) Kept() int64 { return s.kept.Load() }

// Cloned returns how many bytes of clones were shared with their
// reference files by DirSinkOptions.CloneRange rather than written.
func (s *DirSink) Cloned() int64 { return s.cloned.Load() }

// NewDirSink returns a Sink writing under root. The caller keeps root, and
// opts.Refs, open until every file has ended.
func NewDirSink(root *os.Root, opts DirSinkOptions) *DirSink {
	return &DirSink{root: root, opts: opts}
}

// Create makes the parent directories of name and creates the file. Unsafe
// names fail with ErrUnsafePath, an existing file with an error wrapping
// fs.ErrExist.
func (s *DirSink) Create(name string) (SinkFile, error) {
	if err := checkExtractPath(name); err != nil {
		return nil, err
	}
	f := &dirFile{sink: s}
	if s.opts.create != nil {
		w, err := s.opts.create(name)
		if err != nil {
			return nil, err
		}
		f.w = w
		return f, nil
	}
	if dir := path.Dir(name); dir != "." {
		if _, ok := s.dirs.Load(dir); !ok {
			if err := s.root.MkdirAll(dir, 0o777); err != nil {
				return nil, fmt.Errorf("create parent directory: %w", err)
			}
			s.dirs.Store(dir, struct{}{})
		}
	}
	if s.opts.InPlace {
		return f, f.openInPlace(name)
	}
	w, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o660)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	f.w = w
	return f, nil
}

// openInPlace opens name for DirSinkOptions.InPlace: the existing
// regular file, whose bytes count as written, or a new one.
func (f *dirFile) openInPlace(name string) error {
	root := f.sink.root
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		// Something else by that name in the previous data (a
		// directory, a link): the stream's file replaces it.
		if err := root.RemoveAll(name); err != nil {
			return fmt.Errorf("create: replace %s: %w", fi.Mode().Type(), err)
		}
	}
	w, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o660)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fi, err := w.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: not a regular file", fs.ErrExist)
	}
	if err != nil {
		w.Close()
		return fmt.Errorf("create: %w", err)
	}
	f.w, f.self, f.written, f.behind = w, fi, fi.Size(), fi.Size()
	return nil
}

// outWriter is what a DirSink writes a file through; *os.File in
// production.
type outWriter interface {
	io.WriterAt
	Truncate(size int64) error
	Close() error
}

// dirFile is a file of a DirSink.
type dirFile struct {
	sink    *DirSink
	w       outWriter
	written int64 // end of the data written
	behind  int64 // start of the written data whose writeback is not started

	ref     *os.File // reference file of the last clone, kept open
	refPath string
	refInfo os.FileInfo // of ref, with InPlace
	self    os.FileInfo // of the file itself, with InPlace
	buf     []byte      // clone scratch
	shared  bool        // CloneRange shared blocks into the file
}

// WriteAt writes p at off and starts writeback when enough has gathered.
func (f *dirFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.w.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	f.written = max(f.written, off+int64(n))
	if wb := f.sink.opts.WriteBehind; wb > 0 && f.written-f.behind >= wb {
		startWriteback(f.w, f.behind, f.written-f.behind)
		f.behind = f.written
	}
	return n, nil
}

// Punch leaves a hole. Past the data written so far, which is all an
// mbstream's sparse chunks ask of a new file, there is nothing to do: End
// sets the size. Over written data it deallocates the range.
func (f *dirFile) Punch(off, n int64) error {
	if n <= 0 || off >= f.written {
		return nil
	}
	return punchHole(f.w, off, min(n, f.written-off))
}

// Clone reads c's range from its reference file, checks it, and places
// it: the bytes the sender left out are rebuilt from the joiner's own
// copy, as transfer v2's reconstruction does, shared with the reference
// file where DirSinkOptions.CloneRange can (see place).
func (f *dirFile) Clone(c Clone) error {
	switch {
	case c.Len <= 0 || c.RefOff < 0 || c.Off < 0:
		return fmt.Errorf("clone %q: %d bytes at %d to %d: invalid range", c.Ref, c.Len, c.RefOff, c.Off)
	case c.Len > DefaultMaxPayload:
		return fmt.Errorf("%w: clone of %d bytes from %q, limit %d", ErrTooLarge, c.Len, c.Ref, DefaultMaxPayload)
	}
	if c.Data != nil {
		if int64(len(c.Data)) != c.Len {
			return fmt.Errorf("clone %q: %d bytes given for %d", c.Ref, len(c.Data), c.Len)
		}
		var src *os.File
		if f.mayShare(c) || f.self != nil {
			var err error
			if src, err = f.open(c.Ref); err != nil {
				return err
			}
		}
		return f.place(c, src, c.Data)
	}
	src, err := f.open(c.Ref)
	if err != nil {
		return err
	}
	if int64(cap(f.buf)) < c.Len {
		f.buf = make([]byte, c.Len)
	}
	b := f.buf[:c.Len]
	if _, err := src.ReadAt(b, c.RefOff); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("clone: read %q at %d: %w", c.Ref, c.RefOff, err)
	}
	if got := crc32.ChecksumIEEE(b); got != c.CRC {
		return fmt.Errorf("%w: %d bytes at %d of %q: CRC-32 %#08x, clone has %#08x", ErrCloneMismatch, c.Len, c.RefOff, c.Ref, got, c.CRC)
	}
	if v := f.sink.opts.Verify; v != nil {
		if err := v(c, b); err != nil {
			return err
		}
	}
	return f.place(c, src, b)
}

// place puts the checked bytes b of clone c, read from src, into the
// file: where DirSinkOptions.CloneRange is set, the range is aligned and
// the file is an *os.File, by sharing src's blocks (nothing written);
// otherwise by writing b.
func (f *dirFile) place(c Clone, src *os.File, b []byte) error {
	if f.self != nil && c.Off == c.RefOff && f.refInfo != nil && src == f.ref && os.SameFile(f.self, f.refInfo) {
		f.sink.kept.Add(c.Len) // in place: the bytes are there
		return nil
	}
	if f.share(c, src) {
		f.written = max(f.written, c.Off+c.Len)
		return nil
	}
	if _, err := f.WriteAt(b, c.Off); err != nil {
		return fmt.Errorf("clone: write at %d: %w", c.Off, err)
	}
	return nil
}

// mayShare reports whether c could be placed by sharing blocks: a
// cloner, not refused yet, an *os.File to clone into, an aligned range.
func (f *dirFile) mayShare(c Clone) bool {
	s := f.sink
	if s.opts.CloneRange == nil || s.noClone.Load() {
		return false
	}
	if _, ok := f.w.(*os.File); !ok {
		return false
	}
	align := s.opts.CloneAlign
	if align <= 0 {
		align = 4096
	}
	return c.Off%align == 0 && c.RefOff%align == 0 && c.Len%align == 0
}

// share tries to clone c by sharing blocks; false means "write it".
func (f *dirFile) share(c Clone, src *os.File) bool {
	if src == nil || !f.mayShare(c) {
		return false
	}
	s := f.sink
	dst := f.w.(*os.File)
	done, err := s.opts.CloneRange(dst, c.Off, src, c.RefOff, c.Len)
	if err != nil || !done {
		// Not on this filesystem (or not between these two): write
		// this clone and every later one.
		s.noClone.Store(true)
		return false
	}
	s.cloned.Add(c.Len)
	if !f.shared {
		f.shared = true
		if s.opts.Shared != nil {
			s.opts.Shared(dst)
		}
	}
	return true
}

// open returns the reference file name, keeping the last one open: a
// file's clones mostly come from its own old copy.
func (f *dirFile) open(name string) (*os.File, error) {
	if f.ref != nil && f.refPath == name {
		return f.ref, nil
	}
	if err := checkExtractPath(name); err != nil {
		return nil, fmt.Errorf("clone from %q: %w", name, err)
	}
	refs := f.sink.opts.Refs
	if refs == nil {
		return nil, fmt.Errorf("clone from %q: no reference files", name)
	}
	r, err := refs.Open(name)
	if err != nil {
		return nil, fmt.Errorf("clone: open reference: %w", err)
	}
	f.closeRef()
	f.ref, f.refPath = r, name
	if f.self != nil {
		f.refInfo, _ = r.Stat()
	}
	return r, nil
}

func (f *dirFile) closeRef() {
	if f.ref != nil {
		f.ref.Close()
		f.ref, f.refInfo = nil, nil
	}
}

// End sets the size if the data written ends before it, then closes the
// file; it returns the first error.
func (f *dirFile) End(size int64) error {
	f.closeRef()
	var err error
	if size > f.written || f.self != nil && size != f.written {
		if err = f.w.Truncate(size); err != nil {
			err = fmt.Errorf("set size: %w", err)
		}
	}
	if cerr := f.w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}

// Close closes the file as it is.
func (f *dirFile) Close() error {
	f.closeRef()
	return f.w.Close()
}

// writeZeros writes n zero bytes to f at off, for punchHole where the
// filesystem cannot punch.
func writeZeros(f outWriter, off, n int64) error {
	zero := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if _, err := f.WriteAt(zero[:k], off); err != nil {
			return wrapPunch(off, err)
		}
		off, n = off+k, n-k
	}
	return nil
}

func wrapPunch(off int64, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("punch hole at %d: %w", off, err)
}
