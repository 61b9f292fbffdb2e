package sst

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
)

// fakeJoiner accepts the gtid stage and reads it all, then accepts the
// data stage and hands the connection to data.
func fakeJoiner(t *testing.T, data func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		if c, err = l.Accept(); err != nil {
			return
		}
		defer c.Close()
		data(c)
	}()
	return l.Addr().String() + "/xtrabackup_sst//1"
}

// TestDonorStall: with sst-idle-timeout set, a mariadb-backup that stops
// producing data and a joiner that stops reading each fail the donor with
// ETIMEDOUT (110) naming the option and what stalled, and mariadb-backup is
// stopped.
func TestDonorStall(t *testing.T) {
	for _, tt := range []struct {
		name, fake, what string
		joiner           func(net.Conn)
	}{
		{"backup silent", "hang", "mariadb-backup produced no data",
			func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }},
		{"joiner not reading", "endless", "the joiner accepted no data",
			func(c net.Conn) { time.Sleep(time.Minute) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSSTEnv(t, "sst-idle-timeout=1\n")
			t.Setenv("FAKE_FAIL", tt.fake)
			marker := "sststall" + strconv.Itoa(os.Getpid()) + strings.ReplaceAll(tt.name, " ", "")
			addr := fakeJoiner(t, tt.joiner)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			_, err := e.runDonor(t, ctx, addr, "--mysqld-args", "--"+marker)
			if ctx.Err() != nil {
				t.Fatal("the donor did not notice the stall")
			}
			if got := fail.ClassOf(err); got != fail.Stalled {
				t.Errorf("donor class = %v (%v), want %v", got, err, fail.Stalled)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.what) || !strings.Contains(msg, "sst-idle-timeout=1") {
				t.Errorf("error %q does not name the stall (%q) and the option", msg, tt.what)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("the donor took %v to give up", d)
			}
			if processRunning(marker) {
				t.Error("mariadb-backup survived the stalled donor")
			}
		})
	}
}

// fakeDonor sends a valid gtid stage to the joiner at addr, then runs data
// on a second connection (or never connects when data is nil).
func fakeDonor(t *testing.T, addr string, data func(net.Conn)) {
	t.Helper()
	auth, addr := splitAuth(addr) // it knows the secret mysqld hands a donor
	_, secret, _ := strings.Cut(auth, ":")
	host := strings.SplitN(addr, "/", 2)[0]
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Error(err)
		return
	}
	w := mbstream.NewWriter(c)
	_ = w.WriteFile(infoFile, []byte("6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\nsecret "+secret+"\n"))
	_ = w.Close()
	_ = c.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	if data == nil {
		return
	}
	for range 100 {
		if c, err = net.Dial("tcp", host); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	data(c)
}

// TestJoinerStall: a donor that stops sending mid-stream, or never opens
// the data stage, fails the joiner with ETIMEDOUT and leaves its datadir
// as it was.
func TestJoinerStall(t *testing.T) {
	for _, tt := range []struct {
		name, what string
		data       func(net.Conn)
	}{
		{"donor silent", "no data received from the donor", func(c net.Conn) {
			// The first bytes of a chunk, then nothing.
			_, _ = c.Write([]byte("XBSTCK01"))
			time.Sleep(time.Minute)
		}},
		{"no data stage", "did not open the data stage", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSSTEnv(t, "sst-idle-timeout=1\n")
			keep := writeKeepFile(t, e.joiner)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			addr, _, done := e.startJoiner(t, ctx)
			go fakeDonor(t, addr, tt.data)
			err := <-done
			if ctx.Err() != nil {
				t.Fatal("the joiner did not notice the stall")
			}
			if got := fail.ClassOf(err); got != fail.Stalled {
				t.Errorf("joiner class = %v (%v), want %v", got, err, fail.Stalled)
			}
			if !strings.Contains(err.Error(), tt.what) {
				t.Errorf("error %q does not say %q", err, tt.what)
			}
			if b, rerr := os.ReadFile(keep); rerr != nil || string(b) != "old data" {
				t.Errorf("the joiner's datadir changed: %q, %v", b, rerr)
			}
		})
	}
}

// writeKeepFile puts a previous data file into a datadir.
func writeKeepFile(t *testing.T, dir string) string {
	t.Helper()
	p := dir + "/ibdata1"
	if err := os.WriteFile(p, []byte("old data"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrepareFailure: a failing --prepare leaves the previous datadir as
// it was; a full disk during the prepare is exit 28 and removes the
// staging directory, any other failure keeps it for diagnosis.
func TestPrepareFailure(t *testing.T) {
	for _, tt := range []struct {
		fake        string
		class       fail.Class
		keepStaging bool
	}{
		{"prepare", fail.Invalid, true},
		{"prepare-nospace", fail.NoSpace, false},
	} {
		t.Run(tt.fake, func(t *testing.T) {
			e := newSSTEnv(t, "")
			keep := writeKeepFile(t, e.joiner)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			addr, _, jdone := e.startJoiner(t, ctx)
			t.Setenv("FAKE_FAIL", tt.fake) // read by the joiner's prepare only
			if _, err := e.runDonor(t, ctx, addr); err != nil {
				t.Fatalf("donor: %v", err)
			}
			err := <-jdone
			if got := fail.ClassOf(err); got != tt.class {
				t.Errorf("joiner class = %v (%v), want %v", got, err, tt.class)
			}
			if b, rerr := os.ReadFile(keep); rerr != nil || string(b) != "old data" {
				t.Errorf("the previous datadir changed: %q, %v", b, rerr)
			}
			_, serr := os.Stat(e.joiner + "/" + stagingDir)
			if kept := serr == nil; kept != tt.keepStaging {
				t.Errorf("staging directory kept = %v, want %v", kept, tt.keepStaging)
			}
		})
	}
}
