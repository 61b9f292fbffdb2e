package main

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/logx"
)

// TestStartSyslog: sst-syslog=1 (as config resolves it, including
// [mysqld_safe] syslog) sends the log to the socket with the script's tag;
// 0 and -1 leave it on stderr.
func TestStartSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct {
		syslog int
		tag    string
		want   string // packet regexp, "" for stderr
	}{
		{1, "", `^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d wsrep-sst-joiner\[\d+\]: hello$`},
		{1, "node2-", `^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d node2-wsrep-sst-joiner\[\d+\]: hello$`},
		{0, "node2-", ""},
		{-1, "node2-", ""},
	} {
		var stderr bytes.Buffer
		h := logx.NewHandler(&stderr, slog.LevelInfo)
		startSyslog(h, &config.Config{Syslog: tt.syslog, SyslogTag: tt.tag, Args: &config.Args{Role: "joiner"}}, path)
		slog.New(h).Info("hello")
		if tt.want == "" {
			if !bytes.Contains(stderr.Bytes(), []byte("[INFO] hello")) {
				t.Errorf("sst-syslog=%d: stderr = %q, want the message there", tt.syslog, stderr.String())
			}
			continue
		}
		l.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		n, _, err := l.ReadFrom(buf)
		if err != nil {
			t.Fatalf("sst-syslog=%d: read: %v", tt.syslog, err)
		}
		if !regexp.MustCompile(tt.want).Match(buf[:n]) {
			t.Errorf("sst-syslog=%d tag %q: packet = %q, want %s", tt.syslog, tt.tag, buf[:n], tt.want)
		}
	}
}
