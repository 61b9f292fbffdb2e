package swap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

// AsideName is the directory created inside each directory whose entries
// are moved; it holds the old entries until Commit deletes them or
// Rollback puts them back. Being inside the same directory it is on the
// same filesystem as the entries (except mount points, whose rename fails
// and makes Begin undo).
const AsideName = ".sst-old"

// LostFound is never moved, measured or removed: fsck's directory at the
// root of an ext2/3/4 filesystem, root:root 0700. A datadir that is a
// volume of its own holds one; mysqld's user can neither list it nor
// rename it into another directory (a directory's rename rewrites its
// "..", which needs write permission on it). The stock wipe only rmdirs
// it, empty; keeping it is what the filesystem expects.
const LostFound = "lost+found"

// Steps passed to Plan.Hook. Each is a point where a crash leaves a
// journal that Recover handles; the comment says what Recover then does.
const (
	StepJournal   = "journal"   // journal written, nothing moved yet: undo
	StepAside     = "aside"     // after each entry moved aside: undo
	StepReady     = "ready"     // all old entries aside and synced; Begin returns: undo
	StepSynced    = "synced"    // Commit synced the new entries: undo
	StepCommitted = "committed" // journal says committed: finish
	StepDeleted   = "deleted"   // old entries deleted, journal still there: finish
	StepRestore   = "restore"   // Rollback: after each old entry moved back: undo
	StepRestored  = "restored"  // Rollback: old entries back, journal still there: undo
)

// Plan describes one swap. Paths are made absolute, and the symbolic
// links in Dirs and in the directories of the other paths are resolved,
// so Keep sees "<real dir>/<name>" where the stock wipe sees the path as
// given; the script's cpat only looks at the end of the path.
type Plan struct {
	// Dirs are the directories whose top-level entries are swapped: the
	// datadir and any separate InnoDB data, undo and log or Aria log
	// directory. Empty strings, duplicates and missing directories are
	// ignored. A directory may sit inside another one.
	Dirs []string
	// Keep matches the paths, "<dir>/<name>", that stay in place: the
	// anchored form of the script's cpat, as used by the stock wipe. nil
	// keeps nothing.
	Keep *regexp.Regexp
	// Skip lists paths that stay in place whatever Keep says (the staging
	// directory, the pid file, the status file). A path whose last element
	// holds a '*' is a pattern (filepath.Match) for the entries of its
	// directory, e.g. the status file's temporary files. The journal, its
	// temp file, the aside directories and LostFound are always skipped.
	Skip []string
	// Extra lists more paths to move aside whatever Keep says, e.g. the
	// binlog files and index in a separate binlog directory. Each goes to
	// <its directory>/.sst-old. Missing paths are ignored.
	Extra []string
	// Journal is the journal file's path; its directory must exist. It
	// may be inside one of Dirs (it is skipped). Required.
	Journal string
	// Hook, if not nil, is called with a Step* name at each step, from
	// the calling goroutine. It is meant for tests that kill the process
	// there.
	Hook func(step string)

	// rename replaces os.Rename in Begin's moves (tests inject EXDEV).
	rename func(oldpath, newpath string) error
}

// ErrIncomplete means Begin failed and could not put everything back: the
// journal is kept, and the next Recover finishes the undo.
var ErrIncomplete = errors.New("swap: undo incomplete")

// Swap is a swap in progress: old entries are aside, the caller moves the
// new ones in, then calls Commit or Rollback. It is not safe for
// concurrent use.
type Swap struct {
	j      *journal
	hook   func(string)
	rename func(oldpath, newpath string) error
	done   bool
}

