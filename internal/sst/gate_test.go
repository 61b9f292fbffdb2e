package sst

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
)

// dialFrom connects to hostPort from the loopback address src
// (127.0.0.2, ...), so that strays come from several sources.
func dialFrom(t *testing.T, src, hostPort string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", hostPort)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c
}

func gtidStream(t *testing.T, c net.Conn, secret string) {
	t.Helper()
	w := mbstream.NewWriter(c)
	content := "6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\n"
	if secret != "" {
		content += "secret " + secret + "\n"
	}
	must(t, w.WriteFile(infoFile, []byte(content)))
	must(t, w.Close())
	_ = c.(*net.TCPConn).CloseWrite()
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestGateStrays: whatever connects to the joiner's SST port before the
// donor (a health check, garbage, a silent peer, a gtid stage with a
// wrong secret or none, a storm of silent connections from several
// sources) is refused and logged, costs bounded descriptors, and the
// real donor's SST then succeeds.
func TestGateStrays(t *testing.T) {
	e := newSSTEnv(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, jout, jdone := e.startJoiner(t, ctx)
	auth, plain := splitAuth(addr)
	_, secret, _ := strings.Cut(auth, ":")
	if len(secret) != 32 {
		t.Fatalf("ready address %q: want a 32-hex-digit secret before @ (donor-auth=auto)", addr)
	}
	hostPort, _, _ := strings.Cut(plain, "/")

	health := dialFrom(t, "127.0.0.2", hostPort)
	health.Close()
	garbage := dialFrom(t, "127.0.0.3", hostPort)
	defer garbage.Close()
	_, _ = garbage.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	wrong := dialFrom(t, "127.0.0.4", hostPort)
	defer wrong.Close()
	gtidStream(t, wrong, strings.Repeat("0", 32))
	none := dialFrom(t, "127.0.0.5", hostPort)
	defer none.Close()
	gtidStream(t, none, "")

	waitFor(t, 10*time.Second, "the strays' refusals", func() bool {
		return strings.Count(e.logs.String(), "Refused") >= 4
	})
	before := openFDs(t)
	const storm = 1000
	var silent []net.Conn
	for i := range storm {
		silent = append(silent, dialFrom(t, []string{"127.0.0.6", "127.0.0.7"}[i%2], hostPort))
	}
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	waitFor(t, 10*time.Second, "the storm's refusals", func() bool {
		return strings.Contains(e.logs.String(), "more connections to the SST port")
	})
	// The joiner holds at most maxPending of the storm's connections
	// (plus a few of its own); the rest it has closed.
	if held := openFDs(t) - before - storm; held > maxPending+16 {
		t.Errorf("the joiner holds %d descriptors for a storm of %d connections, want at most about %d", held, storm, maxPending)
	}
	start := time.Now()
	if _, err := e.runDonor(t, ctx, addr, "--bypass"); err != nil {
		t.Fatalf("the donor after the strays: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	t.Logf("the donor's IST took %v after a storm of %d silent connections", time.Since(start).Round(time.Millisecond), storm)
	if got := <-jout; !strings.HasSuffix(got, ":42 0\n") {
		t.Errorf("joiner final line %q", got)
	}
	log := e.logs.String()
	for _, want := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5", "does not carry this joiner's secret", "more connections to the SST port"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, grep(log, "Refused"))
		}
	}
	if n := strings.Count(log, "Refused"); n > refusalLogs+5 {
		t.Errorf("%d refusal lines for %d strays, want them rate-limited", n, storm+4)
	}
	if strings.Contains(log, secret) {
		t.Error("the secret was logged")
	}
}

// FuzzParseGTIDStage: whatever a peer sends as its gtid stage, the parser
// returns plain file names only, at most gtidStageFiles of them, or an
// error; it never panics.
func FuzzParseGTIDStage(f *testing.F) {
	var b bytes.Buffer
	w := mbstream.NewWriter(&b)
	_ = w.WriteFile(infoFile, []byte("6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\nsecret abc\n"))
	_ = w.WriteFile(donorInfoFile, []byte("x\n"))
	_ = w.Close()
	f.Add(b.Bytes())
	f.Add([]byte(mbstream.Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := parseGTIDStage(data)
		if err != nil {
			return
		}
		if len(files) == 0 || len(files) > gtidStageFiles {
			t.Fatalf("%d files", len(files))
		}
		for name := range files {
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
				t.Fatalf("unsafe name %q accepted", name)
			}
		}
	})
}

// TestRefusalsFlush: refusals past the first refusalLogs are summed up
// every refusalEvery, and what is left is logged by flush, once.
func TestRefusalsFlush(t *testing.T) {
	var lines []string
	r := &refusals{log: func(m string) { lines = append(lines, m) }}
	for i := range refusalLogs + 5 {
		r.add("10.0.0.9:"+strconv.Itoa(1000+i), errors.New("not the donor"))
	}
	// The first one past refusalLogs makes a summary at once (none was
	// logged before); the next four wait.
	if len(lines) != refusalLogs+1 {
		t.Fatalf("%d lines before flush, want %d", len(lines), refusalLogs+1)
	}
	r.flush()
	r.flush()
	if len(lines) != refusalLogs+2 || !strings.Contains(lines[len(lines)-1], "Refused 4 more connections to the SST port (25 in all; the last from 10.0.0.9:1024: not the donor)") {
		t.Errorf("after flush: %q", lines[refusalLogs:])
	}
}
