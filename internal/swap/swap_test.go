package swap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
)

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestBeginMovesWhatTheWipeRemoves(t *testing.T) {
	tests := []struct {
		name      string
		plan      func(e env) Plan
		inPlace   []string // relative to base, must stay
		movedAway []string // relative to base, must be gone from their place
	}{
		{
			name: "default cpat",
			plan: env.plan,
			inPlace: []string{"data/grastate.dat", "data/galera.cache", "data/host.err", "data/mariabackup.prepare.log",
				"data/wsrep_sst.pid", "data/.sst", "data/RPM_UPGRADE_MARKER", "data/sst_swap.journal",
				"iblogs/redo.err", "binlogs/not-a-binlog"},
			movedAway: []string{"data/ibdata1", "data/mysql", "data/test", "data/undo", "data/dangling", "data/loglink",
				"data/aria_log.00000001", "iblogs/ib_logfile0", "binlogs/mysql-bin.000001", "binlogs/mysql-bin.index",
				"data/sst_swap.journalx"},
		},
		{
			name: "no keep pattern keeps only skipped paths",
			plan: func(e env) Plan {
				p := e.plan()
				p.Keep = nil
				p.Extra = nil
				return p
			},
			inPlace:   []string{"data/wsrep_sst.pid", "data/.sst", "data/sst_swap.journal", "binlogs/mysql-bin.000001"},
			movedAway: []string{"data/grastate.dat", "data/galera.cache", "data/ibdata1", "iblogs/redo.err", "iblogs/ib_logfile0"},
		},
		{
			name: "extra path that the keep pattern matches is moved",
			plan: func(e env) Plan {
				p := e.plan()
				p.Extra = []string{filepath.Join(e.data, "host.err")}
				return p
			},
			inPlace:   []string{"data/grastate.dat", "binlogs/mysql-bin.000001"},
			movedAway: []string{"data/host.err", "data/ibdata1"},
		},
		{
			name: "skip wins over extra",
			plan: func(e env) Plan {
				p := e.plan()
				p.Skip = append(p.Skip, filepath.Join(e.binlogs, "mysql-bin.index"))
				return p
			},
			inPlace:   []string{"binlogs/mysql-bin.index"},
			movedAway: []string{"binlogs/mysql-bin.000001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, t.TempDir())
			if err := os.WriteFile(e.journal+"x", nil, 0o600); err != nil { // only the journal's exact path is skipped
				t.Fatal(err)
			}
			before := snapshot(t, e)
			sw, err := Begin(t.Context(), tt.plan(e))
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			for _, p := range tt.inPlace {
				if p == "data/sst_swap.journal" {
					continue // checked below
				}
				if !exists(filepath.Join(e.base, p)) {
					t.Errorf("%s was moved, want it kept", p)
				}
			}
			for _, p := range tt.movedAway {
				src := filepath.Join(e.base, p)
				if exists(src) {
					t.Errorf("%s is still in place, want it moved aside", p)
				}
				if dst := filepath.Join(filepath.Dir(src), AsideName, filepath.Base(src)); !exists(dst) {
					t.Errorf("%s missing", dst)
				}
			}
			if !exists(e.journal) {
				t.Errorf("no journal at %s after Begin", e.journal)
			}
			rollback(t, e, sw, before)
		})
	}
}

func TestRollbackRestoresOld(t *testing.T) {
	for _, n := range []int{0, 1, 3, -1} {
		t.Run(map[int]string{0: "nothing moved in", 1: "one entry moved in", 3: "three entries", -1: "all moved in"}[n], func(t *testing.T) {
			e := setup(t, t.TempDir())
			want := snapshot(t, e)
			sw := e.begin(t)
			e.moveIn(t, n)
			rollback(t, e, sw, want)
			if n == 1 {
				// The staging directory lost the moved entry only.
				if !exists(filepath.Join(e.staging, "newdb")) {
					t.Errorf("staging directory not kept")
				}
			}
			if err := sw.Rollback(); err == nil {
				t.Errorf("second Rollback: nil error, want one")
			}
			if out, err := Recover(t.Context(), e.journal, nil); err != nil || out != Nothing {
				t.Errorf("Recover after Rollback = %v, %v; want nothing", out, err)
			}
		})
	}
}

func TestCommitGivesStockResult(t *testing.T) {
	e := setup(t, t.TempDir())
	sw := e.begin(t)
	if got, want := sw.Moved(), 16; got != want {
		t.Errorf("Moved() = %d, want %d", got, want)
	}
	e.moveIn(t, -1)
	if err := sw.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if d := diff(snapshot(t, e), wantNew(t)); d != "" {
		t.Errorf("tree after Commit (got vs stock order):\n%s", d)
	}
	if err := sw.Rollback(); err == nil {
		t.Errorf("Rollback after Commit: nil error, want one")
	}
}

