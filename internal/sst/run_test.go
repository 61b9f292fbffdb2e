package sst

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/galeratest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of two roles.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sstEnv prepares a fake mariadb-backup on PATH, two datadirs and an
// option file, and returns their paths.
type sstEnv struct {
	base, cnf, joiner, donor string
	logs                     *syncBuffer
	handler                  *LogHandler
}

func newSSTEnv(t testing.TB, cnfExtra string) *sstEnv {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fake := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(fake, "mariadb-backup")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+":"+os.Getenv("PATH"))
	e := &sstEnv{base: t.TempDir(), logs: &syncBuffer{}}
	e.handler = NewLogHandler(e.logs, slog.LevelInfo)
	e.cnf = filepath.Join(e.base, "my.cnf")
	e.joiner = filepath.Join(e.base, "joiner")
	e.donor = filepath.Join(e.base, "donor")
	for _, d := range []string{e.joiner, e.donor} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cnf := "[sst]\nsst-log-archive=0\n" + cnfExtra
	if err := os.WriteFile(e.cnf, []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *sstEnv) load(t testing.TB, env map[string]string, argv ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load(t.Context(), config.LoadParams{
		Program: "/usr/bin/wsrep_sst_gotest",
		Argv:    argv,
		Getenv:  func(k string) string { return env[k] },
		Search:  []string{},
		Home:    e.base,
	})
	if err != nil {
		t.Fatalf("config.Load(%q): %v", argv, err)
	}
	return cfg
}

// startJoiner runs the joiner in the background and returns its "ready"
// address, the rest of its stdout (delivered when it closes), and its
// result channel.
func (e *sstEnv) startJoiner(t testing.TB, ctx context.Context, extra ...string) (string, <-chan string, <-chan error) {
	t.Helper()
	// The stock parser keeps the first value of most options, so extra
	// options go first to override the defaults.
	argv := append(extra, "--role", "joiner", "--address", "127.0.0.1:"+strconv.Itoa(galeratest.FreePort(t)),
		"--datadir", e.joiner+"/", "--defaults-file", e.cnf, "--parent", strconv.Itoa(os.Getpid()), "--progress", "0")
	cfg := e.load(t, nil, argv...)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, Params{Config: cfg, Stdout: pw, Log: slog.New(e.handler.WithAttrs([]slog.Attr{slog.String("role", "joiner")}))})
		pw.Close()
		done <- err
	}()
	out := bufio.NewReader(pr)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("joiner: no ready line: %v (result: %v)", err, <-done)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		t.Fatalf("joiner first line = %q, want ready <addr>", line)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(out)
		rest <- string(b)
	}()
	return addr, rest, done
}

// startDonor runs the donor (runDonor) in a goroutine, on a context of
// its own below ctx: cancel stops it, done gives its error.
func (e *sstEnv) startDonor(t testing.TB, ctx context.Context, addr string, extra ...string) (cancel context.CancelCauseFunc, done <-chan error) {
	dctx, dcancel := context.WithCancelCause(ctx)
	ddone := make(chan error, 1)
	go func() {
		_, err := e.runDonor(t, dctx, addr, extra...)
		ddone <- err
	}()
	return dcancel, ddone
}

func (e *sstEnv) runDonor(t testing.TB, ctx context.Context, addr string, extra ...string) (string, error) {
	t.Helper()
	var tail []string
	if len(extra) > 0 && extra[0] == "--mysqld-args" {
		extra, tail = nil, extra // --mysqld-args swallows the rest of argv
	}
	argv := append(extra, "--role", "donor", "--address", addr, "--local-port", "3306",
		"--socket", "/nonexistent/mysqld.sock", "--progress", "0", "--datadir", e.donor,
		"--defaults-file", e.cnf, "--gtid", "6c1b8e2a-1111-11ef-8000-0242ac120002:42", "--gtid-domain-id", "0")
	argv = append(argv, tail...)
	env := map[string]string{"WSREP_SST_OPT_AUTH": "root:s3cret"}
	if auth, rest := splitAuth(addr); auth != "" {
		env["WSREP_SST_OPT_REMOTE_AUTH"] = auth
		for j, a := range argv {
			if a == addr {
				argv[j] = rest
			}
		}
	}
	cfg := e.load(t, env, argv...)
	e.handler.AddSecret(cfg.Password.Reveal())
	var out bytes.Buffer
	err := Run(ctx, Params{Config: cfg, Stdout: &out, Log: slog.New(e.handler.WithAttrs([]slog.Attr{slog.String("role", "donor")}))})
	return out.String(), err
}

