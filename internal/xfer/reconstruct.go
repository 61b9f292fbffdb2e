package xfer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// Errors of reconstruction. A reference that cannot be honoured is a bug
// on one side or a changed reference file: the transfer fails, never
// guesses.
var (
	// ErrRefRange means a reference reaches past the end of its file.
	ErrRefRange = errors.New("xfer: reference past the end of its file")
	// ErrRefMismatch means the referenced bytes do not have the hash or
	// CRC-32 the reference promised.
	ErrRefMismatch = errors.New("xfer: referenced bytes differ")
	// ErrRefPath means a reference names a path that is not a regular
	// file inside the reference root, or not a clean relative path.
	ErrRefPath = errors.New("xfer: bad reference path")
)

// maxOpenRefs is the number of reference files a Reconstructor keeps open.
const maxOpenRefs = 16

// Reconstructor reads referenced bytes from the joiner's reference files,
// all opened through an os.Root: paths cannot lead outside it, also not
// through symbolic links. It is not safe for concurrent use.
type Reconstructor struct {
	root   *os.Root
	mounts map[string]*os.Root
	seed   uint64
	maxLen int
	open   map[string]*refFile
}

type refFile struct {
	f    *os.File
	size int64
}

// NewReconstructor returns a Reconstructor reading under root, checking
// hashes with the manifest's seed and refusing references longer than
// maxLen bytes (0 means DefaultMaxRefLen). The caller keeps root open
// until Close and closes it after.
func NewReconstructor(root *os.Root, seed uint64, maxLen int) *Reconstructor {
	if maxLen <= 0 {
		maxLen = DefaultMaxRefLen
	}
	return &Reconstructor{root: root, seed: seed, maxLen: maxLen, open: make(map[string]*refFile), mounts: make(map[string]*os.Root)}
}

// Mount makes references to paths below prefix (a single clean path
// component, as BuildOptions.Prefix) read from root, with the prefix
// taken off: the joiner's reference data may sit in several directories
// (the old datadir, an interrupted attempt's staging directory), each
// with its own prefix in a merged manifest. root may be nil in
// NewReconstructor when every source is mounted. The caller keeps root
// open until Close.
func (r *Reconstructor) Mount(prefix string, root *os.Root) {
	r.mounts[prefix] = root
}

// Read returns the bytes ref points to, in buf if it is large enough,
// after checking them against the reference's hash and CRC-32. Errors
// wrap ErrRefPath, ErrRefRange, ErrRefMismatch, ErrTooLarge or the file's
// read error.
func (r *Reconstructor) Read(ref Ref, buf []byte) ([]byte, error) {
	switch {
	case !validRefPath(ref.Path):
		return nil, fmt.Errorf("%w: %q", ErrRefPath, ref.Path)
	case ref.Length <= 0:
		return nil, fmt.Errorf("%w: empty reference to %q", ErrFrame, ref.Path)
	case ref.Length > r.maxLen:
		return nil, fmt.Errorf("%w: reference of %d bytes to %q, limit %d", ErrTooLarge, ref.Length, ref.Path, r.maxLen)
	case ref.Offset < 0:
		return nil, fmt.Errorf("%w: offset %d in %q", ErrRefRange, ref.Offset, ref.Path)
	}
	rf, err := r.file(ref.Path)
	if err != nil {
		return nil, err
	}
	if ref.Offset > rf.size || int64(ref.Length) > rf.size-ref.Offset {
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %q, which has %d", ErrRefRange, ref.Length, ref.Offset, ref.Path, rf.size)
	}
	if cap(buf) < ref.Length {
		buf = make([]byte, ref.Length)
	}
	buf = buf[:ref.Length]
	if _, err := rf.f.ReadAt(buf, ref.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %q shrank while in use: %w", ErrRefRange, ref.Path, io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("xfer: read reference %q at %d: %w", ref.Path, ref.Offset, err)
	}
	if h := manifest.Sum(r.seed, buf); Hash(h) != ref.Hash {
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %q: hash %x, reference has %x", ErrRefMismatch, ref.Length, ref.Offset, ref.Path, h, ref.Hash)
	}
	if c := crc32.ChecksumIEEE(buf); c != ref.CRC {
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %q: CRC-32 %#08x, reference has %#08x", ErrRefMismatch, ref.Length, ref.Offset, ref.Path, c, ref.CRC)
	}
	return buf, nil
}

// file returns the open reference file path, which Read has checked.
func (r *Reconstructor) file(path string) (*refFile, error) {
	if rf, ok := r.open[path]; ok {
		return rf, nil
	}
	if len(r.open) >= maxOpenRefs {
		r.closeAll()
	}
	f, size, err := r.openChecked(path)
	if err != nil {
		return nil, err
	}
	rf := &refFile{f: f, size: size}
	r.open[path] = rf
	return rf, nil
}

// Open opens the reference file path (as a reference names it, mount
// prefix included) for reading, through the same root and checks as Read:
// the caller owns the file. A per-file sink opens it to share its blocks.
// Unlike Read, Open may be called from other goroutines while Read runs:
// it only reads the mounts, which are fixed once the transfer starts.
func (r *Reconstructor) Open(path string) (*os.File, error) {
	if !validRefPath(path) {
		return nil, fmt.Errorf("%w: %q", ErrRefPath, path)
	}
	f, _, err := r.openChecked(path)
	return f, err
}

