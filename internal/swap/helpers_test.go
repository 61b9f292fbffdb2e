package swap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// cpat is the script's default cpat in the anchored Go form the joiner
// passes (sst emacsToGo of config.DefaultCpat).
var cpat = regexp.MustCompile(`^(?:.*\.pem$|.*galera\.cache$|.*sst_in_progress$|.*\.sst$|.*gvwstate\.dat$|.*grastate\.dat$|.*\.err$|.*\.log$|.*RPM_UPGRADE_MARKER$|.*RPM_UPGRADE_HISTORY$)$`)

// env is a joiner-like layout under one base directory:
//
//	data/            datadir: kept files, old data, nested undo dir, .sst staging
//	data/undo/       innodb_undo_directory inside the datadir
//	iblogs/          separate innodb_log_group_home_dir
//	binlogs/         separate binlog directory (its files are Plan.Extra)
type env struct {
	base, data, undo, iblogs, binlogs, staging, journal string
}

func newEnv(base string) env {
	e := env{base: base, data: filepath.Join(base, "data"), iblogs: filepath.Join(base, "iblogs"), binlogs: filepath.Join(base, "binlogs")}
	e.undo = filepath.Join(e.data, "undo")
	e.staging = filepath.Join(e.data, ".sst")
	e.journal = filepath.Join(e.data, "sst_swap.journal")
	return e
}

// oldTree is the datadir before the SST. Keys ending in "/" are
// directories, "@" introduces a symlink target.
var oldTree = map[string]string{
	"data/grastate.dat":             "# GALERA saved state\n",
	"data/galera.cache":             strings.Repeat("g", 5000),
	"data/host.err":                 "old error log\n",
	"data/mariabackup.prepare.log":  "prepare log of this run\n",
	"data/wsrep_sst.pid":            "1234\n",
	"data/ibdata1":                  strings.Repeat("old ibdata ", 3000),
	"data/ib_buffer_pool":           "old pool\n",
	"data/aria_log.00000001":        "old aria\n",
	"data/aria_log_control":         "old aria control\n",
	"data/mysql/":                   "",
	"data/mysql/user.frm":           "old user\n",
	"data/mysql/db.opt":             "old opt\n",
	"data/test/":                    "",
	"data/test/t1.ibd":              strings.Repeat("t1", 10000),
	"data/test/empty/":              "",
	"data/undo/":                    "",
	"data/undo/undo001":             "old undo\n",
	"data/undo/undo002":             "old undo 2\n",
	"data/dangling":                 "@nowhere",
	"data/loglink":                  "@../iblogs",
	"data/.sst/":                    "",
	"iblogs/":                       "",
	"iblogs/ib_logfile0":            "old redo\n",
	"iblogs/redo.err":               "kept in the log dir\n",
	"binlogs/":                      "",
	"binlogs/mysql-bin.000001":      "old binlog 1\n",
	"binlogs/mysql-bin.000002":      "old binlog 2\n",
	"binlogs/mysql-bin.index":       "mysql-bin.000001\nmysql-bin.000002\n",
	"binlogs/not-a-binlog":          "stays\n",
	"data/test/subdir/":             "",
	"data/test/subdir/deep.ibd":     "deep\n",
	"data/RPM_UPGRADE_MARKER":       "",
	"data/performance_schema/":      "",
	"data/performance_schema/db.op": "ps\n",
}

// newTree is the prepared backup in the staging directory; the simulated
// move-back sends "iblogs/..." to the log directory and the rest to the
// datadir (undo/ lands as the datadir's undo entry).
var newTree = map[string]string{
	"data/.sst/ibdata1":            strings.Repeat("new ibdata ", 4000),
	"data/.sst/aria_log.00000001":  "new aria\n",
	"data/.sst/aria_log_control":   "new aria control\n",
	"data/.sst/mysql/":             "",
	"data/.sst/mysql/user.frm":     "new user\n",
	"data/.sst/newdb/":             "",
	"data/.sst/newdb/t.ibd":        "new table\n",
	"data/.sst/undo/":              "",
	"data/.sst/undo/undo001":       "new undo\n",
	"data/.sst/xtrabackup_info":    "info\n",
	"data/.sst/iblogs/":            "",
	"data/.sst/iblogs/ib_logfile0": "new redo\n",
}

