package sst

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/sstdir"
	"wsrep_sst_mariabackup/internal/swap"
)

// Names of the files the two sides exchange (wsrep_sst_mariabackup).
const (
	infoFile       = "xtrabackup_galera_info"
	infoFile11     = "mariadb_backup_galera_info" // MariaDB 11.1+ (MDEV-18931)
	donorInfoFile  = "donor_galera_info"
	istFile        = "xtrabackup_ist"
	checkpoints    = "xtrabackup_checkpoints"
	checkpoints11  = "mariadb_backup_checkpoints"
	binlogInfo     = "xtrabackup_binlog_info"
	binlogInfo11   = "mariadb_backup_binlog_info"
	progressMarker = sstdir.InProgress
	stagingDir     = sstdir.Staging
	prepareLog     = "mariabackup.prepare.log"
	moveLog        = "mariabackup.move.log"
	backupLog      = "mariabackup.backup.log"
)

// wipeDirs mirrors the joiner's
//
//	find -L $dirs -mindepth 1 -prune -regex "$cpat" -o -exec rm -rf {} +
//
// every top-level entry of each dir whose path does not match keep is
// removed. Paths skip reports (our own pid file, the status file) and
// lost+found are kept too. As in the script, whose rm errors go to the
// log and the SST goes on (mariadb-backup --move-back runs with
// --force-non-empty-directories), an entry that cannot be removed is
// reported through warn and left; only an unreadable dir fails.
func wipeDirs(dirs []string, keep *regexp.Regexp, skip func(string) bool, warn func(string)) error {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return fmt.Errorf("clean %s: %w", d, err)
		}
		for _, e := range entries {
			p := d + "/" + e.Name()
			if e.Name() == swap.LostFound || keep.MatchString(p) || skip(p) {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				warn(fmt.Sprintf("clean %s: %v; left in place", d, err))
			}
		}
	}
	return nil
}

// cleanBinlogs mirrors the joiner's "Cleaning the old binary logs": it
// removes the files binlogFiles lists.
func cleanBinlogs(log *slog.Logger, datadir, binlog, index string) error {
	log.Info("Cleaning the old binary logs")
	if dir := filepath.Dir(binlog); dir != "." && dir != "" && filepath.Clean(binlogDir(datadir, binlog)) != filepath.Clean(datadir) {
		log.Info(fmt.Sprintf("Cleaning the binlog directory '%s' as well", dir))
	}
	idx := ""
	if index != "" {
		idx = filepath.Clean(inDatadir(datadir, index))
	}
	for _, p := range binlogFiles(datadir, binlog, index) {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) && p == idx {
			return fmt.Errorf("remove binlog index: %w", err)
		}
	}
	return nil
}

// inDatadir makes a path relative to the datadir absolute.
func inDatadir(datadir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(datadir, p)
}

// binlogFiles lists what the joiner's binlog cleanup removes: the binlog
// state file, every file listed in the index, the index, and
// <base>.[0-9]* in the binlog directory. Relative paths are relative to
// datadir; only existing files are listed.
func binlogFiles(datadir, binlog, index string) []string {
	rel := func(p string) string { return inDatadir(datadir, p) }
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		p = filepath.Clean(p)
		if seen[p] {
			return
		}
		if _, err := os.Lstat(p); err == nil {
			seen[p] = true
			out = append(out, p)
		}
	}
	base := filepath.Base(binlog)
	add(rel(base + ".state"))
	if index != "" {
		if f, err := os.Open(rel(index)); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if name := strings.TrimSpace(sc.Text()); name != "" {
					add(rel(name))
				}
			}
			f.Close()
			add(rel(index))
		}
	}
	matches, _ := filepath.Glob(filepath.Join(binlogDir(datadir, binlog), base) + ".[0-9]*")
	for _, m := range matches {
		add(m)
	}
	return out
}

// binlogDir is the directory of the binary logs: the --binlog path's
// directory when it exists, else the datadir.
func binlogDir(datadir, binlog string) string {
	dir := filepath.Dir(binlog)
	if dir == "." || dir == "" {
		return datadir
	}
	dir = inDatadir(datadir, dir)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	return datadir
}

// archiveLogs mirrors the sst-log-archive step: existing mariabackup.*.log
// files in datadir are moved to dir (or beside themselves when dir is
// unusable) with a timestamp suffix and gzipped.
func archiveLogs(log *slog.Logger, datadir, dir string, now time.Time) {
	ts := now.Format("2006.01.02-15.04.05.000000000")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Warn(fmt.Sprintf("Unable to create '%s' directory", dir))
			dir = ""
		} else if writable(dir) != nil {
			log.Warn(fmt.Sprintf("The '%s' directory is not writable", dir))
			dir = ""
		}
	}
	for _, name := range []string{prepareLog, moveLog, backupLog} {
		src := filepath.Join(datadir, name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		dst := src + "." + ts
		if dir != "" {
			dst = filepath.Join(dir, name+"."+ts)
		}
		log.Info(fmt.Sprintf("Moving '%s' to '%s'", src, dst))
		if err := gzipMove(src, dst); err != nil {
			log.Warn(fmt.Sprintf("Failed to archive log file ('%s'): %v", dst, err))
		}
	}
}

// gzipMove writes src gzipped to dst.gz and removes src.
func gzipMove(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst+".gz", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dst + ".gz")
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err = io.Copy(zw, in); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	return os.Remove(src)
}

// resolveDir mirrors one branch of create_dirs with simplify=1: a
// directory relative to datadir is made absolute and created; "" is
// returned when it is the datadir itself.
func resolveDir(datadir, d string) (string, error) {
	if d == "" || d == "." {
		return "", nil
	}
	p := d
	if !filepath.IsAbs(p) {
		p = filepath.Join(datadir, p)
	}
	p = filepath.Clean(p)
	if p == filepath.Clean(datadir) {
		return "", nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("create directory %s: %w", p, err)
	}
	return p, nil
}

// firstLine returns the first line of a file, without the newline.
func firstLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// tagValue returns the value of the first "<tag> value" line, as the
// script's grep -m1 -E "^$TAG[[:space:]]" does.
func tagValue(path, tag string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return tagIn(b, tag)
}