// openChecked opens path, which the caller has checked with
// validRefPath, under its mount or the root, and returns it with its size:
// a regular file, or an error wrapping ErrRefPath.
func (r *Reconstructor) openChecked(path string) (*os.File, int64, error) {
	root, rel := r.root, path
	if first, rest, ok := strings.Cut(path, "/"); ok && r.mounts[first] != nil {
		root, rel = r.mounts[first], rest
	}
	if root == nil {
		return nil, 0, fmt.Errorf("%w: %q is in no reference directory", ErrRefPath, path)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrRefPath, err)
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %q is not a regular file", ErrRefPath, path)
	}
	return f, info.Size(), nil
}

func (r *Reconstructor) closeAll() {
	for p, rf := range r.open {
		rf.f.Close()
		delete(r.open, p)
	}
}

// Close closes the reference files. It does not close the root.
func (r *Reconstructor) Close() error {
	r.closeAll()
	return nil
}

// Stats counts what Assemble wrote.
type Stats struct {
	Frames   int64 // frames taken
	Data     int64 // bytes from data frames
	Refs     int64 // reference frames
	RefBytes int64 // bytes copied from reference files
}

// Assemble writes the transfer's byte stream to dst: data payloads as
// they are and referenced bytes from rec, in sequence order, until the
// end of the transfer. rec may be nil if the sender was given no
// manifest; a reference then fails with ErrRefPath. Assemble does not
// close rc; it returns the first error of rc, rec or dst. ctx is checked
// between frames.
func Assemble(ctx context.Context, dst io.Writer, rc *Receiver, rec *Reconstructor) (Stats, error) {
	var st Stats
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return st, context.Cause(ctx)
		}
		f, p, err := rc.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		st.Frames++
		if f.Type == FrameRef {
			if rec == nil {
				return st, fmt.Errorf("%w: reference to %q without reference data", ErrRefPath, f.Ref.Path)
			}
			if buf, err = rec.Read(f.Ref, buf); err != nil {
				return st, fmt.Errorf("xfer: frame %d: %w", f.Seq, err)
			}
			p = buf
			st.Refs++
			st.RefBytes += int64(len(p))
		} else {
			st.Data += int64(len(p))
		}
		if _, err := dst.Write(p); err != nil {
			return st, fmt.Errorf("xfer: write transfer output: %w", err)
		}
	}
}

// MaxRefRun is the longest reference SendPayload makes of consecutive
// matching blocks: the joiner reads a reference into memory whole.
const MaxRefRun = 1 << 20

// SendPayload queues p, the bytes at offset off of a file the donor
// streams (an mbstream chunk's payload), on s. It cuts p at multiples of
// the manifest's block size in the file's offsets, the joiner's block
// boundaries, and sends each piece whose hash and length the manifest
// has as a reference, the rest as data. Pieces that match consecutive
// blocks of one reference file go as one reference of up to MaxRefRun
// bytes, hashed and checksummed whole, so that unchanged data costs one
// frame and one read on the joiner per MiB rather than per block. m may
// be nil: everything is data. It returns the bytes sent as references.
func SendPayload(s *Sender, m *manifest.Manifest, off int64, p []byte) (int64, error) {
	if m == nil {
		return 0, s.Data(p)
	}
	bs := int64(m.BlockSize())
	var refBytes int64
	pending := 0 // bytes of p before i not sent yet, to go as data or as the run
	// The run: p[pending:i] matches the reference file's bytes from
	// run.Offset on, when run.Length > 0.
	var run manifest.Block
	flushRun := func(end int) error {
		if run.Length == 0 {
			return nil
		}
		piece := p[pending:end]
		err := s.Ref(Ref{Path: run.Path, Offset: run.Offset, Length: len(piece), Hash: Hash(m.Sum(piece)), CRC: crc32.ChecksumIEEE(piece)})
		refBytes += int64(len(piece))
		pending, run = end, manifest.Block{}
		return err
	}
	i := 0
	for i < len(p) {
		end := min(len(p), i+int(bs-(off+int64(i))%bs))
		piece := p[i:end]
		b, ok := m.Lookup(m.Sum(piece), len(piece))
		switch {
		case ok && run.Length > 0 && b.Path == run.Path && b.Offset == run.Offset+int64(run.Length) && run.Length+len(piece) <= MaxRefRun:
			run.Length += len(piece)
		case ok:
			if err := flushRun(i); err != nil {
				return refBytes, err
			}
			if i > pending {
				if err := s.Data(p[pending:i]); err != nil {
					return refBytes, err
				}
				pending = i
			}
			run = manifest.Block{Path: b.Path, Offset: b.Offset, Length: len(piece)}
		default:
			if err := flushRun(i); err != nil {
				return refBytes, err
			}
		}
		i = end
	}
	if err := flushRun(len(p)); err != nil {
		return refBytes, err
	}
	if pending < len(p) {
		return refBytes, s.Data(p[pending:])
	}
	return refBytes, nil
}
