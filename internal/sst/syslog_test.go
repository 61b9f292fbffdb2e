package sst

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/logx"
)

// NewLogHandler is logx.NewHandler, for the tests here.
func NewLogHandler(w io.Writer, level slog.Level) *logx.Handler { return logx.NewHandler(w, level) }

// With syslog on, mariadb-backup's output of each step also goes to syslog
// under the script's innobackupex-backup/-apply/-move tags (the log files
// stay, for the error messages).
func TestSyslogMariabackupOutput(t *testing.T) {
	e := newSSTEnv(t, "")
	sock := filepath.Join(t.TempDir(), "log") // a fake /dev/log
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer l.Close()
	e.handler.UseSyslog(sock, "wsrep-sst-test")
	// Read while the SST runs: a datagram socket queues only a few.
	pkts := make(chan string, 10000)
	go func() {
		defer close(pkts)
		buf := make([]byte, 64<<10)
		for {
			l.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := l.ReadFrom(buf)
			if err != nil {
				return
			}
			pkts <- string(buf[:n])
		}
	}()
	v2RoundTrip(t, e, "")
	got := map[string]bool{}
	for pkt := range pkts {
		for _, tag := range []string{"innobackupex-backup", "innobackupex-apply", "innobackupex-move"} {
			if strings.Contains(pkt, " "+tag+"[") && strings.Contains(pkt, "fake mariadb-backup") {
				got[tag] = true
				if !strings.HasPrefix(pkt, "<27>") {
					t.Errorf("%s: priority of %q, want daemon.err (<27>)", tag, pkt)
				}
			}
		}
	}
	for _, tag := range []string{"innobackupex-backup", "innobackupex-apply", "innobackupex-move"} {
		if !got[tag] {
			t.Errorf("no syslog message tagged %s", tag)
		}
	}
	if _, err := os.Stat(filepath.Join(e.donor, backupLog)); err != nil {
		t.Errorf("the backup log file is gone: %v", err)
	}
}
