package sst

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/swap"
)

// TestSSTTempDir: with --sst-temp-dir DIR the joiner stages in DIR/.sst,
// an interrupted attempt's DIR/.sst is this one's reference data (resume
// follows the staging directory), a .sst left in the datadir by an
// earlier SST is removed, and nothing of either is left afterwards.
func TestSSTTempDir(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_WANT_PWD", "s3cret")
	stage := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(stage, stagingDir, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(stage, stagingDir, "db", "t1.ibd"), fakeTable, 0o644))
	must(t, os.MkdirAll(filepath.Join(e.joiner, stagingDir), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, stagingDir, "junk"), []byte("old"), 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, jout, jdone := e.startJoiner(t, ctx, "--sst-temp-dir", stage+"/")
	if _, err := e.runDonor(t, ctx, addr); err != nil {
		t.Fatalf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	<-jout
	log := e.logs.String()
	for _, want := range []string{
		"Staging the SST in '" + filepath.Join(stage, stagingDir) + "' (--sst-temp-dir)",
		"Removing '" + filepath.Join(e.joiner, stagingDir) + "', left in the datadir by an earlier SST",
		"Keeping '" + filepath.Join(stage, stagingDir) + "' of the interrupted SST as '" + filepath.Join(stage, resumeDir) + "'",
		"reused=69632 shared=",
		"Move successful, removing " + filepath.Join(stage, stagingDir),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if got, err := os.ReadFile(filepath.Join(e.joiner, "db", "t1.ibd")); err != nil || !bytes.Equal(got, fakeTable) {
		t.Errorf("db/t1.ibd not restored (err %v, %d bytes)", err, len(got))
	}
	for _, d := range []string{stage, e.joiner} {
		for _, n := range []string{stagingDir, resumeDir} {
			if _, err := os.Lstat(filepath.Join(d, n)); !os.IsNotExist(err) {
				t.Errorf("%s left after the SST (%v)", filepath.Join(d, n), err)
			}
		}
	}
}

// TestSSTTempDirRefused: a --sst-temp-dir that does not exist, is not a
// directory, or is (or lies inside) the datadir or a separate InnoDB
// directory fails the joiner with one ERROR naming it and exit 22, before
// the ready line and with the datadir untouched.
func TestSSTTempDirRefused(t *testing.T) {
	e := newSSTEnv(t, "")
	file := filepath.Join(e.base, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	link := filepath.Join(e.base, "link")
	must(t, os.Symlink(e.joiner, link))
	undo := filepath.Join(e.base, "undo")
	must(t, os.MkdirAll(filepath.Join(undo, "sub"), 0o755))
	must(t, os.Mkdir(filepath.Join(e.joiner, "tmp"), 0o755))
	for _, tc := range []struct {
		name, dir, want string
		extra           []string
	}{
		{"missing", filepath.Join(e.base, "gone"), "does not exist", nil},
		{"file", file, "is not a directory", nil},
		{"datadir", e.joiner + "/", "is the datadir", nil},
		{"datadir by symlink", link, "is the datadir", nil},
		{"inside datadir", filepath.Join(e.joiner, "tmp"), "is inside the datadir", nil},
		{"inside undo dir", filepath.Join(undo, "sub"), "is inside a separate InnoDB or Aria directory", []string{"--innodb-undo-directory", undo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"--sst-temp-dir", tc.dir}, tc.extra...)
			argv = append(argv, "--role", "joiner", "--address", "127.0.0.1:"+strconv.Itoa(galeratest.FreePort(t)),
				"--datadir", e.joiner+"/", "--defaults-file", e.cnf, "--parent", strconv.Itoa(os.Getpid()), "--progress", "0")
			var out bytes.Buffer
			err := Run(t.Context(), Params{Config: e.load(t, nil, argv...), Stdout: &out, Log: slog.New(e.handler)})
			if code := fail.ClassOf(err); code != fail.Invalid {
				t.Fatalf("class %v (%v), want %v", code, err, fail.Invalid)
			}
			if !strings.Contains(err.Error(), "--sst-temp-dir") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one naming --sst-temp-dir and %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "wsrep_sst_tmp_dir") {
				t.Errorf("error %q does not say what to change", err)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing (no ready line)", out.String())
			}
			ents, _ := os.ReadDir(e.joiner)
			var names []string
			for _, d := range ents {
				names = append(names, d.Name())
			}
			if !slices.Equal(names, []string{"tmp"}) {
				t.Errorf("datadir holds %q after the refusal, want only tmp", names)
			}
		})
	}
}

// TestSpaceWants: the staging directory's filesystem receives all the new
// data; the move-back copies each other filesystem's share there.
func TestSpaceWants(t *testing.T) {
	const need = 1000
	for _, tc := range []struct {
		name  string
		moved []int64 // per filesystem, fss[0] the datadir's
		stg   int
		want  []int64
	}{
		{"staged in the datadir", []int64{600}, 0, []int64{need}},
		{"staged in the datadir, redo log apart", []int64{600, 100}, 0, []int64{need, 100}},
		{"staged on a filesystem of its own", []int64{600, 0}, 1, []int64{need, need}},
		{"own filesystem, redo log apart", []int64{600, 100, 0}, 2, []int64{need - 100, 100, need}},
		{"staged beside the redo log", []int64{600, 100}, 1, []int64{need - 100, need}},
		{"separate dirs hold more than the total", []int64{600, 2000, 0}, 2, []int64{0, 2000, need}},
	} {
		fss := make([]swap.Filesystem, len(tc.moved))
		for i, m := range tc.moved {
			fss[i] = swap.Filesystem{Path: "/fs" + strconv.Itoa(i), Moved: m}
		}
		if got := spaceWants(fss, tc.stg, need); !slices.Equal(got, tc.want) {
			t.Errorf("%s: spaceWants = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDecideKeepStagingShort: with --sst-temp-dir on a filesystem that
// cannot hold the announced data, the joiner refuses with exit 28 naming
// that directory, whatever keep-datadir says, before anything changes.
func TestDecideKeepStagingShort(t *testing.T) {
	stage := galeratest.ScratchVolume(t, "ext4", 64<<20)
	datadir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(datadir, "ibdata1"), []byte("old"), 0o644))
	for _, mode := range []string{"0", "auto", "1"} {
		e := newSSTEnv(t, "keep-datadir="+mode+"\n")
		cfg := e.load(t, nil, "--role", "joiner", "--address", "127.0.0.1:4444", "--datadir", datadir, "--defaults-file", e.cnf, "--sst-temp-dir", stage)
		var buf bytes.Buffer
		s := &session{cfg: cfg, args: cfg.Args, log: slog.New(NewLogHandler(&buf, slog.LevelInfo)), stageDir: stage}
		_, err := s.decideKeep(s.targetsFor(datadir, nil, nil), 1<<30)
		if code := fail.ClassOf(err); code != fail.NoSpace || !strings.Contains(err.Error(), stage+": ") || !strings.Contains(err.Error(), "--sst-temp-dir") {
			t.Errorf("keep-datadir=%s: class %v (%v), want %v naming %s", mode, code, err, fail.NoSpace, stage)
		}
	}
}
