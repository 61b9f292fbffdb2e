package sst

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"wsrep_sst_mariabackup/internal/proc"
)

// backupTool is mariadb-backup plus what setup_commands computes once.
type backupTool struct {
	path string
	// noVersionCheck is " --no-version-check" when the binary knows the
	// option (the script's disver).
	noVersionCheck bool
}

// findBackupTool finds mariadb-backup and asks its --help what it
// supports; env is the child's environment.
func findBackupTool(ctx context.Context, env []string) (*backupTool, error) {
	p, err := lookPath("mariadb-backup", "the mariadb-backup package")
	if err != nil {
		return nil, err
	}
	t := &backupTool{path: p}
	var out bytes.Buffer
	// A failure shows as a missing option; the real run reports it.
	_ = proc.Run(ctx, proc.Cmd{Name: "mariadb-backup --help", Path: p, Args: []string{"--help"}, Env: env, Stdout: &out, WaitDelay: childWaitDelay})
	t.noVersionCheck = strings.Contains(out.String(), "--version-check")
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

// argList builds a mariadb-backup command line from plain options and
// shell-quoted option strings, keeping the first error.
type argList struct {
	a   []string
	err error
}

func (l *argList) add(a ...string) { l.a = append(l.a, a...) }

// words appends the shell words of s; name says which option for errors.
func (l *argList) words(name, s string) {
	if l.err != nil {
		return
	}
	w, err := words(name, s)
	l.err = err
	l.a = append(l.a, w...)
}

// innoExtra appends the script's INNOEXTRA at setup_commands time: the
// rebuilt innodb/aria/binlog options, extra (--user, --socket or
// extra_port) and --use-memory.
func (l *argList) innoExtra(s *session, extra ...string) {
	l.words("innodb options", s.args.InnoExtra)
	l.add(extra...)
	if s.cfg.UseMemory != "" {
		l.add("--use-memory=" + s.cfg.UseMemory)
	}
}

// mysqldArgs appends " --mysqld-args ..." (see session.mysqldArgs).
func (l *argList) mysqldArgs(s *session) {
	if l.err != nil {
		return
	}
	ma, err := s.mysqldArgs()
	l.err = err
	l.a = append(l.a, ma...)
}

// result returns the arguments, or the first error.
func (l *argList) result() ([]string, error) {
	if l.err != nil {
		return nil, l.err
	}
	return l.a, nil
}

// common starts a command line: option files first (WSREP_SST_OPT_CONF,
// except for prepare), the mode, then --no-version-check (disver).
func (s *session) common(t *backupTool, mode string, withDefaults bool) *argList {
	l := &argList{}
	if withDefaults {
		l.add(s.defaultsArgs()...)
	}
	l.add(mode)
	if t.noVersionCheck {
		l.add("--no-version-check")
	}
	return l
}

// prepareArgs is INNOAPPLY: mariadb-backup --prepare on the staging dir.
func (s *session) prepareArgs(t *backupTool, dir string) ([]string, error) {
	l := s.common(t, "--prepare", false)
	if s.args.InnodbForceRecovery != "" {
		l.add("--innodb-force-recovery=" + s.args.InnodbForceRecovery)
	}
	l.words("inno-apply-opts", s.cfg.InnoApplyOpts)
	l.innoExtra(s)
	l.add("--target-dir="+dir, "--datadir="+dir)
	l.mysqldArgs(s)
	return l.result()
}

// moveArgs is INNOMOVE: mariadb-backup --move-back from the staging dir
// into the datadir.
func (s *session) moveArgs(t *backupTool, dir, datadir string) ([]string, error) {
	l := s.common(t, "--move-back", true)
	if s.cfg.BackupThreads != "" {
		l.add("--parallel=" + s.cfg.BackupThreads)
	}
	l.words("inno-move-opts", s.cfg.InnoMoveOpts)
	l.innoExtra(s)
	l.add("--galera-info", "--force-non-empty-directories", "--target-dir="+dir, "--datadir="+datadir)
	return l.result()
}

// backupArgs is INNOBACKUP: mariadb-backup --backup streaming mbstream to
// stdout. connExtra holds --user and --socket/--host/--port.
func (s *session) backupArgs(t *backupTool, tmpdir, targetdir string, connExtra []string) ([]string, error) {
	l := s.common(t, "--backup", true)
	// The script prepends these to iopts in this order.
	if s.cfg.BackupThreads != "" {
		l.add("--parallel=" + s.cfg.BackupThreads)
	}
	if s.cfg.Compress != "none" {
		if s.cfg.CompressChunkSize != "" {
			l.add("--compress-chunk-size=" + s.cfg.CompressChunkSize)
		}
		if s.cfg.CompressThreads != "" {
			l.add("--compress-threads=" + s.cfg.CompressThreads)
		}
		// "--compress${compress:+=$compress}": a bare compress key reads
		// as empty, which parse_cnf turns into the default "none".
		l.add("--compress=" + s.cfg.Compress)
	}
	l.add("--databases-exclude=lost+found")
	l.words("inno-backup-opts", s.cfg.InnoBackupOpts)
	l.add("--tmpdir=" + tmpdir)
	l.innoExtra(s, connExtra...)
	l.add("--galera-info", "--stream=mbstream", "--target-dir="+targetdir, "--datadir="+s.args.Datadir)
	l.mysqldArgs(s)
	return l.result()
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
