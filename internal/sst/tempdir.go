package sst

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"wsrep_sst_mariabackup/internal/fail"
)

// Where the joiner stages the SST. Without --sst-temp-dir it is the
// datadir, as the script always did: <datadir>/.sst, and an interrupted
// attempt's data waits in <datadir>/.sst-resume. With --sst-temp-dir DIR
// (MariaDB's wsrep_sst_tmp_dir, MDEV-29909) both live in DIR instead:
// DIR/.sst is created for the SST and removed after it, as the scripts
// do. stagingPath and resumePath are the one place that says so.

// stageParent returns the directory that holds the staging directory:
// the checked --sst-temp-dir, else datadir.
func (s *session) stageParent(datadir string) string {
	if s.stageDir != "" {
		return s.stageDir
	}
	return datadir
}

// stagingPath is the staging directory the joiner receives and prepares
// in.
func (s *session) stagingPath(datadir string) string {
	return filepath.Join(s.stageParent(datadir), stagingDir)
}

// resumePath is where an interrupted attempt's staging directory waits
// for the next one (transfer v2 resume), beside the staging directory so
// that moving it there stays a rename on one filesystem.
func (s *session) resumePath(datadir string) string {
	return filepath.Join(s.stageParent(datadir), resumeDir)
}

// useSSTTempDir checks --sst-temp-dir (checkSSTTempDir) and makes it the
// staging directory's parent. A staging or resume directory that an
// earlier SST left in the datadir is of no use then and is removed: the
// lock is held, so no other SST owns it.
func (s *session) useSSTTempDir(datadir string, dirs []string) error {
	d := s.args.SSTTempDir
	if d == "" {
		return nil
	}
	abs, err := checkSSTTempDir(d, datadir, dirs)
	if err != nil {
		return err
	}
	s.stageDir = abs
	s.log.Info(fmt.Sprintf("Staging the SST in '%s' (--sst-temp-dir), not in the datadir", s.stagingPath(datadir)))
	for _, n := range []string{stagingDir, resumeDir} {
		p := filepath.Join(datadir, n)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		s.log.Info(fmt.Sprintf("Removing '%s', left in the datadir by an earlier SST: this one stages in '%s'", p, abs))
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn(fmt.Sprintf("remove %s: %v", p, err))
		}
	}
	return nil
}

// checkSSTTempDir validates --sst-temp-dir dir for a joiner whose datadir
// and separate InnoDB/Aria directories (dirs, "" entries ignored) are
// given, and returns it absolute and clean. As the MDEV-29909 scripts
// require, dir must be an existing directory and not the datadir; unlike
// them, it must not lie inside the datadir or one of dirs either (the
// SST cleans those, and with them the staging directory it is writing),
// and it must be writable. The error is fail.Invalid, or fail.Access for
// a directory this process may not write, and says what to change.
func checkSSTTempDir(dir, datadir string, dirs []string) (string, error) {
	const fix = "set wsrep_sst_tmp_dir (--sst-temp-dir) to an existing directory outside the datadir, or unset it to stage in the datadir"
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s': %w; %s", dir, err, fix)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s' does not exist: create it, writable by the user mysqld runs as, or %s", abs, fix)
	case err != nil:
		return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s': %w; %s", abs, err, fix)
	case !fi.IsDir():
		return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s' is not a directory; %s", abs, fix)
	}
	rdir := resolved(abs)
	for i, d := range append([]string{datadir}, dirs...) {
		if d == "" {
			continue
		}
		what := "the datadir"
		if i > 0 {
			what = "a separate InnoDB or Aria directory"
		}
		rd := resolved(d)
		if dfi, err := os.Stat(d); (err == nil && os.SameFile(fi, dfi)) || rdir == rd {
			return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s' is %s ('%s'); %s", abs, what, d, fix)
		}
		if strings.HasPrefix(rdir, rd+string(filepath.Separator)) {
			return "", fail.Errorf(fail.Invalid, "--sst-temp-dir '%s' is inside %s '%s', which the SST cleans; %s", abs, what, d, fix)
		}
	}
	if err := writable(abs); err != nil {
		return "", fail.Errorf(fail.Access, "--sst-temp-dir '%s' is not writable (%w): make it writable by the user mysqld runs as, or %s", abs, err, fix)
	}
	return abs, nil
}

// resolved is p absolute, with symbolic links resolved as far as they
// exist.
func resolved(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}