// splitAuth does what mysqld does with a joiner's ready address: it
// splits "<auth>@<addr>" at the last "@"; the auth part reaches the donor
// as WSREP_SST_OPT_REMOTE_AUTH, not in argv.
func splitAuth(addr string) (auth, rest string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return "", addr
	}
	return addr[:i], addr[i+1:]
}

func TestSSTRoundTripWithFakeBackup(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_WANT_PWD", "s3cret")
	old := filepath.Join(e.joiner, "old.ibd")
	keep := filepath.Join(e.joiner, "grastate.dat")
	for _, f := range []string{old, keep} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	addr, jout, jdone := e.startJoiner(t, ctx)
	if !strings.HasSuffix(addr, "/xtrabackup_sst/xfer-v1.3/1") {
		t.Errorf("ready address = %q, want .../xtrabackup_sst/xfer-v1.3/1 (transfer v2 offered, up to delta by offer)", addr)
	}
	dout, err := e.runDonor(t, ctx, addr)
	if err != nil {
		t.Fatalf("donor: %v", err)
	}
	if want := "done 6c1b8e2a-1111-11ef-8000-0242ac120002:42\n"; dout != want {
		t.Errorf("donor stdout = %q, want %q", dout, want)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	if got, want := <-jout, "6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\n"; got != want {
		t.Errorf("joiner final line = %q, want %q", got, want)
	}
	got, err := os.ReadFile(filepath.Join(e.joiner, "db", "t1.ibd"))
	if err != nil || !bytes.Equal(got, fakeTable) {
		t.Errorf("db/t1.ibd not restored (err %v, %d bytes)", err, len(got))
	}
	for _, gone := range []string{old, ".sst", "sst_in_progress", "wsrep_sst.pid"} {
		p := gone
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.joiner, gone)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s still exists after the SST", p)
		}
	}
	for _, f := range []string{keep, filepath.Join(e.joiner, "prepared"), filepath.Join(e.joiner, prepareLog), filepath.Join(e.donor, backupLog)} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("want %s: %v", f, err)
		}
	}
	for _, f := range []string{infoFile, donorInfoFile} {
		if _, err := os.Stat(filepath.Join(e.donor, f)); err == nil {
			t.Errorf("donor left %s behind", f)
		}
	}
	if strings.Contains(e.logs.String(), "s3cret") {
		t.Errorf("password leaked into the log:\n%s", e.logs.String())
	}
}

