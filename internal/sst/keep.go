package sst

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/reflink"
	"wsrep_sst_mariabackup/internal/sstdir"
	"wsrep_sst_mariabackup/internal/status"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/ui"
)

// swapJournal is the keep-the-datadir journal, in the datadir: a crash
// during the swap leaves it, and the next run finishes or undoes the swap
// before anything else.
const swapJournal = sstdir.SwapJournal

// recoverSwap finishes or undoes a swap that a crash interrupted. It runs
// right after the lock is taken, before anything else touches the
// datadir.
func (s *session) recoverSwap(ctx context.Context, datadir string) error {
	journal := filepath.Join(datadir, swapJournal)
	out, err := swap.Recover(ctx, journal, func(line string) { s.log.Info(line) })
	if err != nil {
		return fail.Errorf(fail.Missing, "an interrupted datadir swap could not be recovered (journal %s): %w; fix the cause and run again, or restore the entries from the .sst-old directories by hand", journal, err)
	}
	switch out {
	case swap.Undone:
		s.log.Warn("An interrupted SST swap was undone: the previous datadir is back in place")
	case swap.Finished:
		s.log.Warn("An interrupted SST swap was finished: the datadir holds the data of that SST")
	}
	return nil
}

// targets are the directories an SST writes into: the datadir first, then
// separate InnoDB data, undo and log and Aria log directories.
type targets struct {
	datadir string
	// staging is where the SST is received and prepared
	// (session.stagingPath): <datadir>/.sst, or .sst in --sst-temp-dir.
	staging string
	dirs    []string // all of them, datadir included, "" entries dropped
	keep    *regexp.Regexp
	skip    []string
	extra   []string // binlog files outside dirs
}

func (s *session) targetsFor(datadir string, dirs []string, keep *regexp.Regexp) targets {
	// The datadir's own .sst and .sst-resume stay skipped with
	// --sst-temp-dir too: the joiner removes them itself (useSSTTempDir).
	t := targets{datadir: datadir, staging: s.stagingPath(datadir), keep: keep,
		skip: []string{filepath.Join(datadir, stagingDir), filepath.Join(datadir, resumeDir), filepath.Join(datadir, sstdir.PidFile), filepath.Join(datadir, progressMarker), filepath.Join(datadir, reflinkShort)}}
	// The status file may live in a directory the SST manages; it is
	// rewritten through temporary files (status.tempPattern) while the
	// swap runs.
	if f := s.cfg.StatusFile; f != "" {
		abs, err := filepath.Abs(f)
		if err == nil {
			t.skip = append(t.skip, abs, filepath.Join(filepath.Dir(abs), status.TempPattern(filepath.Base(abs))))
		}
	}
	t.dirs = append(t.dirs, datadir)
	for _, d := range dirs {
		if d != "" {
			t.dirs = append(t.dirs, d)
		}
	}
	if a := s.args; a.Binlog != "" {
		for _, p := range binlogFiles(datadir, a.Binlog, a.BinlogIndex) {
			if !t.inDirs(p) {
				t.extra = append(t.extra, p)
			}
		}
	}
	return t
}

// skipped reports whether p, a top-level entry of one of the dirs, is in
// the skip list or matched by one of its patterns (the status file's
// temporary files).
func (t targets) skipped(p string) bool {
	for _, sk := range t.skip {
		if sk == p {
			return true
		}
		if strings.Contains(filepath.Base(sk), "*") && filepath.Dir(sk) == filepath.Dir(p) {
			if ok, _ := filepath.Match(filepath.Base(sk), filepath.Base(p)); ok {
				return true
			}
		}
	}
	return false
}

// inDirs reports whether p is a top-level entry of one of the dirs (the
// swap moves those anyway).
func (t targets) inDirs(p string) bool {
	dir := filepath.Dir(p)
	for _, d := range t.dirs {
		if filepath.Clean(d) == dir {
			return true
		}
	}
	return false
}

func (t targets) plan(hook func(string)) swap.Plan {
	return swap.Plan{Dirs: t.dirs, Keep: t.keep, Skip: t.skip, Extra: t.extra,
		Journal: filepath.Join(t.datadir, swapJournal), Hook: hook}
}

// keepDecision says how the joiner replaces its data.
type keepDecision int

