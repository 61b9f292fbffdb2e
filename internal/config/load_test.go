package config

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadCnf runs Load on argv with cnf as the --defaults-file (none if
// empty) and the given stdin.
func loadCnf(t *testing.T, cnf string, stdin io.Reader, argv ...string) (*Config, error) {
	t.Helper()
	if cnf != "" {
		name := filepath.Join(t.TempDir(), "my.cnf")
		if err := os.WriteFile(name, []byte(cnf), 0o644); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--defaults-file", name)
	}
	return Load(t.Context(), LoadParams{
		Program: "wsrep_sst_mariabackup",
		Argv:    argv,
		Getenv:  func(string) string { return "" },
		Search:  []string{},
		Stdin:   stdin,
	})
}

var (
	joinerArgv = []string{"--role", "joiner", "--address", "10.0.0.1:4444", "--datadir", "/d"}
	donorArgv  = []string{"--role", "donor", "--address", "10.0.0.2:4444/xtrabackup_sst//1", "--datadir", "/d"}
)

// withTimeout fails the test when f does not return within d: the faults
// tested here used to hang.
func withTimeout(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still blocked after %v", d)
	}
}

func mkfifo(t *testing.T, name string) {
	t.Helper()
	if err := syscall.Mkfifo(name, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// TestOptionFileFIFO: a FIFO as an option file used to block Load for
// ever in open(2). It is refused with an error naming it, except inside
// an !includedir, where it is skipped with a warning.
func TestOptionFileFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.cnf")
	mkfifo(t, fifo)
	incdir := filepath.Join(dir, "conf.d")
	os.Mkdir(incdir, 0o755)
	mkfifo(t, filepath.Join(incdir, "a.cnf"))
	os.WriteFile(filepath.Join(incdir, "b.cnf"), []byte("[sst]\nrlimit=1M\n"), 0o644)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	inc := write("inc.cnf", "!include "+fifo+"\n")
	incd := write("incdir.cnf", "!includedir "+incdir+"\n")
	for _, tt := range []struct {
		name string
		f    Files
	}{
		{"defaults-file", Files{DefaultsFile: fifo}},
		{"extra-file", Files{ExtraFile: fifo, Search: []string{}}},
		{"search list", Files{Search: []string{fifo}}},
		{"!include", Files{DefaultsFile: inc}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			withTimeout(t, 10*time.Second, func() {
				_, err := ReadOptionFiles(tt.f)
				if !errors.Is(err, ErrFile) || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error = %v, want ErrFile naming %s", err, fifo)
				}
			})
		})
	}
	t.Run("!includedir", func(t *testing.T) {
		withTimeout(t, 10*time.Second, func() {
			of, err := ReadOptionFiles(Files{DefaultsFile: incd})
			if err != nil {
				t.Fatal(err)
			}
			if got := of.Print("sst"); !slices.Equal(got, []string{"--rlimit=1M"}) {
				t.Errorf("read %q, want the regular file's options", got)
			}
			if w := of.Warnings(); len(w) != 1 || !strings.Contains(w[0], "a.cnf") || !strings.Contains(w[0], "named pipe") {
				t.Errorf("warnings = %q, want one naming the FIFO", w)
			}
		})
	})
	t.Run("/dev/null", func(t *testing.T) {
		if _, err := ReadOptionFiles(Files{DefaultsFile: "/dev/null"}); err != nil {
			t.Errorf("--defaults-file=/dev/null: %v", err)
		}
	})
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	cancel(stop)
	_, err := Load(ctx, LoadParams{Argv: joinerArgv, Getenv: func(string) string { return "" }, Search: []string{"/etc/my.cnf"}})
	if !errors.Is(err, stop) {
		t.Errorf("Load with a cancelled context = %v, want its cause", err)
	}
}

