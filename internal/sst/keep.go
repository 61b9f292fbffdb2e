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

	"wsrep_sst_mariabackup/internal/swap"
)

// swapJournal is the keep-the-datadir journal, in the datadir: a crash
// during the swap leaves it, and the next run finishes or undoes the swap
// before anything else.
const swapJournal = "sst_swap.journal"

// recoverSwap finishes or undoes a swap that a crash interrupted. It runs
// right after the lock is taken, before anything else touches the
// datadir.
func (s *session) recoverSwap(ctx context.Context, datadir string) error {
	journal := filepath.Join(datadir, swapJournal)
	out, err := swap.Recover(ctx, journal, func(line string) { s.log.Info(line) })
	if err != nil {
		return errorf(ExitNoEnt, "an interrupted datadir swap could not be recovered (journal %s): %w; fix the cause and run again, or restore the entries from the .sst-old directories by hand", journal, err)
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
	dirs    []string // all of them, datadir included, "" entries dropped
	keep    *regexp.Regexp
	skip    []string
	extra   []string // binlog files outside dirs
}

func (s *session) targetsFor(datadir string, dirs []string, keep *regexp.Regexp) targets {
	t := targets{datadir: datadir, keep: keep,
		skip: []string{filepath.Join(datadir, stagingDir), filepath.Join(datadir, resumeDir), filepath.Join(datadir, "wsrep_sst.pid"), filepath.Join(datadir, progressMarker)}}
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

// decideKeep applies [sst] keep-datadir before the data stage: keep the
// old data when old and new both fit, else fall back to the stock order
// (auto) or refuse (1). need is the expected size of the new data; 0 means
// unknown, estimated by the size of the old data.
func (s *session) decideKeep(t targets, need int64) (keepDecision, error) {
	mode := s.cfg.KeepDatadir
	if mode == "0" {
		s.log.Info("keep-datadir=0: the datadir is cleaned when the data stream starts, as the stock script does")
		return stockOrder, nil
	}
	fss, err := swap.Space(t.plan(nil))
	if err != nil {
		s.log.Warn(fmt.Sprintf("cannot measure free space (%v); keeping the previous datadir until the new one is prepared", err))
		return keepOld, nil
	}
	var old int64
	for _, f := range fss {
		old += f.Moved
	}
	if old == 0 {
		return keepOld, nil // nothing to keep: no extra space needed
	}
	estimated := ""
	if need <= 0 {
		need = old
		estimated = " (estimated from the previous data: the donor announced no total)"
	}
	// The stream lands in <datadir>/.sst; other filesystems receive their
	// share at the move-back, estimated by what they hold now.
	var short []string
	stockFits := true
	for i, f := range fss {
		want := f.Moved
		if i == 0 {
			want = need
		}
		want += swap.Margin(want)
		if f.Free < want {
			short = append(short, fmt.Sprintf("%s: %s needed, %s free", f.Path, swap.Bytes(want), swap.Bytes(f.Free)))
		}
		if f.Free+f.Moved < want {
			stockFits = false
		}
	}
	if len(short) == 0 {
		s.log.Info(fmt.Sprintf("Keeping the previous datadir (%s) until the new data (%s%s) is prepared", swap.Bytes(old), swap.Bytes(need), estimated))
		return keepOld, nil
	}
	why := strings.Join(short, "; ")
	if !stockFits {
		return stockOrder, errorf(ExitNoSpace, "not enough disk space for the SST even after removing the previous data (%s%s): free space on that filesystem, or move the datadir to a bigger one; nothing was changed", why, estimated)
	}
	if mode == "1" {
		return stockOrder, errorf(ExitNoSpace, "keep-datadir=1: the previous and the new data do not both fit (%s%s); free space, or set [sst] keep-datadir=auto to allow cleaning the datadir first; nothing was changed", why, estimated)
	}
	s.log.Warn(fmt.Sprintf("The previous and the new data do not both fit (%s%s): cleaning the datadir when the data stream starts, as the stock script does (keep-datadir=auto). A failed SST will lose the previous data.", why, estimated))
	return stockOrder, nil
}

// swapIn replaces the old data by the prepared staging directory: old
// entries aside, mariadb-backup --move-back, then the old ones deleted; a
// failed move-back puts the old ones back and keeps the staging directory.
func (s *session) swapIn(ctx context.Context, t targets, moveBack func() error) error {
	if err := swap.FsyncTree(ctx, filepath.Join(t.datadir, stagingDir)); err != nil {
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
			return errors.Join(err, errorf(ExitNoEnt, "put the previous data back: %w (the journal %s lets the next run retry)", rerr, filepath.Join(t.datadir, swapJournal)))
		}
		s.log.Info("The previous datadir was put back in place")
		return err
	}
	if err := sw.Commit(ctx); err != nil {
		return s.localError(ctx, t, "delete the previous data", err)
	}
	return nil
}

// localError is a local failure of the joiner: ENOSPC becomes exit 28
// naming the filesystem and its free space; anything else ENOENT-ish.
func (s *session) localError(ctx context.Context, t targets, what string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) {
		return s.noSpace(t, what, err)
	}
	return errorf(ExitNoEnt, "%s: %w", what, err)
}

// noSpace is the exit-28 error for a full filesystem.
func (s *session) noSpace(t targets, what string, err error) error {
	where := t.datadir
	var pe *os.PathError
	if errors.As(err, &pe) && filepath.IsAbs(pe.Path) {
		where = filepath.Dir(pe.Path)
	}
	free := "unknown"
	if n, ferr := swap.Free(where); ferr == nil {
		free = swap.Bytes(int64(min(n, 1<<62)))
	}
	need := ""
	if s.total > 0 {
		need = fmt.Sprintf(", about %s needed for the new data", swap.Bytes(s.total+swap.Margin(s.total)))
	}
	return errorf(ExitNoSpace, "%s: no space left on the filesystem of %s (%s free%s): %w; free space there and retry (the previous datadir was left as it was unless a warning above says it was cleaned)", what, where, free, need, err)
}