const (
	stockOrder keepDecision = iota // wipe when the data starts, as the script
	keepOld                        // keep the old data until the new one is prepared
)

// unmovable decides the order when the swap could not move every previous
// entry aside (swap.Check: a mount point, a directory mysqld's user may
// not write): keep-datadir=auto takes the stock order with one WARNING,
// 1 refuses with nothing touched. decided is false when everything can
// be moved (or keep-datadir=0 does not move anything): decideKeep then
// looks at the space.
func (s *session) unmovable(t targets) (d keepDecision, err error, decided bool) {
	if s.cfg.KeepDatadir == "0" {
		return stockOrder, nil, false
	}
	bad, err := swap.Check(t.plan(nil))
	if err != nil {
		s.log.Warn(fmt.Sprintf("cannot check that the previous data can be moved aside (%v); trying anyway", err))
		return stockOrder, nil, false
	}
	if len(bad) == 0 {
		return stockOrder, nil, false
	}
	what := make([]string, len(bad))
	for i, u := range bad {
		what[i] = u.String()
	}
	why := strings.Join(what, "; ")
	fix := "make them movable by mysqld's user (chown/chmod), move them out of the datadir, or list them in [sst] cpat so that the SST leaves them alone"
	if s.cfg.KeepDatadir == "1" {
		class := fail.Access
		if errors.Is(bad[0].Err, syscall.EXDEV) {
			class = fail.CrossDevice
		}
		return stockOrder, fail.Errorf(class, "keep-datadir=1: the previous data cannot be kept until the new data is prepared, because these entries cannot be moved aside: %s; %s, or set [sst] keep-datadir=auto to clean the datadir first; nothing was changed", why, fix), true
	}
	s.log.Warn(fmt.Sprintf("The previous data cannot be kept until the new data is prepared, because these entries cannot be moved aside: %s. Cleaning the datadir when the data stream starts, as the stock script does (keep-datadir=auto); a failed SST will lose the previous data. To keep it next time: %s", why, fix))
	return stockOrder, nil, true
}

// decideKeep applies [sst] keep-datadir before the data stage: keep the
// old data when old and new both fit, else fall back to the stock order
// (auto) or refuse (1). need is the expected size of the new data; 0 means
// unknown, estimated by the size of the old data. With --sst-temp-dir the
// staging directory's filesystem is measured too, whatever keep-datadir
// says (the MDEV-29909 scripts refuse an SST whose announced size does
// not fit there): it must hold the new data, and the datadir's filesystem
// what the move-back copies into it.
func (s *session) decideKeep(t targets, need int64) (keepDecision, error) {
	mode := s.cfg.KeepDatadir
	apart := t.stagedApart()
	stock := func() (keepDecision, error) {
		s.log.Info("keep-datadir=0: the datadir is cleaned when the data stream starts, as the stock script does")
		return stockOrder, nil
	}
	if mode == "0" && !apart {
		return stock()
	}
	fss, err := swap.Space(t.plan(nil))
	stg := 0
	if err == nil && apart {
		fss, stg, err = withStaging(fss, filepath.Dir(t.staging))
	}
	if err != nil {
		if mode == "0" {
			return stock()
		}
		s.log.Warn(fmt.Sprintf("cannot measure free space (%v); keeping the previous datadir until the new one is prepared", err))
		return keepOld, nil
	}
	var old int64
	var unreadable []string
	for _, f := range fss {
		old += f.Moved
		unreadable = append(unreadable, f.Unreadable...)
	}
	if len(unreadable) > 0 {
		s.log.Info(fmt.Sprintf("Note: the size of %s could not be read (permission denied) and is not counted in the previous data", strings.Join(unreadable, ", ")))
	}
	if old == 0 && (need <= 0 || !apart) {
		// Nothing to keep: no extra space needed, and nothing to
		// measure the new data by.
		if mode == "0" {
			return stock()
		}
		return keepOld, nil
	}
	estimated := ""
	if need <= 0 {
		need = old
		estimated = " (estimated from the previous data: the donor announced no total)"
	}
	var short []string
	stockFits := true
	for i, want := range spaceWants(fss, stg, need) {
		f := fss[i]
		want += swap.Margin(want)
		if f.Free < want {
			short = append(short, fmt.Sprintf("%s: %s needed, %s free", f.Path, ui.Bytes(want), ui.Bytes(f.Free)))
		}
		if f.Free+f.Moved < want {
			stockFits = false
		}
	}
	why := strings.Join(short, "; ")
	if !stockFits {
		fix := "free space on that filesystem, or move the datadir to a bigger one"
		if apart {
			fix = "free space on that filesystem, or set wsrep_sst_tmp_dir (--sst-temp-dir) to a directory on a bigger one"
		}
		return stockOrder, fail.Errorf(fail.NoSpace, "not enough disk space for the SST even after removing the previous data (%s%s): %s; nothing was changed", why, estimated, fix)
	}
	if mode == "0" {
		return stock()
	}
	if len(short) == 0 {
		if old > 0 {
			s.log.Info(fmt.Sprintf("Keeping the previous datadir (%s) until the new data (%s%s) is prepared", ui.Bytes(old), ui.Bytes(need), estimated))
		}
		return keepOld, nil
	}
	if s.reflinkFits(t, fss, need, old) {
		return keepOld, nil
	}
	if mode == "1" {
		return stockOrder, fail.Errorf(fail.NoSpace, "keep-datadir=1: the previous and the new data do not both fit (%s%s); free space, or set [sst] keep-datadir=auto to allow cleaning the datadir first; nothing was changed", why, estimated)
	}
	s.log.Warn(fmt.Sprintf("The previous and the new data do not both fit (%s%s): cleaning the datadir when the data stream starts, as the stock script does (keep-datadir=auto). A failed SST will lose the previous data.", why, estimated))
	return stockOrder, nil
}