func writeTree(t testing.TB, base string, tree map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(base, k)
		v := tree[k]
		var err error
		switch {
		case strings.HasSuffix(k, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(v, "@"):
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(v[1:], p)
			}
		default:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.WriteFile(p, []byte(v), 0o640)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// setup writes the old datadir and the prepared staging tree.
func setup(t testing.TB, base string) env {
	t.Helper()
	writeTree(t, base, oldTree)
	writeTree(t, base, newTree)
	return newEnv(base)
}

func (e env) plan() Plan {
	return Plan{
		Dirs:    []string{e.undo, e.iblogs, "", e.data, e.data}, // as the joiner: separate dirs, then the datadir
		Keep:    cpat,
		Skip:    []string{e.staging, filepath.Join(e.data, "wsrep_sst.pid")},
		Extra:   []string{filepath.Join(e.binlogs, "mysql-bin.000001"), filepath.Join(e.binlogs, "mysql-bin.000002"), filepath.Join(e.binlogs, "mysql-bin.index"), filepath.Join(e.binlogs, "mysql-bin.000003")},
		Journal: e.journal,
	}
}

// sameTree reports, as "tree <what>", how e's tree differs from want.
func (e env) sameTree(t testing.TB, want map[string]string, what string) {
	t.Helper()
	if d := diff(snapshot(t, e), want); d != "" {
		t.Errorf("tree %s:\n%s", what, d)
	}
}

// begin begins the swap of e's plan.
func (e env) begin(t testing.TB) *Swap {
	t.Helper()
	sw, err := Begin(t.Context(), e.plan())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return sw
}

// moveIn plays mariadb-backup --move-back: it renames the first n
// top-level entries of the staging directory (all when n < 0) into place.
func (e env) moveIn(t testing.TB, n int) {
	t.Helper()
	if err := e.moveInSteps(n, nil); err != nil {
		t.Fatal(err)
	}
}

// moveInSteps is moveIn calling after, if not nil, after each entry.
func (e env) moveInSteps(n int, after func()) error {
	var srcs, dsts []string
	for _, d := range []struct{ from, to string }{{e.staging, e.data}, {filepath.Join(e.staging, "iblogs"), e.iblogs}} {
		entries, err := os.ReadDir(d.from)
		if err != nil {
			return fmt.Errorf("move-back: %w", err)
		}
		for _, x := range entries {
			if d.from == e.staging && x.Name() == "iblogs" {
				continue
			}
			srcs = append(srcs, filepath.Join(d.from, x.Name()))
			dsts = append(dsts, filepath.Join(d.to, x.Name()))
		}
	}
	for i := range srcs {
		if n >= 0 && i >= n {
			break
		}
		if err := os.Rename(srcs[i], dsts[i]); err != nil {
			return fmt.Errorf("move-back: %w", err)
		}
		if after != nil {
			after()
		}
	}
	return nil
}

// stock runs the stock order on e: wipe (and clean the binlogs), then the
// full move-back.
func (e env) stock(t testing.TB) {
	t.Helper()
	p := e.plan()
	skip := map[string]bool{}
	for _, s := range p.Skip {
		skip[s] = true
	}
	for _, d := range p.Dirs {
		if d == "" {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		for _, x := range entries {
			q := d + "/" + x.Name()
			if p.Keep.MatchString(q) || skip[q] {
				continue
			}
			if err := os.RemoveAll(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, x := range p.Extra {
		_ = os.Remove(x)
	}
	e.moveIn(t, -1)
}

// snapshot describes every path under base except the staging directory:
// type, mode and a hash of file contents or the link target.
func snapshot(t testing.TB, e env) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(e.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == e.staging {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(e.base, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("file %v %s", fi.Mode(), hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diff lists the differences between two snapshots, "" when equal.
func diff(got, want map[string]string) string {
	var lines []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			lines = append(lines, fmt.Sprintf("missing %s (%s)", k, w))
		} else if g != w {
			lines = append(lines, fmt.Sprintf("%s: got %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("unexpected %s (%s)", k, g))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// wantOld and wantNew compute the expected end states on scratch copies.
func wantOld(t testing.TB) map[string]string {
	t.Helper()
	return snapshot(t, setup(t, t.TempDir()))
}

func wantNew(t testing.TB) map[string]string {
	t.Helper()
	e := setup(t, t.TempDir())
	e.stock(t)
	return snapshot(t, e)
}

// rollback rolls sw back and checks that e's tree is want again.
func rollback(t *testing.T, e env, sw *Swap, want map[string]string) {
	t.Helper()
	if err := sw.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	e.sameTree(t, want, "after Rollback (got vs old)")
}