func TestSSTBackupFailureLeavesJoinerDatadir(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_FAIL", "backup")
	old := filepath.Join(e.joiner, "t.ibd")
	if err := os.WriteFile(old, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	dout, err := e.runDonor(t, ctx, addr)
	if got := fail.ClassOf(err); got != fail.Invalid {
		t.Errorf("donor class = %v (%v), want %v", got, err, fail.Invalid)
	}
	if dout != "" {
		t.Errorf("donor printed %q after a failed backup, want nothing", dout)
	}
	if err == nil || !strings.Contains(err.Error(), backupLog) || !strings.Contains(err.Error(), "Access denied") {
		t.Errorf("donor error %v: want it to name %s and quote the cause", err, backupLog)
	}
	jerr := <-jdone
	if got := fail.ClassOf(jerr); got != fail.Transfer {
		t.Errorf("joiner class = %v (%v), want %v", got, jerr, fail.Transfer)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != "precious" {
		t.Errorf("joiner datadir was touched: %v %q", err, b)
	}
}

func TestISTBypass(t *testing.T) {
	e := newSSTEnv(t, "")
	data := filepath.Join(e.joiner, "ibdata1")
	if err := os.WriteFile(data, []byte("live"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, jout, jdone := e.startJoiner(t, ctx)
	dout, err := e.runDonor(t, ctx, addr, "--bypass")
	if err != nil {
		t.Fatalf("donor: %v", err)
	}
	if want := "continue\ndone 6c1b8e2a-1111-11ef-8000-0242ac120002:42\n"; dout != want {
		t.Errorf("donor stdout = %q, want %q", dout, want)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	if got := <-jout; got != "6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\n" {
		t.Errorf("joiner final line = %q", got)
	}
	if b, _ := os.ReadFile(data); string(b) != "live" {
		t.Errorf("IST touched the datadir")
	}
	// MariaDB's galera_ist_mariabackup_verify_ca greps for this line.
	if !strings.Contains(e.logs.String(), "gotest IST completed on joiner") {
		t.Errorf("joiner did not log the IST completion:\n%s", e.logs.String())
	}
}

func TestJoinerInitialTimeout(t *testing.T) {
	e := newSSTEnv(t, "sst-initial-timeout=1\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _, jdone := e.startJoiner(t, ctx)
	err := <-jdone
	if got := fail.ClassOf(err); got != fail.Transfer || !strings.Contains(err.Error(), "gtid stage") {
		t.Errorf("joiner = %v %v, want %v and a gtid stage timeout", got, err, fail.Transfer)
	}
}

func TestJoinerExitsWhenParentDies(t *testing.T) {
	e := newSSTEnv(t, "")
	parent := exec.Command("sleep", "60")
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _, jdone := e.startJoiner(t, ctx, "--parent", strconv.Itoa(parent.Process.Pid))
	_ = parent.Process.Kill()
	_ = parent.Wait()
	err := <-jdone
	if got := fail.ClassOf(err); got != fail.Transfer || !strings.Contains(err.Error(), "parent mysqld") {
		t.Errorf("joiner = %v %v, want %v naming the parent", got, err, fail.Transfer)
	}
	for _, f := range []string{"sst_in_progress", "wsrep_sst.pid"} {
		if _, err := os.Stat(filepath.Join(e.joiner, f)); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

func TestDonorWithoutSSTVer(t *testing.T) {
	e := newSSTEnv(t, "")
	_, err := e.runDonor(t, t.Context(), "127.0.0.1:"+strconv.Itoa(galeratest.FreePort(t))+"/xtrabackup_sst//")
	if got := fail.ClassOf(err); got != fail.TooOld {
		t.Errorf("class = %v (%v), want %v", got, err, fail.TooOld)
	}
}

func TestDonorDeadJoiner(t *testing.T) {
	e := newSSTEnv(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(galeratest.FreePort(t))
	cfg := e.load(t, nil, "--role", "donor", "--address", addr+"/xtrabackup_sst//1", "--datadir", e.donor,
		"--defaults-file", e.cnf, "--gtid", "6c1b8e2a-1111-11ef-8000-0242ac120002:42", "--gtid-domain-id", "0")
	var out bytes.Buffer
	err := Run(ctx, Params{Config: cfg, Stdout: &out, Log: slog.New(e.handler), DialBudget: 300 * time.Millisecond})
	if ctx.Err() != nil {
		t.Fatal("the donor's own connect budget did not end the attempt")
	}
	if got := fail.ClassOf(err); got != fail.Transfer {
		t.Errorf("class = %v (%v), want %v", got, err, fail.Transfer)
	}
	for _, want := range []string{"connect to the joiner", addr, "connection refused"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if strings.Contains(out.String(), "done") {
		t.Errorf("donor printed %q to a dead joiner", out.String())
	}
}

// TestCancelledDonorKillsBackup: when the donor is stopped (signal, parent
// gone), mariadb-backup must not survive it holding its backup locks.
func TestCancelledDonorKillsBackup(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_FAIL", "hang")
	marker := "sstmarker" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	dcancel, ddone := e.startDonor(t, ctx, addr, "--mysqld-args", "--"+marker)
	// Wait until the fake backup runs, then stop the donor.
	deadline := time.Now().Add(30 * time.Second)
	for !processRunning(marker) {
		if time.Now().After(deadline) {
			t.Fatal("fake mariadb-backup never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dcancel(&fail.SignalError{Signal: syscall.SIGTERM})
	err := <-ddone
	if got := fail.ClassOf(err); got != fail.Interrupted {
		t.Errorf("donor class = %v (%v), want %v", got, err, fail.Interrupted)
	}
	if processRunning(marker) {
		t.Error("mariadb-backup survived the cancelled donor")
	}
	cancel()
	<-jdone
}

// TestDonorJoinerDiesMidway: the joiner resets the data connection after a
// few MiB of an endless backup. The donor must fail promptly with a
// transfer error and stop mariadb-backup, with or without compression
// (the in-process lz4 compressor writes blocks from its own goroutines,
// which once hid the dead connection until the whole backup had been
// compressed; so do zstd -T2's job workers; "exec" makes zstd a filter
// process).
func TestDonorJoinerDiesMidway(t *testing.T) {
	for _, tt := range []struct{ name, cnf string }{
		{"plain", ""},
		{"lz4", "compressor=lz4\n"},
		{"zstd", "compressor=zstd -1 -q\n"},
		{"zstd -T2", "compressor=zstd -T2\n"},
		{"zstd filter", "compressor=exec zstd -1 -q\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSSTEnv(t, tt.cnf)
			t.Setenv("FAKE_FAIL", "endless")
			marker := "sstmarker" + strconv.Itoa(os.Getpid()) + tt.name
			addr := fakeJoiner(t, func(c net.Conn) {
				// The data stage: a few MiB, then the joiner dies.
				_, _ = io.CopyN(io.Discard, c, 4<<20)
				_ = c.(*net.TCPConn).SetLinger(0)
			})
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			_, err := e.runDonor(t, ctx, addr, "--mysqld-args", "--"+marker)
			if ctx.Err() != nil {
				t.Fatal("the donor did not notice the dead joiner")
			}
			if got := fail.ClassOf(err); got != fail.Transfer {
				t.Errorf("donor class = %v (%v), want %v", got, err, fail.Transfer)
			}
			if processRunning(marker) {
				t.Error("mariadb-backup survived the failed donor")
			}
		})
	}
}

// processRunning reports whether a process whose command line contains s
// exists.
func processRunning(s string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) && processAlive(atoi(e.Name())) {
			return true
		}
	}
	return false
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func TestISTOverIPv6(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		l.Close()
	}
	e := newSSTEnv(t, "sockopt=\",pf=ip6,sndbuf=262144,rcvbuf=262144,keepalive\"\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, jout, jdone := e.startJoiner(t, ctx, "--address", "[::1]:"+strconv.Itoa(galeratest.FreePort(t)))
	if _, a := splitAuth(addr); !strings.HasPrefix(a, "[::1]:") {
		t.Errorf("ready address = %q, want [::1]:port/...", addr)
	}
	if _, err := e.runDonor(t, ctx, addr, "--bypass"); err != nil {
		t.Fatalf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	if got := <-jout; !strings.HasSuffix(got, ":42 0\n") {
		t.Errorf("joiner final line = %q", got)
	}
}

// TestTLSRefusals: a bad certificate setup on either side is refused before
// any byte moves, with EINVAL and a message naming the problem, and the
// joiner's datadir is left untouched.
func TestTLSRefusals(t *testing.T) {
	good := makeCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	other := makeCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	expired := makeCerts(t, t.TempDir(), time.Now().Add(-time.Hour))
	tests := []struct {
		name   string
		joiner string // [sst] lines of the joiner
		donor  string // [sst] lines of the donor; "" = joiner fails alone
		want   string
	}{
		{"missing cert with ssl-mode=REQUIRED",
			"ssl-mode=REQUIRED\n", "", "no usable SSL certificate"},
		{"key does not match the certificate",
			"encrypt=3\ntca=" + good.CA + "\ntcert=" + good.Cert + "\ntkey=" + other.Key + "\n", "", "key"},
		{"expired certificate",
			"encrypt=3\ntca=" + expired.CA + "\ntcert=" + expired.Cert + "\ntkey=" + expired.Key + "\n", "", "expired"},
		{"encrypt=4 without a CA",
			"encrypt=4\ntcert=" + good.Cert + "\ntkey=" + good.Key + "\n", "", "required if encrypt=4"},
		{"donor trusts another CA",
			"encrypt=3\ntca=" + good.CA + "\ntcert=" + good.Cert + "\ntkey=" + good.Key + "\n",
			"encrypt=3\ntca=" + other.CA + "\ntcert=" + other.Cert + "\ntkey=" + other.Key + "\n", "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A donor the joiner cannot trust is refused like any stray
			// and the joiner waits on: it fails at sst-initial-timeout,
			// its ERROR naming the last refusal (mysqld also stops it at
			// once when the donor reports its failure).
			e := newSSTEnv(t, tt.joiner+"sst-initial-timeout=3\n")
			precious := filepath.Join(e.joiner, "ibdata1")
			if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var err error
			if tt.donor == "" {
				cfg := e.load(t, nil, "--role", "joiner", "--address", "127.0.0.1:"+strconv.Itoa(galeratest.FreePort(t)),
					"--datadir", e.joiner, "--defaults-file", e.cnf)
				var out bytes.Buffer
				err = Run(ctx, Params{Config: cfg, Stdout: &out, Log: slog.New(e.handler)})
				if out.Len() != 0 {
					t.Errorf("joiner printed %q before refusing", out.String())
				}
			} else {
				addr, _, jdone := e.startJoiner(t, ctx)
				dcnf := filepath.Join(e.base, "donor.cnf")
				os.WriteFile(dcnf, []byte("[sst]\nsst-log-archive=0\n"+tt.donor), 0o644)
				_, derr := e.runDonor(t, ctx, addr, "--defaults-file", dcnf)
				if got := fail.ClassOf(derr); got != fail.Invalid {
					t.Errorf("donor class = %v (%v), want %v", got, derr, fail.Invalid)
				}
				err = <-jdone
			}
			if got := fail.ClassOf(err); got != fail.Invalid && tt.donor == "" {
				t.Errorf("class = %v (%v), want %v", got, err, fail.Invalid)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v does not mention %q", err, tt.want)
			}
			if b, _ := os.ReadFile(precious); string(b) != "keep" {
				t.Error("the joiner's datadir was touched")
			}
		})
	}
}

// TestWrongSecret: with ssl-mode VERIFY_* the joiner sends
// "<CN>:<secret>@" in its address and refuses a gtid stage whose secret
// differs ("Donor does not know my secret!"), leaving its datadir alone.
func TestWrongSecret(t *testing.T) {
	c := makeCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	e := newSSTEnv(t, "ssl-mode=VERIFY_CA\nssl-ca="+c.CA+"\nssl-cert="+c.Cert+"\nssl-key="+c.Key+"\n")
	precious := filepath.Join(e.joiner, "ibdata1")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, jout, jdone := e.startJoiner(t, ctx)
	auth, addr := splitAuth(addr)
	cn, secret, _ := strings.Cut(auth, ":")
	if cn != "localhost" || len(secret) != 32 {
		t.Errorf("address prefix %q: want CN localhost and a 32-hex-digit secret", auth)
	}
	donor := func(auth string) error {
		dcfg := e.load(t, map[string]string{"WSREP_SST_OPT_REMOTE_AUTH": auth},
			"--role", "donor", "--address", addr, "--datadir", e.donor, "--defaults-file", e.cnf,
			"--gtid", "6c1b8e2a-1111-11ef-8000-0242ac120002:42", "--gtid-domain-id", "0", "--bypass")
		var out bytes.Buffer
		return Run(ctx, Params{Config: dcfg, Stdout: &out, Log: slog.New(e.handler)})
	}
	// A donor with another secret is refused and logged; the joiner goes
	// on listening, and the right donor then gets in.
	_ = donor(cn + ":0123456789abcdef0123456789abcdef")
	waitFor(t, 10*time.Second, "the refusal", func() bool { return strings.Contains(e.logs.String(), "Donor does not know my secret") })
	if b, _ := os.ReadFile(precious); string(b) != "keep" {
		t.Error("the joiner's datadir was touched")
	}
	if err := donor(auth); err != nil {
		t.Fatalf("the right donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	if got := <-jout; !strings.HasSuffix(got, ":42 0\n") {
		t.Errorf("joiner final line %q", got)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the joiner's secret was logged")
	}
}

// TestSSTBackupDiesMidway: a backup that dies after sending data must not
// look like a complete stream to the joiner: no prepare, no coords line.
// Both engines report the backup's failure (transfer.Backup.Finish).
func TestSSTBackupDiesMidway(t *testing.T) {
	for _, cnf := range []string{"", "compressor=lz4 -z\ndecompressor=lz4 -d\n", "transfer-v2=0\n"} {
		t.Run("compressor="+strings.TrimSpace(cnf), func(t *testing.T) {
			e := newSSTEnv(t, cnf)
			t.Setenv("FAKE_FAIL", "midway")
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			addr, jout, jdone := e.startJoiner(t, ctx)
			dout, err := e.runDonor(t, ctx, addr)
			if got := fail.ClassOf(err); got != fail.Invalid || dout != "" {
				t.Errorf("donor = %v %v, stdout %q; want %v and no done line", got, err, dout, fail.Invalid)
			}
			jerr := <-jdone
			if got := fail.ClassOf(jerr); got != fail.Transfer {
				t.Errorf("joiner class = %v (%v), want %v", got, jerr, fail.Transfer)
			}
			if rest := <-jout; rest != "" {
				t.Errorf("joiner printed %q after a broken stream", rest)
			}
			if _, err := os.Stat(filepath.Join(e.joiner, prepareLog)); err == nil {
				t.Error("the joiner ran prepare on a broken stream")
			}
		})
	}
}

// TestEnvValue: the flows read the environment of Params.Env, the last
// value of a key winning as for a child; nil is ours.
func TestEnvValue(t *testing.T) {
	t.Setenv("SST_ENV_VALUE_TEST", "ours")
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{nil, "ours"},
		{[]string{}, ""},
		{[]string{"SST_ENV_VALUE_TEST=1", "SST_ENV_VALUE_TESTX=2"}, "1"},
		{[]string{"SST_ENV_VALUE_TEST=1", "SST_ENV_VALUE_TEST=3"}, "3"},
	} {
		if got := envValue(tt.env, "SST_ENV_VALUE_TEST"); got != tt.want {
			t.Errorf("envValue(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
