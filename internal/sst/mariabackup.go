package sst

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/proc"
)

// backupTool is mariadb-backup plus what setup_commands computes once.
type backupTool struct {
	path string
	// noVersionCheck reports that the binary knows --version-check, so
	// the command lines get --no-version-check (the script's disver).
	noVersionCheck bool
}

// findBackupTool finds mariadb-backup and asks its --help what it
// supports; env is the child's environment.
func findBackupTool(ctx context.Context, env []string) (*backupTool, error) {
	p, err := lookPath("mariadb-backup", "the mariadb-backup package")
	if err != nil {
		return nil, err
	}
	return backupToolAt(ctx, p, env)
}

// backupToolAt probes the mariadb-backup program at path p; env is the
// child's environment.
func backupToolAt(ctx context.Context, p string, env []string) (*backupTool, error) {
	if _, err := exec.LookPath(p); err != nil {
		return nil, err
	}
	t := &backupTool{path: p}
	var out bytes.Buffer
	// A failure shows as a missing option; the real run reports it.
	_ = proc.Run(ctx, proc.Cmd{Name: "mariadb-backup --help", Path: p, Args: []string{"--help"}, Env: env, Stdout: &out, WaitDelay: childWaitDelay})
	t.noVersionCheck = strings.Contains(out.String(), "--version-check")
	return t, nil
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

// mysqldArgs returns " --mysqld-args <args>" as words. config leaves every
// wsrep_sst_auth option out of Args.MysqldArgs: mariadb-backup does not
// need it and it would put the SST password in argv, where ps shows it
// (the script passes it on).
func (s *session) mysqldArgs() []string {
	if len(s.args.MysqldArgs) == 0 {
		return nil
	}
	return append([]string{"--mysqld-args"}, s.args.MysqldArgs...)
}

// argList builds a mariadb-backup command line from plain options and
// the option words config resolved.
type argList struct {
	a []string
}

func (l *argList) add(a ...string) { l.a = append(l.a, a...) }

// innoExtra appends the script's INNOEXTRA at setup_commands time: the
// rebuilt innodb/aria/binlog options, extra (--user, --socket or
// extra_port) and --use-memory.
func (l *argList) innoExtra(s *session, extra ...string) {
	l.add(s.args.InnoExtra...)
	l.add(extra...)
	if s.cfg.UseMemory != "" {
		l.add("--use-memory=" + s.cfg.UseMemory)
	}
}

// mysqldArgs appends " --mysqld-args ..." (see session.mysqldArgs).
func (l *argList) mysqldArgs(s *session) { l.add(s.mysqldArgs()...) }

// result returns the arguments. The error is always nil since config
// splits the option strings; it stays for the callers' shape.
func (l *argList) result() ([]string, error) { return l.a, nil }

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
	l.add(s.cfg.InnoApplyOpts...)
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
	l.add(s.cfg.InnoMoveOpts...)
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
	l.add(s.cfg.InnoBackupOpts...)
	l.add("--tmpdir=" + tmpdir)
	l.innoExtra(s, connExtra...)
	l.add("--galera-info", "--stream=mbstream", "--target-dir="+targetdir, "--datadir="+s.args.Datadir)
	l.mysqldArgs(s)
	return l.result()
}

// logCommand logs a child's command line; the log handler scrubs the
// secrets it knows of.
func (s *session) logCommand(what, path string, args []string) {
	s.log.Info(fmt.Sprintf("%s: %s %s", what, path, strings.Join(args, " ")))
}

// openLog creates (truncates) a log file in the datadir for a child.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fail.Errorf(fail.Missing, "create log file: %w", err)
	}
	return f, nil
}

// prepareTool is [sst] prepare-tool, the mariadb-backup that runs
// --prepare (for an SST across an InnoDB redo-format change, the donor's
// version), else tool.
func (s *session) prepareTool(ctx context.Context, tool *backupTool) (*backupTool, error) {
	p := s.cfg.PrepareTool
	if p == "" {
		return tool, nil
	}
	t, err := backupToolAt(ctx, p, childEnv(s.env))
	if err != nil {
		return nil, fail.Errorf(fail.Missing, "[sst] prepare-tool=%s: %w: install that mariadb-backup or remove the option", p, err)
	}
	return t, nil
}

// runBackupTool runs mariadb-backup with stdout and stderr in logFile.
func (s *session) runBackupTool(ctx context.Context, t *backupTool, what string, args []string, logFile string, env []string) error {
	f, err := openLog(logFile)
	if err != nil {
		return err
	}
	defer f.Close()
	s.logCommand(what, t.path, args)
	start := time.Now()
	out, done := s.childOutput(f, strings.TrimPrefix(what, "mariadb-backup "))
	defer done()
	err = proc.Run(ctx, proc.Cmd{
		Name: what, Path: t.path, Args: args, Env: childEnv(s.env, env...),
		Stdout: out, Stderr: out, LogFile: logFile, WaitDelay: childWaitDelay,
	})
	if s.cfg.Time {
		s.log.Info(fmt.Sprintf("%s took %.3f seconds", what, time.Since(start).Seconds()))
	}
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err // a *proc.ExitError quoting the log's last lines
	}
	return nil
}

