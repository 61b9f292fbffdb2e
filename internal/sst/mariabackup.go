package sst

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// backupTool is mariadb-backup plus what setup_commands computes once.
type backupTool struct {
	path string
	// noVersionCheck is " --no-version-check" when the binary knows the
	// option (the script's disver).
	noVersionCheck bool
}

func findBackupTool(ctx context.Context) (*backupTool, error) {
	p, err := lookPath("mariadb-backup", "the mariadb-backup package")
	if err != nil {
		return nil, err
	}
	t := &backupTool{path: p}
	out, _ := exec.CommandContext(ctx, p, "--help").Output()
	t.noVersionCheck = strings.Contains(string(out), "--version-check")
	return t, nil
}

// words splits an option string built with shell quoting (INNOEXTRA,
// inno-*-opts, the reconstructed --mysqld-args); name says which one for
// the error message.
func words(name, s string) ([]string, error) {
	w, err := splitWords(s)
	if err != nil {
		return nil, errorf(ExitInvalid, "%s: %w", name, err)
	}
	return w, nil
}

// defaultsArgs mirrors WSREP_SST_OPT_CONF: the option-file options that
// must come first on mariadb-backup's command line.
func (s *session) defaultsArgs() []string {
	var a []string
	if s.args.DefaultsFile != "" {
		a = append(a, "--defaults-file="+s.args.DefaultsFile)
	}
	if s.args.DefaultsExtraFile != "" {
		a = append(a, "--defaults-extra-file="+s.args.DefaultsExtraFile)
	}
	if s.args.DefaultsGroupSuffix != "" {
		a = append(a, "--defaults-group-suffix="+s.args.DefaultsGroupSuffix)
	}
	return a
}

// mysqldArgs returns " --mysqld-args <args>" as words, without any
// wsrep_sst_auth option: mariadb-backup does not need it and it would put
// the SST password in argv, where ps shows it (the script passes it on).
func (s *session) mysqldArgs() ([]string, error) {
	if s.args.MysqldArgs == "" {
		return nil, nil
	}
	w, err := words("--mysqld-args", s.args.MysqldArgs)
	if err != nil {
		return nil, err
	}
	out := []string{"--mysqld-args"}
	for _, a := range w {
		if isAuthOption(a) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func isAuthOption(a string) bool {
	name, _, _ := strings.Cut(a, "=")
	name = strings.ReplaceAll(strings.TrimPrefix(name, "--"), "_", "-")
	name = strings.TrimPrefix(name, "loose-")
	return name == "wsrep-sst-auth"
}

// innoExtra is the script's INNOEXTRA at setup_commands time: the rebuilt
// innodb/aria/binlog options, extra (--user, --socket or extra_port) and
// --use-memory.
func (s *session) innoExtra(extra ...string) ([]string, error) {
	w, err := words("innodb options", s.args.InnoExtra)
	if err != nil {
		return nil, err
	}
	w = append(w, extra...)
	if s.cfg.UseMemory != "" {
		w = append(w, "--use-memory="+s.cfg.UseMemory)
	}
	return w, nil
}

// prepareArgs is INNOAPPLY: mariadb-backup --prepare on the staging dir.
func (s *session) prepareArgs(t *backupTool, dir string) ([]string, error) {
	a := []string{"--prepare"}
	if t.noVersionCheck {
		a = append(a, "--no-version-check")
	}
	if s.args.InnodbForceRecovery != "" {
		a = append(a, "--innodb-force-recovery="+s.args.InnodbForceRecovery)
	}
	opts, err := words("inno-apply-opts", s.cfg.InnoApplyOpts)
	if err != nil {
		return nil, err
	}
	extra, err := s.innoExtra()
	if err != nil {
		return nil, err
	}
	ma, err := s.mysqldArgs()
	if err != nil {
		return nil, err
	}
	a = append(a, opts...)
	a = append(a, extra...)
	a = append(a, "--target-dir="+dir, "--datadir="+dir)
	return append(a, ma...), nil
}

// moveArgs is INNOMOVE: mariadb-backup --move-back from the staging dir
// into the datadir.
func (s *session) moveArgs(t *backupTool, dir, datadir string) ([]string, error) {
	a := s.defaultsArgs()
	a = append(a, "--move-back")
	if t.noVersionCheck {
		a = append(a, "--no-version-check")
	}
	if s.cfg.BackupThreads != "" {
		a = append(a, "--parallel="+s.cfg.BackupThreads)
	}
	opts, err := words("inno-move-opts", s.cfg.InnoMoveOpts)
	if err != nil {
		return nil, err
	}
	extra, err := s.innoExtra()
	if err != nil {
		return nil, err
	}
	a = append(a, opts...)
	a = append(a, extra...)
	return append(a, "--galera-info", "--force-non-empty-directories",
		"--target-dir="+dir, "--datadir="+datadir), nil
}

// backupArgs is INNOBACKUP: mariadb-backup --backup streaming mbstream to
// stdout. connExtra holds --user and --socket/--host/--port.
func (s *session) backupArgs(t *backupTool, tmpdir, targetdir string, connExtra []string) ([]string, error) {
	a := s.defaultsArgs()
	a = append(a, "--backup")
	if t.noVersionCheck {
		a = append(a, "--no-version-check")
	}
	// The script prepends these to iopts in this order.
	if s.cfg.BackupThreads != "" {
		a = append(a, "--parallel="+s.cfg.BackupThreads)
	}
	if s.cfg.Compress != "none" {
		if s.cfg.CompressChunkSize != "" {
			a = append(a, "--compress-chunk-size="+s.cfg.CompressChunkSize)
		}
		if s.cfg.CompressThreads != "" {
			a = append(a, "--compress-threads="+s.cfg.CompressThreads)
		}
		// "--compress${compress:+=$compress}": a bare compress key reads
		// as empty, which parse_cnf turns into the default "none".
		a = append(a, "--compress="+s.cfg.Compress)
	}
	a = append(a, "--databases-exclude=lost+found")
	opts, err := words("inno-backup-opts", s.cfg.InnoBackupOpts)
	if err != nil {
		return nil, err
	}
	extra, err := s.innoExtra(connExtra...)
	if err != nil {
		return nil, err
	}
	ma, err := s.mysqldArgs()
	if err != nil {
		return nil, err
	}
	a = append(a, opts...)
	a = append(a, "--tmpdir="+tmpdir)
	a = append(a, extra...)
	a = append(a, "--galera-info", "--stream=mbstream", "--target-dir="+targetdir, "--datadir="+s.args.Datadir)
	return append(a, ma...), nil
}

// logCommand logs a child's command line with secrets scrubbed.
func (s *session) logCommand(what, path string, args []string) {
	s.log.Info(fmt.Sprintf("%s: %s %s", what, path, strings.Join(args, " ")))
}

// openLog creates (truncates) a log file in the datadir for a child.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, errorf(ExitNoEnt, "create log file: %w", err)
	}
	return f, nil
}
