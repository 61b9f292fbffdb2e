package sst

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"wsrep_sst_mariabackup/internal/fail"
)

func TestChildEnv(t *testing.T) {
	base := []string{
		"PATH=/usr/bin",
		"WSREP_SST_OPT_AUTH=root:s3cret",
		"WSREP_SST_OPT_REMOTE_AUTH=joiner:r3mote",
		"WSREP_SST_OPT_PSWD=s3cret",
		"WSREP_SST_OPT_REMOTE_PSWD=r3mote",
		"MYSQL_PWD=old",
		"WSREP_SST_OPT_USER=root",
		"HOME=/root",
	}
	got := childEnv(base, "MYSQL_PWD=s3cret")
	want := []string{"PATH=/usr/bin", "WSREP_SST_OPT_USER=root", "HOME=/root", "MYSQL_PWD=s3cret"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	t.Setenv("WSREP_SST_OPT_AUTH", "root:s3cret")
	for _, kv := range childEnv(nil) {
		if strings.HasPrefix(kv, "WSREP_SST_OPT_AUTH=") {
			t.Errorf("childEnv(nil) kept %s from our environment", kv)
		}
	}
}

func TestChildLogWriter(t *testing.T) {
	var logs syncBuffer
	s := &session{log: slog.New(NewLogHandler(&logs, slog.LevelInfo))}
	before := runtime.NumGoroutine()
	w := s.childLogWriter("zstd")
	io.WriteString(w, "first line\nsecond ")
	io.WriteString(w, "line\npartial")
	got := logs.String()
	for _, want := range []string{"zstd: first line", "zstd: second line"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "partial") {
		t.Errorf("log %q has an unfinished line", got)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before childLogWriter, %d after: it must not leave one behind", before, n)
	}
}

// TestChildEnvironmentHasNoSecrets: the SST credentials mysqld puts in our
// environment reach no child; mariadb-backup --backup alone gets the
// password, as MYSQL_PWD. The fake mariadb-backup and the compressor
// script fail when they see a secret.
func TestChildEnvironmentHasNoSecrets(t *testing.T) {
	dir := t.TempDir()
	check := filepath.Join(dir, "envcheck")
	script := "#!/bin/sh\nenv | grep -E '^(WSREP_SST_OPT_[A-Z_]*AUTH|[A-Z_]*_PSWD|MYSQL_PWD)=' >&2 && exit 9\nexec cat\n"
	if err := os.WriteFile(check, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newSSTEnv(t, "compressor="+check+"\ndecompressor="+check+"\n")
	t.Setenv("FAKE_WANT_PWD", "s3cret")
	t.Setenv("WSREP_SST_OPT_AUTH", "root:s3cret")
	t.Setenv("WSREP_SST_OPT_REMOTE_AUTH", "joiner:r3mote")
	t.Setenv("WSREP_SST_OPT_PSWD", "s3cret")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	if _, err := e.runDonor(t, ctx, addr); err != nil {
		t.Errorf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Errorf("joiner: %v", err)
	}
}

// TestDonorJoinerDiesGrandchildHoldsPipe: the joiner goes away while
// mariadb-backup has a child that ignores SIGTERM and holds the backup's
// stdout. The donor must still return promptly (it once drained that
// pipe without bound) and leave neither process behind.
func TestDonorJoinerDiesGrandchildHoldsPipe(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_FAIL", "endless")
	marker := strconv.Itoa(900000 + os.Getpid())
	t.Setenv("FAKE_GRANDCHILD", marker)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept() // the gtid stage
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		c, err = l.Accept() // the data stage: a little, then gone
		if err != nil {
			return
		}
		_, _ = io.CopyN(io.Discard, c, 1<<20)
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	t.Cleanup(func() {
		if processRunning(marker) {
			t.Error("the grandchild survived the donor")
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := e.runDonor(t, t.Context(), l.Addr().String()+"/xtrabackup_sst//1")
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the donor hung on the pipe the grandchild holds")
	}
	if got := fail.ClassOf(err); got != fail.Transfer {
		t.Errorf("donor class = %v (%v), want %v", got, err, fail.Transfer)
	}
	if !bytes.Contains([]byte(e.logs.String()), []byte("Streaming the backup")) {
		t.Errorf("the donor never streamed:\n%s", e.logs.String())
	}
}
