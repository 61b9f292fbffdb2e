package sst

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/sstdir"
	"wsrep_sst_mariabackup/internal/status"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/xfer"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// resumeDir is where the staging directory of an interrupted SST waits
// for the next attempt, whose reference data it is (transfer v2 resume).
// It is removed once an SST or IST succeeds.
const resumeDir = ".sst-resume"

// Reference prefixes in the joiner's manifest: resumePrefix for resumeDir,
// oldPrefix+N for the Nth directory of the previous data.
const (
	resumePrefix = "r"
	oldPrefix    = "d"
)

// reference is the joiner's reference data: the previous data in its
// directories and an interrupted attempt's staging directory. A donor
// that speaks delta by offer (xfer.OfferVersion) gets them as sources,
// compared block by block as it offers; for an earlier release of ours,
// which reads a manifest, they are hashed once its hello arrives (begin).
type reference struct {
	seed      uint64
	blockSize int
	// ctx and nold are for begin, which starts the build.
	ctx    context.Context
	nold   int
	cancel context.CancelFunc
	done   chan struct{}
	// enough, once closed, ends the hashing early with what is hashed.
	enough chan struct{}
	// Set by the build goroutine before done is closed.
	old, resume *manifest.Manifest
	err         error
	// roots maps each prefix to its directory.
	roots map[string]string
}

// mutableRefs are names of files that the joiner's mysqld or Galera may
// rewrite in place while the SST runs (a rewritten reference block fails
// the transfer), or that no backup stream ever contains.
var mutableRefs = map[string]bool{
	"galera.cache": true, "gvwstate.dat": true, "grastate.dat": true, "ibtmp1": true,
	progressMarker: true, sstdir.PidFile: true, swapJournal: true, reflinkShort: true,
}

// includeOld is the manifest filter of the previous data's directories.
func includeOld(p string, dir bool) bool {
	base := path.Base(p)
	if !strings.Contains(p, "/") && (base == stagingDir || base == resumeDir || base == swap.AsideName || base == swap.LostFound) {
		return false
	}
	if dir {
		return true
	}
	switch {
	case mutableRefs[base], strings.HasPrefix(base, "ib_logfile"), strings.HasSuffix(base, ".pid"),
		strings.HasSuffix(base, ".sock"), strings.HasSuffix(base, ".err"),
		strings.HasPrefix(base, "mariabackup.") && strings.HasSuffix(base, ".log"):
		return false
	}
	return true
}

// referenceFilter is the manifest filter of the previous data's directory
// dir: includeOld, minus the status file and its temporary files when
// they live there (rewritten while the SST runs).
func (s *session) referenceFilter(dir string) func(string, bool) bool {
	f := s.cfg.StatusFile
	if f == "" {
		return includeOld
	}
	abs, err := filepath.Abs(f)
	if err != nil {
		return includeOld
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return includeOld
	}
	rel = filepath.ToSlash(rel)
	tmp := path.Join(path.Dir(rel), status.TempPattern(path.Base(rel)))
	return func(p string, isDir bool) bool {
		if !isDir {
			if ok, _ := path.Match(tmp, p); ok || p == rel {
				return false
			}
		}
		return includeOld(p, isDir)
	}
}

