// Package swap replaces a set of directories' entries with new ones while
// keeping the old ones until the new ones are in place, with a journal so
// that a crash at any point is finished or undone by the next run.
//
// The joiner uses it instead of wiping the datadir before the data stage:
//
//	rec, err := swap.Recover(ctx, journal, logf) // first thing on every run
//	...receive and prepare into the staging directory...
//	sw, err := swap.Begin(ctx, swap.Plan{Dirs: dirs, Keep: cpat, Skip: skip, Extra: binlogs, Journal: journal})
//	if err := moveBack(); err != nil {
//		return errors.Join(err, sw.Rollback()) // old datadir back, staging kept
//	}
//	err = sw.Commit(ctx) // sync the new entries, delete the old ones
//
// Begin moves every top-level entry of each directory that the stock wipe
// would remove (path not matched by Plan.Keep, not in Plan.Skip) plus the
// Plan.Extra paths into <its directory>/.sst-old, so every rename stays on
// one filesystem; a rename that fails anyway (EXDEV for a mount point,
// EACCES) makes Begin put everything back and return the error, and the
// caller can fall back to the stock order (unless the error wraps
// ErrIncomplete: then the journal is kept and the next Recover must run
// first). Rollback removes the new entries and renames the old ones back;
// Commit syncs the new entries (syncfs per filesystem), then deletes the
// old ones. The journal may live in one of the directories: it is never
// moved.
//
// The journal (format in journal.go) is written as temp file, fsync,
// rename, fsync of its directory before anything moves and at each change
// of state: "aside" (old entries being moved aside), "ready" (all aside,
// new ones being moved in) and "committed" (new ones complete and synced,
// old ones being deleted). Recover undoes the first two and finishes the
// last, and every step is safe to repeat, so a crash during Recover is
// handled by the next one. Plan.Hook is called at each Step*; the test
// suite kills a child process at every one of them and checks that
// Recover leaves exactly the old or exactly the new tree.
//
// Free, Device and Size help the caller decide beforehand whether old and
// new fit side by side on each filesystem; FsyncTree syncs a prepared
// tree.
//
// The package deliberately knows nothing of Galera, mariadb-backup, the
// cpat syntax or my.cnf: callers pass directories, an anchored Go regexp
// and paths. It never logs except through Recover's logf, starts no
// programs and holds no package state.
package swap