// Begin moves the entries the stock wipe would remove aside. It refuses
// to start when the journal already exists (call Recover first) or an
// aside directory is not empty. It creates the aside directories, lists
// the entries, writes the journal (state "aside"), renames each entry to
// <dir>/.sst-old/<name>, deepest paths first, syncs the directories and
// records state "ready". If a rename fails (EXDEV for a mount point,
// EACCES...) or ctx is cancelled, Begin puts back what it moved, removes
// the journal and returns the error; if even that fails the journal stays
// for Recover and the error also wraps ErrIncomplete: the caller must then
// stop rather than fall back to wiping the directories.
func Begin(ctx context.Context, p Plan) (*Swap, error) {
	j, err := newJournal(p)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(j.path); err == nil {
		return nil, fmt.Errorf("swap: journal %s exists: recover first", j.path)
	}
	// An empty aside directory is what a crash before the first journal
	// write leaves: reuse it. A non-empty one is not ours to judge.
	for _, a := range j.Asides {
		if err := os.Remove(a); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("swap: stale %s (move or remove it by hand): %w", a, err)
		}
	}
	for _, a := range j.Asides {
		if err := os.Mkdir(a, 0o700); err != nil {
			removeAsides(j.Asides)
			return nil, fmt.Errorf("swap: create %s: %w", a, err)
		}
		if err := syncDir(filepath.Dir(a)); err != nil {
			removeAsides(j.Asides)
			return nil, fmt.Errorf("swap: %w", err)
		}
	}
	if j.Moves, err = listMoves(j); err != nil {
		removeAsides(j.Asides)
		return nil, err
	}
	for _, m := range j.Moves {
		if strings.HasPrefix(j.path, m.Src+"/") {
			removeAsides(j.Asides)
			return nil, fmt.Errorf("swap: the journal %s is inside %s, which would be moved aside", j.path, m.Src)
		}
	}
	if err := j.write(); err != nil {
		// A failed write removes its temp file and leaves no journal.
		removeAsides(j.Asides)
		return nil, fmt.Errorf("swap: %w", err)
	}
	s := &Swap{j: j, hook: p.Hook, rename: p.rename}
	if s.rename == nil {
		s.rename = os.Rename
	}
	s.step(StepJournal)
	if err := s.moveAside(ctx); err != nil {
		if uerr := s.undo(false); uerr != nil {
			return nil, errors.Join(err, fmt.Errorf("%w: %w (the journal %s is kept for Recover)", ErrIncomplete, uerr, j.path))
		}
		return nil, err
	}
	return s, nil
}

// moveAside renames every entry of the journal aside and records state
// "ready".
func (s *Swap) moveAside(ctx context.Context) error {
	j := s.j
	for _, m := range j.Moves {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("swap: %w", context.Cause(ctx))
		}
		if err := s.rename(m.Src, m.Dst); err != nil {
			return fmt.Errorf("swap: move %s aside: %w", m.Src, err)
		}
		s.step(StepAside)
	}
	if err := syncAll(j); err != nil {
		return err
	}
	if err := j.setState(stateReady); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	s.step(StepReady)
	return nil
}

// Moved returns how many entries Begin moved aside.
func (s *Swap) Moved() int { return len(s.j.Moves) }

// Committed reports whether the journal says committed: the new entries
// are in place and durable, and an error of Commit only means the old
// entries are not all deleted yet (Recover finishes that).
func (s *Swap) Committed() bool { return s.j.State == stateCommitted }

// Asides returns the aside directories, for log messages.
func (s *Swap) Asides() []string { return append([]string(nil), s.j.Asides...) }

// Commit makes the swap final: it makes the new entries durable (one
// syncfs(2) per filesystem of the directories; where that is unsupported,
// an fsync of every new file and directory), records state "committed",
// deletes the aside directories and removes the journal. A cancelled ctx
// or a sync error stops it before the journal says committed; the caller
// may then Rollback. Once the state is committed an error means the
// deletion is unfinished: the journal stays and Recover (or Commit again)
// finishes it.
func (s *Swap) Commit(ctx context.Context) error {
	if s.done {
		return errors.New("swap: already rolled back or committed")
	}
	j := s.j
	if j.State == stateReady {
		if err := syncNew(ctx, j); err != nil {
			return err
		}
		s.step(StepSynced)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("swap: %w", context.Cause(ctx))
		}
		if err := j.setState(stateCommitted); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
		s.step(StepCommitted)
	}
	if err := s.finish(); err != nil {
		return err
	}
	s.done = true
	return nil
}