// reflinkShort marks, in the datadir, that the last SST that counted on
// shared blocks (reflinkFits) ran out of space: the next one counts the
// new data whole. Removed once an SST succeeds.
const reflinkShort = ".sst-reflink-short"

// reflinkChanged is the share of the previous data that reflinkFits
// assumes changed: what a rejoin writes beyond what it shares.
const reflinkChanged = 4 // a quarter

// reflinkFits reports whether the previous data can be kept although
// old and new do not fit side by side by their sizes, because the
// datadir's filesystem shares blocks (reflink: XFS, btrfs) and a donor
// of ours clones the unchanged ones (transfer v2): the new data then
// costs what it adds to the old plus what changed, assumed at most a
// quarter of the old. It logs its decision. One filesystem only, staged
// in the datadir; not again after such an SST ran out of space
// (reflinkShort), which removes its staging directory and leaves the
// previous data as it was.
func (s *session) reflinkFits(t targets, fss []swap.Filesystem, need, old int64) bool {
	if len(fss) != 1 || t.stagedApart() || !s.offerV2() || old <= 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(t.datadir, reflinkShort)); err == nil {
		s.log.Info("Note: the last SST that counted on shared blocks (reflink) ran out of space: counting the new data whole this time")
		return false
	}
	if ok, _ := reflink.Supported(t.datadir); !ok {
		return false
	}
	want := max(need-old, 0) + min(need, old)/reflinkChanged
	want += swap.Margin(want)
	if fss[0].Free < want {
		return false
	}
	s.reflinkKeep = true
	s.log.Info(fmt.Sprintf("Keeping the previous datadir (%s) until the new data (%s) is prepared: %s shares the unchanged blocks (reflink), so the new data needs what it adds and what changed, up to %s assumed, %s free",
		ui.Bytes(old), ui.Bytes(need), fss[0].Path, ui.Bytes(want), ui.Bytes(fss[0].Free)))
	return true
}

// stagedApart reports whether the staging directory is outside the
// datadir (--sst-temp-dir).
func (t targets) stagedApart() bool {
	return filepath.Dir(t.staging) != filepath.Clean(t.datadir)
}

// withStaging returns fss with the filesystem of dir, the staging
// directory's parent, and its index there: one of fss when dir is on
// it, else a new last entry (nothing of the previous data on it).
func withStaging(fss []swap.Filesystem, dir string) ([]swap.Filesystem, int, error) {
	dev, err := swap.Device(dir)
	if err != nil {
		return nil, 0, err
	}
	for i, f := range fss {
		if d, err := swap.Device(f.Path); err == nil && d == dev {
			return fss, i, nil
		}
	}
	free, err := swap.Free(dir)
	if err != nil {
		return nil, 0, err
	}
	return append(fss, swap.Filesystem{Path: dir, Free: int64(min(free, 1<<62))}), len(fss), nil
}