func TestCommitCancelledLeavesRollbackPossible(t *testing.T) {
	e := setup(t, t.TempDir())
	want := snapshot(t, e)
	sw := e.begin(t)
	e.moveIn(t, -1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sw.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit(cancelled) = %v, want context.Canceled", err)
	}
	rollback(t, e, sw, want)
}

// failingRename fails every call from the n-th one (1-based) on with err,
// up to last (0: no limit).
func failingRename(n, last int, err error) func(string, string) error {
	calls := 0
	return func(oldpath, newpath string) error {
		calls++
		if calls >= n && (last == 0 || calls <= last) {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return os.Rename(oldpath, newpath)
	}
}

func TestBeginUndoesOnRenameFailure(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   int
		err  error
	}{
		{"EXDEV on the first rename", 1, syscall.EXDEV},
		{"EXDEV on the fifth rename", 5, syscall.EXDEV},
		{"EACCES on the last rename", 16, syscall.EACCES},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, t.TempDir())
			want := snapshot(t, e)
			p := e.plan()
			p.rename = failingRename(tt.at, tt.at, tt.err)
			_, err := Begin(t.Context(), p)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Begin = %v, want %v", err, tt.err)
			}
			e.sameTree(t, want, "after failed Begin (got vs old)")
		})
	}
}

func TestBeginUndoFailureKeepsJournal(t *testing.T) {
	e := setup(t, t.TempDir())
	want := snapshot(t, e)
	p := e.plan()
	p.rename = failingRename(4, 0, syscall.EXDEV) // the undo's renames fail too
	_, err := Begin(t.Context(), p)
	if !errors.Is(err, syscall.EXDEV) || !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Begin = %v, want EXDEV and the undo failure", err)
	}
	if !exists(e.journal) {
		t.Fatalf("journal removed although the undo failed")
	}
	var lines []string
	out, err := Recover(t.Context(), e.journal, func(s string) { lines = append(lines, s) })
	if err != nil || out != Undone {
		t.Fatalf("Recover = %v, %v; want undone", out, err)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "moving 16 old entries aside") {
		t.Errorf("Recover logged %q", lines)
	}
	e.sameTree(t, want, "after Recover (got vs old)")
}