// Rollback puts the old entries back: it removes the new entries that
// appeared in the directories (neither kept, skipped, aside nor old),
// renames each old entry back, removes the aside directories and the
// journal. It does not touch skipped paths, so the staging directory
// stays. It fails after Commit recorded its state. On error the journal
// stays and Rollback or Recover can be called again.
func (s *Swap) Rollback() error {
	if s.done {
		return errors.New("swap: already rolled back or committed")
	}
	if s.j.State == stateCommitted {
		return errors.New("swap: cannot roll back: the swap is committed")
	}
	if err := s.undo(s.j.State == stateReady); err != nil {
		return err
	}
	s.done = true
	return nil
}

func (s *Swap) step(name string) {
	if s.hook != nil {
		s.hook(name)
	}
}

// undo is the rollback shared by Begin, Rollback and Recover. Old entries
// are the journal's moves: one whose aside copy exists is moved back,
// after removing whatever took its place. With removeNew set (the new
// data was being moved in) every other entry of the directories that is
// neither kept nor skipped is new and removed too; in state "aside"
// nothing new can exist, so nothing unlisted is touched.
func (s *Swap) undo(removeNew bool) error {
	j := s.j
	rename := s.rename
	for i := len(j.Moves) - 1; i >= 0; i-- {
		m := j.Moves[i]
		if _, err := os.Lstat(m.Dst); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // never moved, or already back
			}
			return fmt.Errorf("swap: restore %s: %w", m.Src, err)
		}
		if err := os.RemoveAll(m.Src); err != nil {
			return fmt.Errorf("swap: remove new %s: %w", m.Src, err)
		}
		if err := rename(m.Dst, m.Src); err != nil {
			return fmt.Errorf("swap: restore %s: %w", m.Src, err)
		}
		s.step(StepRestore)
	}
	if removeNew {
		old := make(map[string]bool, len(j.Moves))
		for _, m := range j.Moves {
			old[m.Src] = true
		}
		for _, d := range j.Dirs {
			entries, err := movable(j, d)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if old[e] {
					continue
				}
				if err := os.RemoveAll(e); err != nil {
					return fmt.Errorf("swap: remove new %s: %w", e, err)
				}
			}
		}
	}
	if err := syncAll(j); err != nil {
		return err
	}
	for _, a := range j.Asides {
		// Empty by now; Remove (not RemoveAll) so that anything we did
		// not put there survives and the error says so.
		if err := os.Remove(a); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("swap: remove %s: %w", a, err)
		}
		if err := syncDirIfExists(filepath.Dir(a)); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	s.step(StepRestored)
	if err := j.remove(); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	return nil
}

// finish deletes the aside directories and the journal (state committed).
func (s *Swap) finish() error {
	j := s.j
	for _, a := range j.Asides {
		if err := os.RemoveAll(a); err != nil {
			return fmt.Errorf("swap: delete the old entries in %s: %w", a, err)
		}
		if err := syncDirIfExists(filepath.Dir(a)); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	s.step(StepDeleted)
	if err := j.remove(); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	return nil
}

// syncNew makes the entries moved in durable before the journal may say
// committed. syncfs flushes the whole filesystem in one call, several
// times faster than an fsync per file for a freshly written tree (see
// BenchmarkSyncNewTree); before Linux 5.8 it could miss a writeback error
// reported earlier to another descriptor, a risk PostgreSQL accepts for
// its recovery_init_sync_method=syncfs too.
func syncNew(ctx context.Context, j *journal) error {
	synced := map[uint64]bool{}
	for _, d := range j.Dirs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("swap: %w", context.Cause(ctx))
		}
		dev, err := Device(d)
		if err == nil && synced[dev] {
			continue
		}
		if err == nil {
			if err = syncFS(d); err == nil {
				synced[dev] = true
				continue
			}
		}
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.ENOSYS) {
			return fmt.Errorf("swap: %w", err)
		}
		entries, err := movable(j, d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := FsyncTree(ctx, e); err != nil {
				return fmt.Errorf("swap: %w", err)
			}
		}
		if err := syncDirIfExists(d); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	return nil
}

