package qpress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Ext is the suffix mariadb-backup --compress appends to every file.
const Ext = ".qp"

// copyBuf is the size of the read buffer on the archive and of the copy
// buffer to the output file.
const copyBuf = 256 << 10

// decompressFile decompresses the archive at path, which must end in ".qp",
// into the same path without the suffix, like "qpress -d path dir" does for
// the file stored in it. The stored name must equal the output's base name.
// It refuses to replace an existing file (the error wraps fs.ErrExist),
// writes to a temporary file in the same directory that it links into place
// only when the whole archive has been read and verified, and removes the
// temporary file on any failure, including cancellation of ctx. The output
// gets the permission bits of the archive. The archive itself is left in
// place. Errors are *Error values naming display.
func decompressFile(ctx context.Context, path, display string) error {
	fail := func(err error) error {
		var qe *Error
		if errors.As(err, &qe) {
			qe.Path = display
			return qe
		}
		return &Error{Path: display, Block: -1, Err: err}
	}
	if !strings.HasSuffix(path, Ext) || len(filepath.Base(path)) <= len(Ext) {
		return fail(fmt.Errorf("file name does not end in %q", Ext))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	dst := strings.TrimSuffix(path, Ext)

	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	r, err := newReader(bufio.NewReaderSize(f, copyBuf), display)
	if err != nil {
		return err
	}
	if want := filepath.Base(dst); r.Name() != want {
		return fail(fmt.Errorf("%w: stored file name %q, want %q", ErrCorrupt, r.Name(), want))
	}
	if _, err := os.Lstat(dst); err == nil {
		return fail(fmt.Errorf("create %s: %w", dst, fs.ErrExist))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}

	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".qpress-*")
	if err != nil {
		return fail(err)
	}
	name := tmp.Name()
	if err := writeTemp(ctx, tmp, r, fi.Mode().Perm()); err != nil {
		os.Remove(name)
		return fail(err)
	}
	// A hard link, unlike rename, never replaces an existing file, so a
	// file created since the check above is not lost.
	if err := os.Link(name, dst); err != nil {
		os.Remove(name)
		return fail(err)
	}
	if err := os.Remove(name); err != nil {
		return fail(err)
	}
	return nil
}

// writeTemp copies r into tmp, sets its mode and closes it.
func writeTemp(ctx context.Context, tmp *os.File, r io.Reader, mode fs.FileMode) error {
	if err := copyCtx(ctx, tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	return tmp.Close()
}

// copyCtx copies r to w, checking ctx between buffers.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) error {
	buf := make([]byte, copyBuf)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// DecompressDir decompresses every regular file named "*.qp" under dir,
// recursively, with at most workers (at least 1) files at a time, and
// deletes each archive once its output is in place: what the stock joiner
// does with "qpress -dT$nproc" and "find -delete" in
// wsrep_sst_mariabackup.sh. Symbolic links are not followed. It returns
// the number of archives decompressed and removed, and the first error, an
// *Error whose Path is relative to dir; on error the remaining work is
// cancelled, and outputs already written stay.
func DecompressDir(ctx context.Context, dir string, workers int) (int, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), Ext) && len(d.Name()) > len(Ext) {
			paths = append(paths, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, &Error{Block: -1, Err: fmt.Errorf("scan %s: %w", dir, err)}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan string)
	for range max(workers, 1) {
		wg.Go(func() {
			for p := range work {
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					rel = p
				}
				err = decompressFile(ctx, p, rel)
				if err == nil {
					if rerr := os.Remove(p); rerr != nil {
						err = &Error{Path: rel, Block: -1, Err: rerr}
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				done.Add(1)
			}
		})
	}
feed:
	for _, p := range paths {
		select {
		case work <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && int(done.Load()) < len(paths) {
		// Cancelled by the caller before every file was fed.
		firstErr = &Error{Block: -1, Err: context.Cause(ctx)}
	}
	return int(done.Load()), firstErr
}
