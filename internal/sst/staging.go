package sst

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/qpress"
)

// cleanDatadir is the stock order's cleanup when the data stream starts:
// old binary logs, every entry cpat does not keep, old info files.
func (s *session) cleanDatadir(t targets) error {
	a := s.args
	if a.Binlog != "" {
		if err := cleanBinlogs(s.log, t.datadir, a.Binlog, a.BinlogIndex); err != nil {
			return fail.Errorf(fail.Missing, "%w", err)
		}
	}
	s.log.Info("Cleaning the existing datadir and innodb-data/log directories")
	if err := wipeDirs(t.dirs, t.keep, t.skipped, func(m string) { s.log.Warn(m) }); err != nil {
		return fail.Errorf(fail.Missing, "%w", err)
	}
	for _, f := range []string{"xtrabackup_binary", "xtrabackup_pid", checkpoints, "xtrabackup_info",
		"xtrabackup_slave_info", binlogInfo, "xtrabackup_binlog_pos_innodb"} {
		_ = os.Remove(filepath.Join(t.datadir, f))
	}
	return nil
}

// failStaging handles a failure after the staging directory was created:
// a full disk removes it (and reports exit 28); anything else keeps it for
// diagnosis (the next SST removes it first).
func (s *session) failStaging(ctx context.Context, t targets, err, cause error) error {
	staging := t.staging
	if ctx.Err() == nil && errors.Is(cause, syscall.ENOSPC) {
		nerr := s.noSpace(t, "receive the SST", cause)
		if s.reflinkKeep {
			// Counted on shared blocks and ran short: the next SST
			// counts the new data whole (and cleans or patches in
			// place if it does not fit).
			_ = os.WriteFile(filepath.Join(t.datadir, reflinkShort), nil, 0o644)
		}
		if rerr := os.RemoveAll(staging); rerr != nil {
			s.log.Warn(fmt.Sprintf("remove %s: %v", staging, rerr))
		}
		return nerr
	}
	if s.cfg.TransferV2 {
		s.log.Info(fmt.Sprintf("Keeping '%s' of the failed SST: the next SST from a donor running this program reuses its data (resume), then removes it", staging))
	} else {
		s.log.Info(fmt.Sprintf("Keeping '%s' of the failed SST for diagnosis (the next SST removes it)", staging))
	}
	return err
}

// checkCheckpoints requires a non-empty checkpoints file and rejects
// compact backups, as the script does after the stream ends.
func checkCheckpoints(dir string) error {
	for _, n := range []string{checkpoints, checkpoints11} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || len(b) == 0 {
			continue
		}
		if strings.Contains(string(b), "compact = 1") {
			return fail.Errorf(fail.Missing, "compact backups are not supported by mariadb-backup (index compaction detected in %s)", n)
		}
		return nil
	}
	return fail.Errorf(fail.Missing, "%s missing, failed mariadb-backup/SST on donor: see mariabackup.backup.log in the donor's datadir", checkpoints)
}

// decompressQpress replaces the script's "qpress -dT$nproc" step for
// backups taken with compress=...: every *.qp file is decompressed next to
// itself, natively and in parallel, then removed.
func (s *session) decompressQpress(ctx context.Context, dir string) error {
	if top, _ := filepath.Glob(filepath.Join(dir, "*.qp")); len(top) == 0 {
		return nil
	}
	s.log.Info("Compressed qpress files found")
	start := time.Now()
	n, err := qpress.DecompressDir(ctx, dir, runtime.NumCPU())
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fail.Errorf(fail.Invalid, "decompression failed: %w", err)
	}
	s.log.Info(fmt.Sprintf("Decompressed and removed %d qpress files in %.1fs", n, time.Since(start).Seconds()))
	return nil
}

// removeReceivedBinlogs is MDEV-38147: the donor's binary log must not be
// moved into place; the joiner starts a fresh one seeded from the engine
// checkpoint.
func (s *session) removeReceivedBinlogs(dir, base string) {
	var logs []string
	info := ""
	for _, n := range []string{binlogInfo, binlogInfo11} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			info = filepath.Join(dir, n)
			break
		}
	}
	if info != "" {
		b, _ := os.ReadFile(info)
		for _, l := range strings.Split(string(b), "\n") {
			name, _, _ := strings.Cut(l, "\t")
			name = strings.TrimSpace(name)
			if name == "" || strings.Contains(name, "/") {
				continue
			}
			if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
				logs = append(logs, name)
			}
		}
	} else {
		m, _ := filepath.Glob(filepath.Join(dir, base) + ".[0-9]*")
		for _, p := range m {
			logs = append(logs, filepath.Base(p))
		}
	}
	if len(logs) == 0 {
		s.log.Info("No binary log received from donor; the joiner will start a fresh binary log seeded from the storage-engine checkpoint")
		return
	}
	s.log.Info("Removing received binary log(s) so the joiner starts a fresh binary log seeded from the storage-engine checkpoint")
	for _, n := range logs {
		_ = os.Remove(filepath.Join(dir, n))
	}
}

// recreateBinlogDirs creates the binlog and index directories after the
// move, as the script does (the server does not create them).
func recreateBinlogDirs(log interface{ Info(string, ...any) }, datadir, binlog, index string) {
	for _, p := range []string{binlog, index} {
		if p == "" {
			continue
		}
		d := filepath.Dir(p)
		if d == "." {
			continue
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(datadir, d)
		}
		if filepath.Clean(d) == filepath.Clean(datadir) {
			continue
		}
		if _, err := os.Stat(d); err == nil {
			continue
		}
		log.Info(fmt.Sprintf("Creating the binlog directory '%s'", d))
		_ = os.MkdirAll(d, 0o755)
	}
}

// findInfoFile returns the galera info file in dir under its 10.x or 11.x
// name.
func findInfoFile(dir string) (string, error) {
	for _, n := range []string{infoFile, infoFile11} {
		p := filepath.Join(dir, n)
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
