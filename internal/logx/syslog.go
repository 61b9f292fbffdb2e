package logx

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// DefaultSyslogSocket is the local syslog socket, the one logger(1) and
// syslog(3) write to.
const DefaultSyslogSocket = "/dev/log"

// Syslog priorities of the stock script: facility daemon (3), with
// wsrep_log_error at err, wsrep_log_warning at warning and wsrep_log_info
// at info (the "ssyslog -eq 1" block of wsrep_sst_mariabackup).
const (
	syslogDaemonErr     = 3<<3 | 3
	syslogDaemonWarning = 3<<3 | 4
	syslogDaemonInfo    = 3<<3 | 6
	syslogDaemonDebug   = 3<<3 | 7
)

// SyslogTag is the tag the stock script gives its own messages:
// "${ssystag}wsrep-sst-$WSREP_SST_OPT_ROLE", where ssystag is
// [mysqld_safe] syslog-tag glued on as is (no separator, as the script does).
func SyslogTag(syslogTag, role string) string {
	return syslogTag + "wsrep-sst-" + role
}

// syslogConn is a connected datagram socket to the local syslog daemon.
// Its methods are called with logShared.mu held.
type syslogConn struct {
	path    string
	tag     string
	pid     int
	conn    net.Conn  // nil after a failed redial
	warned  bool      // the one warning about a failed send was printed
	retryAt time.Time // after a failure, stderr only until then
}

// syslogTimeout bounds one send: a datagram socket blocks while the
// daemon's queue is full, and a stuck syslog must not stall an SST.
// syslogBackoff is how long records go straight to stderr after a
// failed send, so a dead daemon costs one timeout, not one per line.
const (
	syslogTimeout = 2 * time.Second
	syslogBackoff = 10 * time.Second
)

// syslogMaxLine is where a child's unterminated line is cut: rsyslog's
// default maximum message size is 8 KiB.
const syslogMaxLine = 8 << 10

// UseSyslog sends every later record of h, and of every handler derived
// from it, to the local syslog socket at path (DefaultSyslogSocket in
// production) with tag, as the stock script does with sst-syslog=1 or
// [mysqld_safe] syslog: RFC 3164 local format "<PRI>Mmm dd hh:mm:ss
// TAG[PID]: message", facility daemon, the severity from the level. The
// message is the log text without the "WSREP_SST: [LEVEL]" prefix and
// timestamp (the script calls logger with the bare message), secrets
// scrubbed. Like the script, it first says so on stderr.
//
// If the socket cannot be reached, UseSyslog prints one WARNING to stderr
// and everything keeps going to stderr. If a send fails later (the daemon
// restarted, say), the socket is redialled once; if that fails too, that
// record goes to stderr, with one WARNING the first time, so no message is
// lost.
func (h *Handler) UseSyslog(path, tag string) {
	c, err := net.Dial("unixgram", path)
	if err != nil {
		slog.New(h).Warn(fmt.Sprintf("syslog: cannot reach the syslog socket %s (%v): logging to stderr instead; start rsyslog or systemd-journald, or remove sst-syslog / [mysqld_safe] syslog", path, err))
		return
	}
	slog.New(h).Info("Logging all stderr of SST/mariadb-backup to syslog")
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	h.shared.sys = &syslogConn{path: path, tag: tag, pid: os.Getpid(), conn: c}
}

// sysSend sends one record; it reports false when the caller must write
// the record to stderr instead.
func (l *logShared) sysSend(level slog.Level, msg string, t time.Time) bool {
	return l.sysSendTagged(syslogPriority(level), l.sys.tag, msg, t)
}

func (l *logShared) sysSendTagged(pri int, tag, msg string, t time.Time) bool {
	s := l.sys
	if t.Before(s.retryAt) {
		return false
	}
	pkt := s.packet(pri, tag, msg, t)
	err := s.write(pkt)
	if err != nil && !isTimeout(err) {
		// One redial: rsyslog and journald recreate the socket on restart.
		s.close()
		if s.conn, err = net.Dial("unixgram", s.path); err == nil {
			err = s.write(pkt)
		}
	}
	if err == nil {
		return true
	}
	s.close()
	s.retryAt = t.Add(syslogBackoff)
	if !s.warned {
		s.warned = true
		fmt.Fprintf(l.w, "WSREP_SST: [WARNING] syslog: send to %s failed (%v): messages syslog does not take go to stderr (%s)\n", s.path, err, t.Format(timeLayout))
	}
	return false
}

func (s *syslogConn) write(pkt []byte) error {
	if s.conn == nil {
		return net.ErrClosed
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(syslogTimeout)); err != nil {
		return err
	}
	_, err := s.conn.Write(pkt)
	return err
}

func (s *syslogConn) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *syslogConn) packet(pri int, tag, msg string, t time.Time) []byte {
	b := make([]byte, 0, 64+len(tag)+len(msg))
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, '>')
	b = t.AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, "]: "...)
	b = append(b, msg...)
	return b
}

func syslogPriority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return syslogDaemonErr
	case l >= slog.LevelWarn:
		return syslogDaemonWarning
	case l >= slog.LevelInfo:
		return syslogDaemonInfo
	default:
		return syslogDaemonDebug
	}
}

// SyslogWriter returns a writer that sends each line written to it to
// syslog at daemon.err with tag, secrets scrubbed, or nil when syslog is
// off (UseSyslog not called or the socket was unreachable). It is meant
// for a child's stderr: the stock script pipes mariadb-backup's output
// through "logger -p daemon.err -t ${ssystag}innobackupex-backup" (and
// -apply, -move) instead of writing mariabackup.*.log; see
// ChildSyslogTag. A line syslog does not take is written to stderr as
// is. Close sends a last unterminated line. Safe for concurrent use.
func (h *Handler) SyslogWriter(tag string) io.WriteCloser {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	if h.shared.sys == nil {
		return nil
	}
	l := h.shared
	return NewLineWriter(syslogMaxLine, func(line string) { l.syslogLine(tag, line) })
}

// ChildSyslogTag is the script's tag for a mariadb-backup run: stage is
// "backup" (donor), "apply" (prepare) or "move" (move-back), and
// syslogTag is [mysqld_safe] syslog-tag, glued on as the script does.
func ChildSyslogTag(syslogTag, stage string) string {
	return syslogTag + "innobackupex-" + stage
}

// syslogLine sends one line of a child's output to syslog, or to stderr
// when syslog does not take it.
func (l *logShared) syslogLine(tag, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line = l.redact(line)
	if !l.sysSendTagged(syslogDaemonErr, tag, line, l.now()) {
		fmt.Fprintf(l.w, "%s\n", line)
	}
}