// newJournal turns a plan into a journal in state "aside" without moves.
func newJournal(p Plan) (*journal, error) {
	if p.Journal == "" {
		return nil, errors.New("swap: no journal path")
	}
	jp, err := resolveParent(p.Journal)
	if err != nil {
		return nil, err
	}
	j := &journal{Format: journalFormat, Version: journalVersion, State: stateAside, path: jp, keep: p.Keep}
	if p.Keep != nil {
		j.Keep = p.Keep.String()
	}
	seen := map[string]bool{}
	for _, d := range p.Dirs {
		if d == "" {
			continue
		}
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("swap: %w", err)
		}
		if st, err := os.Stat(a); err != nil || !st.IsDir() {
			continue // the stock wipe skips missing directories too
		}
		// Work on the real path: an aside directory reached through a
		// symbolic link that is itself moved aside would be lost.
		if a, err = filepath.EvalSymlinks(a); err != nil {
			return nil, fmt.Errorf("swap: %w", err)
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		j.Dirs = append(j.Dirs, a)
	}
	for _, sk := range p.Skip {
		a, err := resolveParent(sk)
		if err != nil {
			return nil, fmt.Errorf("swap: %w", err)
		}
		j.Skip = append(j.Skip, a)
	}
	asides := map[string]bool{}
	addAside := func(dir string) {
		a := filepath.Join(dir, AsideName)
		if !asides[a] {
			asides[a] = true
			j.Asides = append(j.Asides, a)
		}
	}
	for _, d := range j.Dirs {
		addAside(d)
	}
	j.initSkip()
	for _, e := range p.Extra {
		a, err := resolveParent(e)
		if err != nil {
			return nil, fmt.Errorf("swap: %w", err)
		}
		if seen[a] || j.skipped(a) || filepath.Base(a) == AsideName || filepath.Base(a) == LostFound || a == filepath.Dir(a) {
			continue
		}
		if _, err := os.Lstat(a); err != nil {
			continue // cleanBinlogs ignores missing files as well
		}
		seen[a] = true
		j.extra = append(j.extra, a)
		addAside(filepath.Dir(a))
	}
	j.initSkip()
	return j, nil
}

// resolveParent makes p absolute with its directory's symbolic links
// resolved (p itself may be a link; it is moved, not followed). A missing
// directory is left as it is.
func resolveParent(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("swap: %w", err)
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
		a = filepath.Join(d, filepath.Base(a))
	}
	return a, nil
}

// listMoves returns the moves for the top-level entries of the journal's
// directories plus extra, deepest source first so that an entry inside a
// directory that is itself moved goes before it.
func listMoves(j *journal) ([]move, error) {
	var srcs []string
	seen := map[string]bool{}
	for _, d := range j.Dirs {
		entries, err := movable(j, d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !seen[e] {
				seen[e] = true
				srcs = append(srcs, e)
			}
		}
	}
	for _, e := range j.extra {
		if !seen[e] {
			seen[e] = true
			srcs = append(srcs, e)
		}
	}
	sort.SliceStable(srcs, func(a, b int) bool {
		return strings.Count(srcs[a], "/") > strings.Count(srcs[b], "/")
	})
	moves := make([]move, len(srcs))
	for i, src := range srcs {
		moves[i] = move{Src: src, Dst: filepath.Join(filepath.Dir(src), AsideName, filepath.Base(src))}
	}
	return moves, nil
}

// movable lists the entries of dir the stock wipe would remove: every
// top-level entry whose "<dir>/<name>" Keep does not match and that is not
// skipped. A missing dir has none.
func movable(j *journal, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("swap: list %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.Name() == LostFound || j.skipped(p) || (j.keep != nil && j.keep.MatchString(p)) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// syncAll fsyncs every directory and aside directory of the journal.
func syncAll(j *journal) error {
	for _, d := range append(append([]string(nil), j.Dirs...), j.Asides...) {
		if err := syncDirIfExists(d); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	return nil
}

// removeAsides removes the (empty) aside directories after a failure
// before the journal existed.
func removeAsides(asides []string) {
	for _, a := range asides {
		_ = os.Remove(a)
	}
}