// TestLoadWarnings: option-file warnings reach Config.Warnings (they used
// to be dropped).
func TestLoadWarnings(t *testing.T) {
	name := filepath.Join(t.TempDir(), "ww.cnf")
	os.WriteFile(name, []byte("[sst]\n"), 0o644)
	os.Chmod(name, 0o666)
	c, err := Load(t.Context(), LoadParams{Argv: joinerArgv, Getenv: func(string) string { return "" }, Search: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "World-writable config file '"+name+"' is ignored") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
}

func TestValidateAddress(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		ok   bool
	}{
		{[]string{"--address", "10.0.0.1:4444"}, true},
		{[]string{"--address", "[::1]:1"}, true},
		{[]string{"--address", "h", "--port", "65535"}, true},
		{[]string{"--address", ""}, false},
		{[]string{"--address", "  "}, false},
		{[]string{"--address", ":4444"}, false},
		{[]string{"--address", "[]:4444"}, false},
		{[]string{"--port", "4444"}, false},
		{[]string{"--address", "h:0"}, false},
		{[]string{"--address", "h:65536"}, false},
		{[]string{"--address", "h", "--port", "-1"}, false},
		{[]string{"--address", "h:44x"}, false},
		{[]string{"--address", "h/xtrabackup_sst//1"}, false},
	} {
		argv := append([]string{"--role", "joiner", "--datadir", "/d"}, tt.argv...)
		_, err := loadCnf(t, "", nil, argv...)
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("Load(%q) error = %v, want ok=%v (ErrInvalid otherwise)", tt.argv, err, tt.ok)
		}
	}
}

func TestNewOptions(t *testing.T) {
	for _, tt := range []struct {
		cnf  string
		keep string
		idle time.Duration
		bad  bool
	}{
		{"", "auto", 300 * time.Second, false},
		{"keep-datadir=1\nsst-idle-timeout=0", "1", 0, false},
		{"keep-datadir=OFF\nsst-idle-timeout=120", "0", 120 * time.Second, false},
		{"keep-datadir=yes", "1", 300 * time.Second, false},
		{"keep-datadir=false", "0", 300 * time.Second, false},
		{"keep-datadir=Auto", "auto", 300 * time.Second, false},
		{"keep-datadir=maybe", "", 0, true},
		{"sst-idle-timeout=-1", "", 0, true},
		{"sst-idle-timeout=5m", "", 0, true},
		{"sst-idle-timeout=1.5", "", 0, true},
	} {
		c := loadSST(t, tt.cnf, tt.bad, joinerArgv...)
		if c == nil {
			continue
		}
		if c.KeepDatadir != tt.keep || c.IdleTimeout != tt.idle {
			t.Errorf("%q: keep-datadir %q, sst-idle-timeout %v; want %q, %v", tt.cnf, c.KeepDatadir, c.IdleTimeout, tt.keep, tt.idle)
		}
		out, err := c.Explain()
		if err != nil || !strings.Contains(string(out), `"name": "keep-datadir"`) || !strings.Contains(string(out), `"name": "sst-idle-timeout"`) {
			t.Errorf("explain lacks the new options: %v\n%s", err, out)
		}
	}
}

// TestEncryptNotAMode: the user documentation's encrypt=AES256 is refused
// with what encrypt means here and what to use instead.
func TestEncryptNotAMode(t *testing.T) {
	for _, v := range []string{"AES256", "5", "-1"} {
		_, err := loadCnf(t, "[sst]\nencrypt="+v+"\n", nil, joinerArgv...)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("encrypt=%s: error = %v, want ErrInvalid", v, err)
		}
		for _, w := range []string{`encrypt="` + v + `"`, "encryption mode, 0 to 4", "encrypt=3 or 4 with certificates", "mariadb-backup itself has no backup encryption"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("encrypt=%s: error %q lacks %q", v, err, w)
			}
		}
	}
}

func TestResolvedTransfer(t *testing.T) {
	cnf := "[sst]\nsockopt=,sndbuf=65536,cipher=x\nrlimit=80M\ncompressor=lz4 -z\ndecompressor=lz4 -d\ncpat=.*\\.keep$\n"
	d, err := loadCnf(t, cnf, nil, donorArgv...)
	if err != nil {
		t.Fatal(err)
	}
	if d.Sock.SendBuffer != 65536 || !slices.Equal(d.Sock.Ignored, []string{"cipher=x"}) || d.RateLimit != 80<<20 || d.Codec != "lz4 -z" {
		t.Errorf("donor: sock %+v, rate %d, codec %q", d.Sock, d.RateLimit, d.Codec)
	}
	j, err := loadCnf(t, cnf, nil, "--role", "joiner", "--address", "[::1]:4444", "--datadir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	if j.Sock.Network != "tcp6" || j.RateLimit != 0 || j.Codec != "lz4 -d" || !j.CpatRegexp.MatchString("/d/a.keep") || j.CpatRegexp.MatchString("/d/a.keepx") {
		t.Errorf("joiner: sock %+v, rate %d, codec %q, cpat %v", j.Sock, j.RateLimit, j.Codec, j.CpatRegexp)
	}
	for _, bad := range []struct {
		cnf  string
		argv []string
	}{
		{"[sst]\nsockopt=pf=ipx\n", joinerArgv},
		{"[sst]\nrlimit=fast\n", donorArgv},
		{"[sst]\ncpat=.*[x\n", joinerArgv},
		{"[sst]\ninno-backup-opts='--a\n", donorArgv},
		{"[mariabackup]\ninno-move-opts=\"--a\n", joinerArgv},
	} {
		if _, err := loadCnf(t, bad.cnf, nil, bad.argv...); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error = %v, want ErrInvalid", bad.cnf, err)
		}
	}
	c, err := loadCnf(t, "[sst]\ninno-backup-opts=--a='b c' \"--d\"\n", nil, donorArgv...)
	if err != nil || !slices.Equal(c.InnoBackupOpts, []string{"--a=b c", "--d"}) {
		t.Errorf("inno-backup-opts = %q, %v", c.InnoBackupOpts, err)
	}
}

func TestTransportTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, tt := range []struct {
		cnf     string
		encrypt int
		ca      string
		line    string
	}{
		{"", 0, "", "SSL configuration: CA='', CAPATH='', CERT='', KEY='', MODE='DISABLED', encrypt='0'"},
		{"[mysqld]\nssl-mode=REQUIRED\nssl-ca=/ca.pem\nssl-cert=" + cert + "\nssl-key=" + key, 3, "",
			"SSL configuration: CA='', CAPATH='', CERT='" + cert + "', KEY='" + key + "', MODE='REQUIRED', encrypt='3'"},
		{"[mysqld]\nssl-mode=VERIFY_CA\nssl-ca=/ca.pem\nssl-cert=" + cert + "\nssl-key=" + key, 3, "/ca.pem",
			"SSL configuration: CA='/ca.pem', CAPATH='', CERT='" + cert + "', KEY='" + key + "', MODE='VERIFY_CA', encrypt='3'"},
		{"[mysqld]\nssl-mode=REQUIRED\n", 0, "", "SSL configuration: CA='', CAPATH='', CERT='', KEY='', MODE='REQUIRED', encrypt='0'"},
		{"[sst]\nencrypt=2\ntca=/a.pem\ntcert=/b.pem\n[mysqld]\nssl-ca=/ca.pem", 2, "/a.pem",
			"SSL configuration: CA='/a.pem', CAPATH='', CERT='/b.pem', KEY='', MODE='DISABLED', encrypt='2'"},
	} {
		c, err := loadCnf(t, tt.cnf+"\n", nil, joinerArgv...)
		if err != nil {
			t.Fatal(err)
		}
		ts := c.TLSSetup
		if ts.Encrypt != tt.encrypt || ts.CA != tt.ca || len(ts.Notes) == 0 || ts.Notes[len(ts.Notes)-1] != tt.line {
			t.Errorf("%q: %+v; want encrypt %d, CA %q, last note %q", tt.cnf, ts, tt.encrypt, tt.ca, tt.line)
		}
	}
}

func TestTransferV2Options(t *testing.T) {
	for _, tt := range []struct {
		cnf     string
		v2      bool
		streams int
		bad     bool
	}{
		{"", true, 0, false},
		{"transfer-v2=0\nparallel-streams=4", false, 4, false},
		{"transfer-v2=1\nparallel-streams=AUTO", true, 0, false},
		{"parallel-streams=1", true, 1, false},
		{"parallel-streams=64", true, 64, false},
		{"parallel-streams=0", false, 0, true},
		{"parallel-streams=65", false, 0, true},
		{"parallel-streams=two", false, 0, true},
		{"transfer-v2=maybe", false, 0, true},
	} {
		c := loadSST(t, tt.cnf, tt.bad, donorArgv...)
		if c == nil {
			continue
		}
		if c.TransferV2 != tt.v2 || c.ParallelStreams != tt.streams {
			t.Errorf("%q: transfer-v2 %v, parallel-streams %d; want %v, %d", tt.cnf, c.TransferV2, c.ParallelStreams, tt.v2, tt.streams)
		}
	}
}

// loadSST loads cnf as the [sst] group with argv. For a bad one it checks
// that loading fails with ErrInvalid and returns nil.
func loadSST(t *testing.T, cnf string, bad bool, argv ...string) *Config {
	t.Helper()
	c, err := loadCnf(t, "[sst]\n"+cnf+"\n", nil, argv...)
	if bad {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error = %v, want ErrInvalid", cnf, err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("%q: %v", cnf, err)
	}
	return c
}