func TestBeginCancelled(t *testing.T) {
	e := setup(t, t.TempDir())
	want := snapshot(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	p := e.plan()
	n := 0
	p.Hook = func(step string) {
		if step == StepAside {
			if n++; n == 3 {
				cancel()
			}
		}
	}
	if _, err := Begin(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Begin = %v, want context.Canceled", err)
	}
	e.sameTree(t, want, "after cancelled Begin (got vs old)")
}

func TestBeginRefuses(t *testing.T) {
	t.Run("journal exists", func(t *testing.T) {
		e := setup(t, t.TempDir())
		if err := os.WriteFile(e.journal, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		want := snapshot(t, e)
		if _, err := Begin(t.Context(), e.plan()); err == nil || !strings.Contains(err.Error(), "recover first") {
			t.Fatalf("Begin = %v, want a recover-first error", err)
		}
		e.sameTree(t, want, "changed")
	})
	t.Run("non-empty aside directory", func(t *testing.T) {
		e := setup(t, t.TempDir())
		writeTree(t, e.base, map[string]string{"iblogs/.sst-old/ib_logfile0": "someone's"})
		want := snapshot(t, e)
		if _, err := Begin(t.Context(), e.plan()); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("Begin = %v, want ENOTEMPTY", err)
		}
		e.sameTree(t, want, "changed")
	})
	t.Run("empty aside directory is reused", func(t *testing.T) {
		e := setup(t, t.TempDir())
		want := snapshot(t, e)
		writeTree(t, e.base, map[string]string{"data/.sst-old/": ""})
		sw := e.begin(t)
		rollback(t, e, sw, want)
	})
	t.Run("journal inside a moved directory", func(t *testing.T) {
		e := setup(t, t.TempDir())
		want := snapshot(t, e)
		p := e.plan()
		p.Journal = filepath.Join(e.data, "mysql", "journal")
		if _, err := Begin(t.Context(), p); err == nil || !strings.Contains(err.Error(), "moved aside") {
			t.Fatalf("Begin = %v, want a journal-inside error", err)
		}
		e.sameTree(t, want, "changed")
	})
	t.Run("no journal path", func(t *testing.T) {
		e := setup(t, t.TempDir())
		p := e.plan()
		p.Journal = ""
		if _, err := Begin(t.Context(), p); err == nil {
			t.Fatal("Begin without a journal path: nil error")
		}
	})
}

func TestRecoverJournalFiles(t *testing.T) {
	t.Run("no journal", func(t *testing.T) {
		e := setup(t, t.TempDir())
		want := snapshot(t, e)
		out, err := Recover(t.Context(), e.journal, nil)
		if err != nil || out != Nothing {
			t.Fatalf("Recover = %v, %v; want nothing", out, err)
		}
		e.sameTree(t, want, "changed")
	})
	t.Run("half-written first journal", func(t *testing.T) {
		// A crash between creating the aside directories and renaming
		// the first journal into place: only the temp file exists.
		e := setup(t, t.TempDir())
		want := snapshot(t, e)
		if err := os.WriteFile(e.journal+".tmp", []byte(`{"format": "wsrep_sst_mariabackup swap jour`), 0o600); err != nil {
			t.Fatal(err)
		}
		writeTree(t, e.base, map[string]string{"data/.sst-old/": "", "iblogs/.sst-old/": ""})
		out, err := Recover(t.Context(), e.journal, nil)
		if err != nil || out != Nothing {
			t.Fatalf("Recover = %v, %v; want nothing", out, err)
		}
		if exists(e.journal + ".tmp") {
			t.Errorf("temp journal left")
		}
		// The next Begin reuses the empty aside directories.
		sw := e.begin(t)
		rollback(t, e, sw, want)
	})
	t.Run("half-written next version", func(t *testing.T) {
		// A crash while writing state "ready": the journal still says
		// "aside" and the temp file holds a torn "ready".
		e := setup(t, t.TempDir())
		want := snapshot(t, e)
		p := e.plan()
		var journal []byte
		p.Hook = func(step string) {
			if step == StepReady {
				journal, _ = os.ReadFile(e.journal)
			}
		}
		sw, err := Begin(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		_ = sw
		aside := strings.Replace(string(journal), `"state": "ready"`, `"state": "aside"`, 1)
		if err := os.WriteFile(e.journal, []byte(aside), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.journal+".tmp", journal[:len(journal)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := Recover(t.Context(), e.journal, nil)
		if err != nil || out != Undone {
			t.Fatalf("Recover = %v, %v; want undone", out, err)
		}
		if d := diff(snapshot(t, e), want); d != "" {
			t.Errorf("tree:\n%s", d)
		}
	})
	for _, tt := range []struct {
		name    string
		journal string
	}{
		{"torn journal", `{"format": "wsrep_sst_mariabackup swap journal", "vers`},
		{"other format", `{"format": "something else", "version": 1, "state": "aside"}`},
		{"future version", `{"format": "wsrep_sst_mariabackup swap journal", "version": 2, "state": "aside"}`},
		{"unknown state", `{"format": "wsrep_sst_mariabackup swap journal", "version": 1, "state": "half"}`},
		{"move outside its aside", `{"format": "wsrep_sst_mariabackup swap journal", "version": 1, "state": "aside",
			"asides": ["/x/.sst-old"], "moves": [{"src": "/etc/passwd", "dst": "/x/.sst-old/passwd"}]}`},
		{"relative aside", `{"format": "wsrep_sst_mariabackup swap journal", "version": 1, "state": "ready", "asides": [".sst-old"]}`},
		{"bad keep", `{"format": "wsrep_sst_mariabackup swap journal", "version": 1, "state": "ready", "keep": "("}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, t.TempDir())
			if err := os.WriteFile(e.journal, []byte(tt.journal), 0o600); err != nil {
				t.Fatal(err)
			}
			want := snapshot(t, e)
			out, err := Recover(t.Context(), e.journal, nil)
			if !errors.Is(err, ErrJournal) || out != Nothing {
				t.Fatalf("Recover = %v, %v; want ErrJournal", out, err)
			}
			e.sameTree(t, want, "changed")
		})
	}
}

func TestFsyncTree(t *testing.T) {
	e := setup(t, t.TempDir())
	if err := FsyncTree(t.Context(), e.data); err != nil {
		t.Fatalf("FsyncTree: %v", err)
	}
	if err := FsyncTree(t.Context(), filepath.Join(e.data, "ibdata1")); err != nil {
		t.Fatalf("FsyncTree(file): %v", err)
	}
	if err := FsyncTree(t.Context(), filepath.Join(e.data, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("FsyncTree(missing) = %v, want ErrNotExist", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := FsyncTree(ctx, e.data); !errors.Is(err, context.Canceled) {
		t.Fatalf("FsyncTree(cancelled) = %v, want context.Canceled", err)
	}
}

func TestSize(t *testing.T) {
	e := setup(t, t.TempDir())
	p := e.plan()
	base, err := Size(p)
	if err != nil {
		t.Fatal(err)
	}
	if base <= 0 {
		t.Fatalf("Size = %d, want > 0", base)
	}
	const mb = 1 << 20
	big := make([]byte, mb)
	for i := range big {
		big[i] = byte(i)
	}
	// A file Begin would move counts (less what it replaced), one in a
	// kept or skipped path not.
	for _, f := range []struct {
		path  string
		count bool
	}{
		{"data/test/big.ibd", true},
		{"binlogs/mysql-bin.000001", true}, // an Extra, rewritten bigger
		{"data/galera.cache", false},
		{"data/.sst/big", false},
		{"binlogs/not-a-binlog", false},
	} {
		if err := os.WriteFile(filepath.Join(e.base, f.path), big, 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := Size(p)
		if err != nil {
			t.Fatal(err)
		}
		if grew := got - base; f.count && grew < mb-64<<10 || !f.count && grew != 0 {
			t.Errorf("writing 1 MiB to %s: Size grew by %d (count=%v)", f.path, grew, f.count)
		}
		base = got
	}
}

func TestFreeAndDevice(t *testing.T) {
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free == 0 {
		t.Fatalf("Free(%s) = %d, %v", dir, free, err)
	}
	if _, err := Free(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Free(missing) = %v, want ErrNotExist", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err1 := Device(dir)
	b, err2 := Device(sub)
	c, err3 := Device("/proc")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if a != b {
		t.Errorf("Device(%s) = %d, Device(%s) = %d; want equal", dir, a, sub, b)
	}
	if a == c {
		t.Errorf("Device(%s) = Device(/proc) = %d; want different", dir, a)
	}
}

func TestMovesDeepestFirst(t *testing.T) {
	// A directory inside another one: its entries must move before the
	// directory itself, and the journal must list them in that order,
	// whatever the order of Dirs.
	e := setup(t, t.TempDir())
	p := e.plan()
	p.Dirs = []string{e.data, e.iblogs, e.undo}
	var order []string
	p.rename = func(o, n string) error {
		order = append(order, o)
		return os.Rename(o, n)
	}
	sw, err := Begin(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, o := range order {
		pos[o] = i
	}
	if pos[filepath.Join(e.undo, "undo001")] > pos[e.undo] {
		t.Errorf("undo/undo001 moved after undo/: %v", order)
	}
	if !sort.SliceIsSorted(order, func(a, b int) bool {
		return strings.Count(order[a], "/") > strings.Count(order[b], "/")
	}) {
		t.Errorf("moves not deepest first: %v", order)
	}
	if err := sw.Rollback(); err != nil {
		t.Fatal(err)
	}
}

func TestKeepIsAnchoredOnFullPath(t *testing.T) {
	// Keep sees "<dir>/<name>" exactly as the stock wipe builds it.
	e := setup(t, t.TempDir())
	p := e.plan()
	p.Keep = regexp.MustCompile(`^` + regexp.QuoteMeta(e.data) + `/ibdata1$`)
	p.Extra = nil
	sw, err := Begin(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Rollback()
	if !exists(filepath.Join(e.data, "ibdata1")) {
		t.Errorf("ibdata1 moved although Keep matches its path")
	}
	if exists(filepath.Join(e.data, "grastate.dat")) {
		t.Errorf("grastate.dat kept although Keep does not match it")
	}
}

func TestDirThroughSymlink(t *testing.T) {
	// innodb_log_group_home_dir=loglink, a link to ../iblogs that is
	// itself a datadir entry the wipe removes: the old redo log must not
	// stay behind in the link target's aside directory.
	for _, flow := range []string{"commit", "rollback"} {
		t.Run(flow, func(t *testing.T) {
			e := setup(t, t.TempDir())
			old := snapshot(t, e)
			p := e.plan()
			p.Dirs = []string{e.undo, filepath.Join(e.data, "loglink"), e.data}
			sw, err := Begin(t.Context(), p)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			e.moveIn(t, -1)
			want := old
			if flow == "commit" {
				err, want = sw.Commit(t.Context()), wantNew(t)
			} else {
				err = sw.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			e.sameTree(t, want, "after "+flow)
		})
	}
}

// TestJournalState checks that a check reads the state a crash left
// without changing anything, and refuses what Recover would refuse.
func TestJournalState(t *testing.T) {
	e := setup(t, t.TempDir())
	if st, err := JournalState(e.journal); err != nil || st != "" {
		t.Fatalf("no journal: %q, %v", st, err)
	}
	p := e.plan()
	var states []string
	p.Hook = func(step string) {
		st, err := JournalState(e.journal)
		if err != nil {
			t.Errorf("at %s: %v", step, err)
		}
		states = append(states, step+"="+st)
	}
	sw, err := Begin(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Rollback(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(states, StepReady+"="+stateReady) {
		t.Errorf("states seen: %v; want %s=%s among them", states, StepReady, stateReady)
	}
	if err := os.WriteFile(e.journal, []byte(`{"format":"wsrep_sst_mariabackup swap journal","version":1,"state":"gone"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := JournalState(e.journal); !errors.Is(err, ErrJournal) {
		t.Errorf("unknown state: %v, want ErrJournal", err)
	}
}
