package sst

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/swap"
)

// # Delta in place
//
// When the previous and the new data do not fit side by side (or
// keep-datadir=0), the stock order wipes the datadir and takes every byte
// from the donor. With a donor that offers its blocks (xfer.OfferVersion)
// the joiner instead moves the previous data's entries into the staging
// directory (renames, on one filesystem) and builds the new data over
// them: blocks the donor offers that are there already stay untouched,
// changed blocks are written, and what the donor did not send is removed
// once the stream ends. The previous data is not kept, as in the stock
// order; an interrupted attempt's staging directory, patched so far, is
// the next attempt's reference data (resume).

// inPlacePrefix names the staging directory among the sources of a delta
// in place.
const inPlacePrefix = "p"

// moveIntoStaging readies the staging directory for a delta in place:
// an interrupted attempt's data (resume), patched so far, becomes it;
// then the datadir's top-level entries that the stock order would wipe
// and that may be reference data (includeOld) move into it, unless it
// has that name already. It returns how many entries it moved (the
// resume counting as one); 0 with a nil error when the staging directory
// is on another filesystem (--sst-temp-dir), where renames cannot move
// them. Entries that cannot be moved stay, and the stock order's wipe
// removes them.
func (s *session) moveIntoStaging(t targets) (int, error) {
	n := 0
	if resume := s.ref.roots[resumePrefix]; resume != "" {
		s.resumeAtStream = false
		if err := os.Rename(resume, t.staging); err != nil {
			return 0, err
		}
		delete(s.ref.roots, resumePrefix)
		n++
	} else if err := os.Mkdir(t.staging, 0o755); err != nil {
		return 0, err
	}
	entries, err := os.ReadDir(t.datadir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		p := filepath.Join(t.datadir, e.Name())
		if e.Name() == swap.LostFound || t.keep.MatchString(p) || t.skipped(p) || !includeOld(e.Name(), e.IsDir()) {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			continue // a link's target is not ours to move
		}
		dst := filepath.Join(t.staging, e.Name())
		if _, err := os.Lstat(dst); err == nil {
			continue // the resumed data has it, newer
		}
		err := os.Rename(p, dst)
		switch {
		case err == nil:
			n++
		case errors.Is(err, syscall.EXDEV) && n == 0:
			return 0, nil
		case errors.Is(err, syscall.EXDEV):
			// The staging directory is on another filesystem than the
			// datadir (--sst-temp-dir) and holds resumed data: none of
			// the datadir's entries can follow.
			s.log.Info(fmt.Sprintf("Note: the previous data in %s cannot be moved into %s (another filesystem): it is not reference data, and is removed as the stock script does", t.datadir, t.staging))
			return n, nil
		default:
			s.log.Info(fmt.Sprintf("Note: %s cannot be moved into %s (%v): it is not reference data, and is removed as the stock script does", p, t.staging, err))
		}
	}
	return n, nil
}

// createdSink is a Sink that remembers, in 8 bytes per file and
// directory, which names it created, so that what the stream did not
// create can be found afterwards without holding the names.
type createdSink struct {
	mbstream.Sink
	seed  maphash.Seed
	mu    sync.Mutex
	names []uint64
}

func newCreatedSink(s mbstream.Sink) *createdSink {
	return &createdSink{Sink: s, seed: maphash.MakeSeed()}
}

func (c *createdSink) Create(name string) (mbstream.SinkFile, error) {
	f, err := c.Sink.Create(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for p := name; p != "." && p != "/"; p = path.Dir(p) {
		c.names = append(c.names, maphash.String(c.seed, p))
	}
	c.mu.Unlock()
	return f, nil
}

// removeStale removes from dir, after a delta in place, the files and
// directories of the previous data that the stream did not create. It
// returns how many files it removed.
func (c *createdSink) removeStale(dir string) (int, error) {
	slices.Sort(c.names)
	c.names = slices.Compact(c.names)
	created := func(rel string) bool {
		_, ok := slices.BinarySearch(c.names, maphash.String(c.seed, rel))
		return ok
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if created(rel) {
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		n++
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	return n, err
}
