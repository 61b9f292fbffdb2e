package logx

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenSyslog is a fake /dev/log: a datagram socket at a temporary path.
func listenSyslog(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readPacket returns the next datagram; the deadline only bounds a broken
// test, the packet is already queued when the log call returns.
func readPacket(t *testing.T, l *net.UnixConn) string {
	t.Helper()
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, _, err := l.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read syslog packet: %v", err)
	}
	return string(buf[:n])
}

func syslogHandler(t *testing.T) (*Handler, *bytes.Buffer, *time.Time) {
	t.Helper()
	var stderr bytes.Buffer
	h := NewHandler(&stderr, slog.LevelDebug)
	now := time.Date(2026, 12, 1, 9, 5, 7, 0, time.UTC)
	h.shared.now = func() time.Time { return now }
	return h, &stderr, &now
}

// TestSyslogTagPriorityText: records reach the socket as logger(1) would
// send them for the script: facility daemon with err/warning/info, the
// tag "${syslog-tag}wsrep-sst-<role>", the bare message, secrets scrubbed.
func TestSyslogTagPriorityText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := listenSyslog(t, path)
	h, stderr, _ := syslogHandler(t)
	h.AddSecret("s3cretpw")
	h.UseSyslog(path, SyslogTag("db1-", "joiner"))
	log := slog.New(h)

	pid := os.Getpid()
	tests := []struct {
		log  func()
		want string
	}{
		{func() { log.Info("Streaming the backup to joiner") },
			fmt.Sprintf("<30>Dec  1 09:05:07 db1-wsrep-sst-joiner[%d]: Streaming the backup to joiner", pid)},
		{func() { log.Warn("slow disk", "dir", "/var/lib/mysql") },
			fmt.Sprintf("<28>Dec  1 09:05:07 db1-wsrep-sst-joiner[%d]: slow disk dir=/var/lib/mysql", pid)},
		{func() { log.Error("auth failed for sstuser:s3cretpw\nsecond line") },
			fmt.Sprintf("<27>Dec  1 09:05:07 db1-wsrep-sst-joiner[%d]: auth failed for sstuser:*** | second line", pid)},
		{func() { log.Debug("details") },
			fmt.Sprintf("<31>Dec  1 09:05:07 db1-wsrep-sst-joiner[%d]: details", pid)},
	}
	for _, tt := range tests {
		tt.log()
		if got := readPacket(t, l); got != tt.want {
			t.Errorf("packet = %q\nwant     %q", got, tt.want)
		}
	}
	want := "WSREP_SST: [INFO] Logging all stderr of SST/mariadb-backup to syslog (20261201 09:05:07.000)\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want only %q", stderr.String(), want)
	}
}

// TestSyslogNoSocket: without a syslog daemon, one WARNING and every
// message on stderr as usual.
func TestSyslogNoSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	h, stderr, _ := syslogHandler(t)
	h.UseSyslog(path, SyslogTag("", "donor"))
	log := slog.New(h)
	log.Info("one")
	log.Error("two")
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("stderr has %d lines, want 3 (warning, one, two):\n%s", len(lines), stderr.String())
	}
	if !strings.HasPrefix(lines[0], "WSREP_SST: [WARNING] syslog: cannot reach the syslog socket "+path) {
		t.Errorf("first line = %q, want the warning naming %s", lines[0], path)
	}
	if lines[1] != "WSREP_SST: [INFO] one (20261201 09:05:07.000)" || lines[2] != "WSREP_SST: [ERROR] two (20261201 09:05:07.000)" {
		t.Errorf("messages not on stderr in the script's shape:\n%s", stderr.String())
	}
}

// TestSyslogDaemonGone: when the daemon goes away mid-run, records go to
// stderr (one warning); once it is back and the backoff has passed, to
// syslog again.
func TestSyslogDaemonGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := listenSyslog(t, path)
	h, stderr, now := syslogHandler(t)
	h.UseSyslog(path, "wsrep-sst-donor")
	log := slog.New(h)
	log.Info("first")
	if got := readPacket(t, l); !strings.HasSuffix(got, ": first") {
		t.Fatalf("packet = %q, want first", got)
	}
	l.Close()
	os.Remove(path)
	stderr.Reset()
	log.Info("second")
	log.Info("third")
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "WSREP_SST: [WARNING] syslog: send to "+path+" failed") ||
		!strings.HasPrefix(lines[1], "WSREP_SST: [INFO] second") || !strings.HasPrefix(lines[2], "WSREP_SST: [INFO] third") {
		t.Fatalf("stderr after the daemon left, want one warning then both messages:\n%s", stderr.String())
	}

	l2 := listenSyslog(t, path)
	*now = now.Add(syslogBackoff + time.Second)
	stderr.Reset()
	log.Warn("fourth")
	if got := readPacket(t, l2); !strings.HasSuffix(got, "wsrep-sst-donor["+fmt.Sprint(os.Getpid())+"]: fourth") || !strings.HasPrefix(got, "<28>") {
		t.Errorf("packet after restart = %q, want fourth at daemon.warning", got)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing once syslog is back", stderr.String())
	}
}

// TestSyslogWriter: a child's stderr reaches syslog line by line at
// daemon.err under the script's innobackupex-* tag, however the writes
// are cut; Close sends the unterminated rest. With syslog off there is
// no writer.
func TestSyslogWriter(t *testing.T) {
	h, _, _ := syslogHandler(t)
	if w := h.SyslogWriter("x"); w != nil {
		t.Fatalf("SyslogWriter with syslog off = %v, want nil", w)
	}
	path := filepath.Join(t.TempDir(), "log")
	l := listenSyslog(t, path)
	h.AddSecret("s3cretpw")
	h.UseSyslog(path, SyslogTag("db1-", "donor"))
	w := h.SyslogWriter(ChildSyslogTag("db1-", "backup"))
	for _, chunk := range []string{"[00] 2026-12-01 Connecting to server host: localhost, user: sst, password: s3c", "retpw\n[01] Copying ./ibdata1\n", "[01]        ...done\r\n", "completed OK"} {
		w.Write([]byte(chunk))
	}
	w.Close()
	prefix := fmt.Sprintf("<27>Dec  1 09:05:07 db1-innobackupex-backup[%d]: ", os.Getpid())
	for _, want := range []string{
		"[00] 2026-12-01 Connecting to server host: localhost, user: sst, password: ***",
		"[01] Copying ./ibdata1",
		"[01]        ...done",
		"completed OK",
	} {
		if got := readPacket(t, l); got != prefix+want {
			t.Errorf("packet = %q\nwant     %q", got, prefix+want)
		}
	}
}