// spaceWants returns the bytes the SST writes on each of fss (fss[0] the
// datadir's, fss[stg] the staging directory's) for need bytes of new
// data. The staging directory's filesystem receives all of it; the
// move-back renames what stays on that filesystem and copies the rest
// (mariadb-backup's move_file falls back to copy and unlink on EXDEV), so
// every other filesystem receives its share: what it holds now, and the
// remainder for the datadir's.
func spaceWants(fss []swap.Filesystem, stg int, need int64) []int64 {
	rest := need
	for i := 1; i < len(fss); i++ {
		rest -= fss[i].Moved
	}
	want := make([]int64, len(fss))
	for i, f := range fss {
		switch i {
		case stg:
			want[i] = need
		case 0:
			want[i] = max(rest, 0)
		default:
			want[i] = f.Moved
		}
	}
	return want
}

// swapIn replaces the old data by the prepared staging directory: old
// entries aside, mariadb-backup --move-back, then the old ones deleted; a
// failed move-back puts the old ones back and keeps the staging directory.
func (s *session) swapIn(ctx context.Context, t targets, moveBack func() error) error {
	if err := swap.FsyncTree(ctx, t.staging); err != nil {
		return s.localError(ctx, t, "sync the prepared data", err)
	}
	sw, err := swap.Begin(ctx, t.plan(s.pauseHook()))
	if err != nil {
		// Begin put back what it had moved (unless err says
		// swap.ErrIncomplete: then the journal stays for the next run):
		// the previous datadir is as it was. A mount point among the
		// entries cannot be renamed; keep-datadir=0 wipes it as the
		// script does.
		return s.localError(ctx, t, "move the previous data aside (set [sst] keep-datadir=0 if an entry of the datadir is a mount point)", err)
	}
	s.log.Info(fmt.Sprintf("Moved %d previous entries aside (%s)", sw.Moved(), strings.Join(sw.Asides(), ", ")))
	if err := moveBack(); err != nil {
		if rerr := sw.Rollback(); rerr != nil {
			return errors.Join(err, fail.Errorf(fail.Missing, "put the previous data back: %w (the journal %s lets the next run retry)", rerr, filepath.Join(t.datadir, swapJournal)))
		}
		s.log.Info("The previous datadir was put back in place")
		return err
	}
	if err := sw.Commit(ctx); err != nil {
		if sw.Committed() {
			// The new data is in place and durable; only deleting the old
			// entries failed. The journal stays: the next run (SST, IST
			// or check) finishes the deletion.
			s.log.Warn(fmt.Sprintf("The new data is in place, but deleting the previous data failed: %v; the next run of this program finishes it (journal %s), or delete %s by hand", err, filepath.Join(t.datadir, swapJournal), strings.Join(sw.Asides(), ", ")))
			return nil
		}
		return s.localError(ctx, t, "delete the previous data", err)
	}
	return nil
}

// localError is a local failure of the joiner (failure's rule, class
// Missing), but ENOSPC becomes noSpace's error.
func (s *session) localError(ctx context.Context, t targets, what string, err error) error {
	if ctx.Err() == nil && !fail.Has(err) && errors.Is(err, syscall.ENOSPC) {
		return s.noSpace(t, what, err)
	}
	return failure(ctx, fail.Missing, what, err)
}

// noSpace is the error for a full filesystem (fail.NoSpace), naming it,
// its free space and what the SST needs.
func (s *session) noSpace(t targets, what string, err error) error {
	where := t.datadir
	var pe *os.PathError
	if errors.As(err, &pe) && filepath.IsAbs(pe.Path) {
		where = filepath.Dir(pe.Path)
	}
	free := "unknown"
	if n, ferr := swap.Free(where); ferr == nil {
		free = ui.Bytes(int64(min(n, 1<<62)))
	}
	need := ""
	if s.total > 0 {
		need = fmt.Sprintf(", about %s needed for the new data", ui.Bytes(s.total+swap.Margin(s.total)))
	}
	return fail.Errorf(fail.NoSpace, "%s: no space left on the filesystem of %s (%s free%s): %w; free space there and retry (the previous datadir was left as it was unless a warning above says it was cleaned)", what, where, free, need, err)
}