// noSpaceInLog reports whether a mariadb-backup log (of the run that just
// failed) says the disk was full.
func noSpaceInLog(logFile string) bool {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return false
	}
	if len(b) > 64<<10 {
		b = b[len(b)-64<<10:]
	}
	return strings.Contains(string(b), "No space left on device") || strings.Contains(string(b), "errno: 28")
}

// prepare runs mariadb-backup --prepare on the staging directory, with
// [sst] prepare-tool when set.
func (s *session) prepare(ctx context.Context, tool *backupTool, staging, datadir string) error {
	ptool, err := s.prepareTool(ctx, tool)
	if err != nil {
		return err
	}
	s.log.Info(fmt.Sprintf("Preparing the backup at %s with %s", staging, ptool.path))
	args, err := s.prepareArgs(ptool, staging)
	if err != nil {
		return err
	}
	logFile := filepath.Join(datadir, prepareLog)
	if err := s.runBackupTool(ctx, ptool, "mariadb-backup prepare", args, logFile, nil); err != nil {
		if noSpaceInLog(logFile) {
			err = errors.Join(err, syscall.ENOSPC)
		}
		if s.cfg.PrepareTool != "" {
			return fail.Errorf(fail.Invalid, "mariadb-backup apply with [sst] prepare-tool=%s finished with errors "+
				"(it must be able to prepare the donor's backup: 'wsrep_sst_mariabackup check --peer-version <donor version>' says which one can): %w",
				s.cfg.PrepareTool, err)
		}
		return fail.Errorf(fail.Invalid, "mariadb-backup apply finished with errors: %w", err)
	}
	return nil
}

// moveBack runs mariadb-backup --move-back from staging into the datadir.
func (s *session) moveBack(ctx context.Context, tool *backupTool, staging, datadir string) error {
	s.log.Info("Moving the backup to " + datadir)
	args, err := s.moveArgs(tool, staging, datadir)
	if err != nil {
		return err
	}
	logFile := filepath.Join(datadir, moveLog)
	if err := s.runBackupTool(ctx, tool, "mariadb-backup move", args, logFile, nil); err != nil {
		if noSpaceInLog(logFile) {
			err = errors.Join(err, syscall.ENOSPC)
		}
		return fail.Errorf(fail.Invalid, "%w (move failed, keeping '%s' for further diagnosis)", err, staging)
	}
	return nil
}

// backupConnection is how mariadb-backup connects to the donor's server:
// --user and the socket (or the thread pool's extra port) in argv, the
// password only as MYSQL_PWD in its environment, never argv.
func (s *session) backupConnection() (connExtra, env []string, err error) {
	if s.cfg.User != "" {
		// safe() in wsrep_sst_common: exit 21 (EISDIR in errno terms,
		// kept for compatibility).
		if err := config.CheckSafe("the SST user (wsrep_sst_auth)", s.cfg.User); err != nil {
			return nil, nil, fail.Wrap(fail.Unsafe, err)
		}
		connExtra = append(connExtra, "--user="+s.cfg.User)
	}
	if pw := s.cfg.Password.Reveal(); pw != "" {
		// The password reaches mariadb-backup only through its
		// environment, never argv.
		env = append(env, "MYSQL_PWD="+pw)
	}
	extra, err := s.connectionOptions()
	if err != nil {
		return nil, nil, err
	}
	connExtra = append(connExtra, extra...)
	return connExtra, env, nil
}

// connectionOptions mirrors check_extra: the thread pool's extra_port when
// use-extra is set, else the socket mysqld passed.
func (s *session) connectionOptions() ([]string, error) {
	if s.cfg.UseExtra {
		if s.cfg.ThreadHandling == "pool-of-threads" {
			if s.cfg.ExtraPort == "" {
				return nil, fail.Errorf(fail.Unexpected, "use-extra is set but extra-port is not configured for the thread pool")
			}
			s.log.Info("SST through extra_port " + s.cfg.ExtraPort)
			// mariadb-backup works only locally.
			return []string{"--host=127.0.0.1", "--port=" + s.cfg.ExtraPort}, nil
		}
		s.log.Info("Thread pool not set, ignore the option use_extra")
	}
	if s.args.Socket != "" {
		return []string{"--socket=" + s.args.Socket}, nil
	}
	return nil, nil
}

// childOutput is where a mariadb-backup run writes: its log file, and with
// syslog on (sst-syslog, [mysqld_safe] syslog) also syslog at daemon.err
// under the script's tag, <syslog-tag>innobackupex-<stage> (stage
// "backup", "prepare" as the script's "apply", or "move"). The log file
// stays: error messages quote its tail. Call done once the child ended.
func (s *session) childOutput(f *os.File, stage string) (io.Writer, func()) {
	h, ok := s.log.Handler().(*LogHandler)
	if !ok {
		return f, func() {}
	}
	if stage == "prepare" {
		stage = "apply"
	}
	sw := h.SyslogWriter(ChildSyslogTag(s.cfg.SyslogTag, stage))
	if sw == nil {
		return f, func() {}
	}
	return io.MultiWriter(f, sw), func() { sw.Close() }
}