// startReference moves a stale staging directory to resumeDir and starts
// hashing t's directories and resumeDir.
func (s *session) startReference(ctx context.Context, datadir string, dirs []string) *reference {
	staging := s.stagingPath(datadir)
	resume := s.resumePath(datadir)
	if _, err := os.Stat(staging); err == nil {
		_ = os.RemoveAll(resume)
		if err := os.Rename(staging, resume); err != nil {
			s.log.Warn(fmt.Sprintf("cannot keep %s for a resumed transfer: %v", staging, err))
		} else {
			s.log.Info(fmt.Sprintf("Keeping '%s' of the interrupted SST as '%s': reference data for this one (resume)", staging, resume))
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := &reference{seed: binary.BigEndian.Uint64(b[:]) | 1, done: make(chan struct{}), enough: make(chan struct{}), roots: map[string]string{}}
	if _, err := os.Stat(resume); err == nil {
		r.roots[resumePrefix] = resume
	}
	var old []string
	for _, d := range append([]string{datadir}, dirs...) {
		// keep-datadir=0 wipes the previous data before it could be
		// read: only an interrupted attempt's data is of use.
		if d != "" && s.cfg.KeepDatadir != "0" && !coveredBy(d, old) {
			old = append(old, d)
		}
	}
	for i, d := range old {
		r.roots[oldPrefix+strconv.Itoa(i)] = d
	}
	r.ctx, r.nold = ctx, len(old)
	return r
}

// begin starts hashing, once.
func (r *reference) begin(s *session) {
	if r.cancel != nil {
		return
	}
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(r.ctx)
	go r.build(ctx, s, r.nold)
}

// sourceDirs returns the directories a delta by offer may compare, by
// prefix, in the order the joiner prefers them (the interrupted attempt's
// data first: it is newer), and the filter of each: the previous data
// only if it is kept until the new data is prepared (withOld).
func (r *reference) sourceDirs(s *session, withOld bool) (prefixes []string, dirs map[string]string, include map[string]func(string) bool) {
	dirs, include = map[string]string{}, map[string]func(string) bool{}
	if d, ok := r.roots[resumePrefix]; ok {
		prefixes = append(prefixes, resumePrefix)
		dirs[resumePrefix] = d
	}
	if withOld {
		for i := range r.nold {
			p := oldPrefix + strconv.Itoa(i)
			prefixes = append(prefixes, p)
			dirs[p] = r.roots[p]
			include[p] = includePath(s.referenceFilter(r.roots[p]))
		}
	}
	return prefixes, dirs, include
}

// includePath turns a manifest filter, asked about each directory on the
// way down and then the file, into one that takes a file's path.
func includePath(f func(string, bool) bool) func(string) bool {
	return func(p string) bool {
		for i := range len(p) {
			if p[i] == '/' && !f(p[:i], true) {
				return false
			}
		}
		return f(p, false)
	}
}

// coveredBy reports whether d is one of dirs or inside one.
func coveredBy(d string, dirs []string) bool {
	for _, o := range dirs {
		if rel, err := filepath.Rel(o, d); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// manifestBudget is the memory a manifest may take before its blocks grow
// past one InnoDB page (manifest.ChooseBlockSize); at 1 MiB blocks, for a
// TiB and more of reference data, it takes 20 MiB per TiB.
const manifestBudget = 16 << 20

func (r *reference) build(ctx context.Context, s *session, nold int) {
	defer close(r.done)
	start := time.Now()
	var total int64
	includes := map[string]func(string, bool) bool{}
	for p, d := range r.roots {
		include := s.referenceFilter(d)
		if p == resumePrefix {
			include = nil
		}
		includes[p] = include
		total += treeSize(d, include)
	}
	r.blockSize = manifest.ChooseBlockSize(total, manifestBudget)
	opts := func(prefix string, include func(string, bool) bool) manifest.BuildOptions {
		return manifest.BuildOptions{Seed: r.seed, BlockSize: r.blockSize, Prefix: prefix, Include: include, ProgressEvery: 10 * time.Second, Stop: r.enough,
			OnSkip: func(p string, err error) {
				s.log.Info(fmt.Sprintf("Note: %s is not reference data: %v", filepath.Join(r.roots[prefix], p), err))
			},
			Progress: func(p manifest.Progress) {
				if p.Stopped {
					s.log.Warn(fmt.Sprintf("Hashing of %s stopped: the donor is waiting; %s of %s is offered as reference data, the rest is sent whole", r.roots[prefix], swap.Bytes(p.Bytes), swap.Bytes(p.TotalBytes)))
				} else if !p.Done {
					s.log.Info(fmt.Sprintf("Hashing reference data in %s: %s of %s", r.roots[prefix], swap.Bytes(p.Bytes), swap.Bytes(p.TotalBytes)))
				}
			}}
	}
	if dir, ok := r.roots[resumePrefix]; ok {
		m, err := manifest.Build(ctx, dir, opts(resumePrefix, nil))
		if err != nil {
			r.err = fmt.Errorf("hash %s: %w", dir, err)
			return
		}
		r.resume = m
	}
	var olds []*manifest.Manifest
	for i := range nold {
		p := oldPrefix + strconv.Itoa(i)
		m, err := manifest.Build(ctx, r.roots[p], opts(p, includes[p]))
		if err != nil {
			r.err = fmt.Errorf("hash %s: %w", r.roots[p], err)
			return
		}
		olds = append(olds, m)
	}
	if len(olds) > 0 {
		m, err := manifest.Merge(olds...)
		if err != nil {
			r.err = err
			return
		}
		r.old = m
	}
	var n int64
	for _, m := range []*manifest.Manifest{r.old, r.resume} {
		if m != nil {
			n += m.Bytes()
		}
	}
	s.log.Info(fmt.Sprintf("Hashed %s of reference data in %.1fs (%s blocks)", swap.Bytes(n), time.Since(start).Seconds(), swap.Bytes(int64(r.blockSize))))
}

// stop cancels the build and waits for it to end.
func (r *reference) stop() {
	if r == nil || r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

// manifest waits, at most bound (0: no bound), for the build and returns
// the manifest to send and the directories the references of it point
// to: the previous data only if it is kept until the new data is
// prepared (withOld), the interrupted attempt's data always. A build not
// finished in time is stopped and offers the files hashed by then; one
// that fails gives an empty manifest (a full transfer); both with a
// warning.
func (r *reference) manifest(ctx context.Context, s *session, withOld bool, bound time.Duration) (*manifest.Manifest, map[string]string, error) {
	r.begin(s)
	empty := func() (*manifest.Manifest, map[string]string, error) {
		m, err := manifest.Empty(max(r.blockSize, manifest.MinBlockSize), r.seed)
		return m, nil, err
	}
	var timeout <-chan time.Time
	if bound > 0 {
		t := time.NewTimer(bound)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.stop()
		return nil, nil, context.Cause(ctx)
	case <-timeout:
		// Offer what is hashed by now: the donor gives up at
		// sst-idle-timeout.
		close(r.enough)
		select {
		case <-r.done:
		case <-ctx.Done():
			r.stop()
			return nil, nil, context.Cause(ctx)
		}
	}
	if r.err != nil {
		if errors.Is(r.err, context.Canceled) && ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		s.log.Warn(fmt.Sprintf("reference data unusable (%v): full transfer (no delta)", r.err))
		return empty()
	}
	var ms []*manifest.Manifest
	roots := map[string]string{}
	if r.resume != nil {
		ms = append(ms, r.resume)
		roots[resumePrefix] = r.roots[resumePrefix]
	}
	if withOld && r.old != nil {
		ms = append(ms, r.old)
		for p, d := range r.roots {
			if p != resumePrefix {
				roots[p] = d
			}
		}
	}
	if len(ms) == 0 {
		return empty()
	}
	m, err := manifest.Merge(ms...)
	if err != nil {
		return nil, nil, err
	}
	raiseMemoryLimit(manifestMemory(m) * int64(len(ms)+1)) // the parts and the merge
	return m, roots, nil
}

// manifestMemory is about what m takes in memory.
func manifestMemory(m *manifest.Manifest) int64 {
	return int64(m.Blocks()) * 20
}

// openRoots opens the reference directories, by prefix, for reading.
func openRoots(dirs map[string]string) (map[string]*os.Root, func(), error) {
	roots := map[string]*os.Root{}
	closeAll := func() {
		for _, r := range roots {
			r.Close()
		}
	}
	for p, d := range dirs {
		root, err := os.OpenRoot(d)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open reference directory %s: %w", d, err)
		}
		roots[p] = root
	}
	return roots, closeAll, nil
}

// reconstructor reads references to the reference directories, by
// prefix, checked with hashes of seed.
func reconstructor(seed uint64, roots map[string]*os.Root) *xfer.Reconstructor {
	rec := xfer.NewReconstructor(nil, seed, 0)
	for p, root := range roots {
		rec.Mount(p, root)
	}
	return rec
}

// dropResume removes an interrupted attempt's data (resumeDir) to make
// room, and hashes the previous data again without it. It reports whether
// there was anything to remove.
func (s *session) dropResume(ctx context.Context, datadir string, dirs []string) bool {
	resume := s.resumePath(datadir)
	if _, err := os.Stat(resume); err != nil {
		return false
	}
	s.ref.stop()
	s.log.Warn(fmt.Sprintf("Removing '%s' (the data of the interrupted SST) to make room: this SST does not resume", resume))
	if err := os.RemoveAll(resume); err != nil {
		s.log.Warn(fmt.Sprintf("remove %s: %v", resume, err))
	}
	if s.ref != nil {
		s.ref = s.startReference(ctx, datadir, dirs)
	}
	return true
}

// dropResumeAtStream removes the interrupted attempt's data that was
// kept for a delta in place (resumeAtStream) once the data stage does not
// do one.
func (s *session) dropResumeAtStream(ctx context.Context, t targets) {
	if s.resumeAtStream {
		s.resumeAtStream = false
		s.dropResume(ctx, t.datadir, t.dirs[1:])
	}
}

// treeSize is the size of the regular files under dir that include (nil:
// all) lets in, as manifest.Build will list them.
func treeSize(dir string, include func(string, bool) bool) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, rerr := filepath.Rel(dir, p)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if include != nil && !include(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
