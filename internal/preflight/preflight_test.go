package preflight

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/tlsx/tlsxtest"
)

// node is a fake node for one test: an option file, a datadir, a tmpdir
// and a bin directory with fake mariadb-backup and mariadbd.
type node struct {
	t       *testing.T
	dir     string
	datadir string
	bin     string
	port    int
	mysqld  []string // extra [mysqld] lines
	sst     []string // extra [sst] lines
}

func newNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, dir: dir, datadir: filepath.Join(dir, "data"), bin: filepath.Join(dir, "bin"), port: galeratest.FreePort(t)}
	for _, d := range []string{n.datadir, n.bin, filepath.Join(dir, "tmp")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(n.datadir, "ibdata1"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	n.tool("mariadb-backup", "mariadb-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)")
	n.tool("mariadbd", "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)")
	return n
}

// tool installs a fake program that prints line and exits 0.
func (n *node) tool(name, line string) {
	n.t.Helper()
	script := "#!/bin/sh\necho '" + line + "'\n"
	if err := os.WriteFile(filepath.Join(n.bin, name), []byte(script), 0o755); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) cnf() string {
	n.t.Helper()
	var b strings.Builder
	b.WriteString("[mysqld]\n")
	b.WriteString("datadir=" + n.datadir + "\n")
	b.WriteString("socket=" + filepath.Join(n.dir, "no.sock") + "\n")
	b.WriteString("wsrep_node_address=127.0.0.1:4567\n")
	b.WriteString("wsrep_sst_receive_address=127.0.0.1:" + strconv.Itoa(n.port) + "\n")
	for _, l := range n.mysqld {
		b.WriteString(l + "\n")
	}
	b.WriteString("[sst]\n")
	b.WriteString("tmpdir=" + filepath.Join(n.dir, "tmp") + "\n")
	for _, l := range n.sst {
		b.WriteString(l + "\n")
	}
	f := filepath.Join(n.dir, "my.cnf")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		n.t.Fatal(err)
	}
	return f
}

func (n *node) run(role string) *Report {
	n.t.Helper()
	r, err := Run(n.t.Context(), Params{
		Role:         role,
		DefaultsFile: n.cnf(),
		Search:       []string{},
		Getenv:       func(string) string { return "" },
		Path:         n.bin,
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return r
}

func findings(r *Report) string {
	var lines []string
	for _, f := range r.Findings {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}

// TestGood: a good setup has no findings, and the summary says OK.
func TestGood(t *testing.T) {
	r := newNode(t).run("both")
	if len(r.Findings) != 0 {
		t.Fatalf("findings:\n%s", findings(r))
	}
	if s := r.Summary(); !strings.HasPrefix(s, "check: OK (") {
		t.Errorf("summary = %q, want check: OK (...)", s)
	}
	if len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0], "SST user (none configured") {
		t.Errorf("skipped = %q, want only the SST user", r.Skipped)
	}
}

// TestBroken: each broken setting gives one problem naming it and its fix.
func TestBroken(t *testing.T) {
	year := time.Now().Add(365 * 24 * time.Hour)
	// mismatchedKey sets encrypt=3 with one certificate and another's key.
	mismatchedKey := func(t *testing.T, n *node) {
		a := tlsxtest.NewCert(t, tlsxtest.Options{CN: "a", NotAfter: year}, nil)
		b := tlsxtest.NewCert(t, tlsxtest.Options{CN: "b", NotAfter: year}, nil)
		n.sst = append(n.sst, "encrypt=3",
			"tcert="+tlsxtest.WriteFile(t, n.dir, "a.pem", a.CertPEM()),
			"tkey="+tlsxtest.WriteFile(t, n.dir, "b.key", b.KeyPEM(t)))
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, n *node)
		role  string
		want  []string // in the one problem line
	}{
		{"typo key", func(t *testing.T, n *node) { n.sst = append(n.sst, "keep-datdir=1") }, "both",
			[]string{"unknown [sst] option 'keep-datdir'", "my.cnf:", "did you mean 'keep-datadir'?"}},
		{"typo with underscores", func(t *testing.T, n *node) { n.sst = append(n.sst, "sst_idle_timout=60") }, "both",
			[]string{"unknown [sst] option 'sst_idle_timout'", "did you mean 'sst-idle-timeout'?"}},
		{"unknown key", func(t *testing.T, n *node) { n.sst = append(n.sst, "frobnicate=1") }, "both",
			[]string{"unknown [sst] option 'frobnicate'", "remove it"}},
		{"bad value", func(t *testing.T, n *node) { n.sst = append(n.sst, "encrypt=7") }, "joiner",
			[]string{"joiner settings", `encrypt="7"`, "not 0 to 4; encrypt is the SST transport's encryption mode", "fix: correct that option"}},
		{"bad timeout", func(t *testing.T, n *node) { n.sst = append(n.sst, "sst-idle-timeout=-1") }, "donor",
			[]string{"donor settings", "sst-idle-timeout", "0 or more"}},
		{"streamfmt", func(t *testing.T, n *node) { n.sst = append(n.sst, "streamfmt=tar") }, "both",
			[]string{"streamfmt=tar (from ", "my.cnf:", "is not supported", "fix: use streamfmt=mbstream"}},
		{"transferfmt", func(t *testing.T, n *node) { n.sst = append(n.sst, "transferfmt=ssh") }, "donor",
			[]string{"unknown transferfmt=ssh", "fix: use socat or nc"}},
		{"missing cert", func(t *testing.T, n *node) {
			n.sst = append(n.sst, "encrypt=3", "tcert="+filepath.Join(n.dir, "nope.pem"), "tkey="+filepath.Join(n.dir, "nope.key"))
		}, "joiner", []string{"joiner TLS (encrypt=3)", "nope.pem", "fix: correct the path"}},
		{"no cert for ssl-mode", func(t *testing.T, n *node) { n.sst = append(n.sst, "ssl-mode=REQUIRED") }, "joiner",
			[]string{"ssl-mode=REQUIRED but no certificate", "fix: set tcert and tkey"}},
		{"key mismatch", mismatchedKey, "donor", []string{"donor TLS (encrypt=3)", "do not match", "fix: set tkey (ssl-key) to the private key"}},
		{"key mismatch, both roles", mismatchedKey, "both", []string{"problem: TLS (encrypt=3): match private key"}},
		{"key mismatch, joiner only", func(t *testing.T, n *node) {
			a := tlsxtest.NewCert(t, tlsxtest.Options{CN: "a", NotAfter: year}, nil)
			b := tlsxtest.NewCert(t, tlsxtest.Options{CN: "b", NotAfter: year}, nil)
			n.sst = append(n.sst, "encrypt=3",
				"ssl-cert="+tlsxtest.WriteFile(t, n.dir, "a.pem", a.CertPEM()),
				"ssl-key="+tlsxtest.WriteFile(t, n.dir, "a.key", a.KeyPEM(t)),
				"ssl-server-key="+tlsxtest.WriteFile(t, n.dir, "b.key", b.KeyPEM(t)))
		}, "both", []string{"problem: joiner TLS (encrypt=3): match private key", "b.key"}},
		{"untrusted", func(t *testing.T, n *node) {
			ca := tlsxtest.NewCert(t, tlsxtest.Options{CN: "ca", CA: true, NotAfter: year}, nil)
			other := tlsxtest.NewCert(t, tlsxtest.Options{CN: "other", CA: true, NotAfter: year}, nil)
			leaf := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node", NotAfter: year}, other)
			n.sst = append(n.sst, "encrypt=4",
				"tca="+tlsxtest.WriteFile(t, n.dir, "ca.pem", ca.CertPEM()),
				"tcert="+tlsxtest.WriteFile(t, n.dir, "n.pem", leaf.CertPEM()),
				"tkey="+tlsxtest.WriteFile(t, n.dir, "n.key", leaf.KeyPEM(t)))
		}, "joiner", []string{"joiner TLS (encrypt=4)", "fix: set tca (ssl-ca) to the CA that issued"}},
		{"expired without CA", func(t *testing.T, n *node) {
			leaf := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}, nil)
			n.sst = append(n.sst, "encrypt=3",
				"tcert="+tlsxtest.WriteFile(t, n.dir, "n.pem", leaf.CertPEM()),
				"tkey="+tlsxtest.WriteFile(t, n.dir, "n.key", leaf.KeyPEM(t)))
		}, "joiner", []string{"certificate 'CN=node' expired on", "fix: renew it"}},
		{"occupied port", func(t *testing.T, n *node) {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(n.port))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}, "joiner", []string{"the joiner's SST port " + "%PORT%" + " is not free", "address already in use", "ss -ltnp"}},
		{"journal ready", func(t *testing.T, n *node) {
			sw, err := swap.Begin(t.Context(), swap.Plan{Dirs: []string{n.datadir}, Journal: filepath.Join(n.datadir, "sst_swap.journal")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sw.Rollback() })
		}, "joiner", []string{"interrupted SST swap", "state ready", "undoes the swap and puts the previous datadir back"}},
		{"journal committed", func(t *testing.T, n *node) {
			j := filepath.Join(n.datadir, "sst_swap.journal")
			sw, err := swap.Begin(t.Context(), swap.Plan{Dirs: []string{n.datadir}, Journal: j})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sw.Rollback() })
			setJournalState(t, j, "committed")
		}, "joiner", []string{"state committed", "finishes the swap by deleting the old entries"}},
		{"journal garbage", func(t *testing.T, n *node) {
			if err := os.WriteFile(filepath.Join(n.datadir, "sst_swap.journal"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "joiner", []string{"journal the next SST cannot use", "is not \"wsrep_sst_mariabackup swap journal\"", "will refuse to start"}},
		{"stale marker", func(t *testing.T, n *node) {
			if err := os.WriteFile(filepath.Join(n.datadir, "sst_in_progress"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "joiner", []string{"a stale " + "%DATADIR%" + "/sst_in_progress", "the next SST logs it and replaces the datadir"}},
		{"tmpdir missing", func(t *testing.T, n *node) { n.sst = append(n.sst, "tmpdir="+filepath.Join(n.dir, "gone")) }, "donor",
			[]string{"temporary directory", "gone", "is not writable", "fix: create it"}},
		{"no mariadb-backup", func(t *testing.T, n *node) {
			if err := os.Remove(filepath.Join(n.bin, "mariadb-backup")); err != nil {
				t.Fatal(err)
			}
		}, "both", []string{"mariadb-backup not found in PATH", "fix: install the mariadb-backup package"}},
		{"major version", func(t *testing.T, n *node) {
			n.tool("mariadb-backup", "mariadb-backup based on MariaDB server 10.6.21-MariaDB debian-linux-gnu (x86_64)")
		}, "both", []string{"is version 10.6.21 but the server", "is 10.11.19", "another major version", "(10.11.19)"}},
		{"minor version", func(t *testing.T, n *node) {
			n.tool("mariadb-backup", "mariadb-backup based on MariaDB server 10.11.18-MariaDB debian-linux-gnu (x86_64)")
		}, "both", []string{"is version 10.11.18 but the server", "partial upgrade"}},
		{"prepare-tool missing", func(t *testing.T, n *node) { n.sst = append(n.sst, "prepare-tool=mariabackup-10.5") }, "joiner",
			[]string{"prepare-tool=mariabackup-10.5: not found"}},
		{"option file missing", func(t *testing.T, n *node) {}, "both", []string{"option files:", "fix: correct or create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			tt.setup(t, n)
			var r *Report
			if tt.name == "option file missing" {
				var err error
				r, err = Run(t.Context(), Params{DefaultsFile: filepath.Join(n.dir, "missing.cnf"), Search: []string{}, Path: n.bin})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				r = n.run(tt.role)
			}
			if r.Problems() != 1 || len(r.Findings) != 1 {
				t.Fatalf("got %d findings, %d problems, want 1 problem:\n%s", len(r.Findings), r.Problems(), findings(r))
			}
			line := r.Findings[0].String()
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "%PORT%", strconv.Itoa(n.port))
				w = strings.ReplaceAll(w, "%DATADIR%", n.datadir)
				if !strings.Contains(line, w) {
					t.Errorf("problem = %q, want it to contain %q", line, w)
				}
			}
			if !strings.HasPrefix(r.Summary(), "check: 1 problem (") {
				t.Errorf("summary = %q, want check: 1 problem (...)", r.Summary())
			}
			if strings.Contains(line, "\n") {
				t.Errorf("problem spans lines: %q", line)
			}
		})
	}
}

// setJournalState rewrites the state of a real swap journal, as a crash
// after Commit's journal write leaves it.
func setJournalState(t *testing.T, path, state string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	j["state"] = state
	if b, err = json.Marshal(j); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExpiringCertWarns: a certificate expiring within 30 days is a
// warning, not a problem; one expiring later is nothing.
func TestExpiringCertWarns(t *testing.T) {
	for _, tt := range []struct {
		name string
		left time.Duration
		want int // warnings
	}{
		{"10 days", 10 * 24 * time.Hour, 1},
		{"40 days", 40 * 24 * time.Hour, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			ca := tlsxtest.NewCert(t, tlsxtest.Options{CN: "ca", CA: true, NotAfter: time.Now().Add(365 * 24 * time.Hour)}, nil)
			leaf := tlsxtest.NewCert(t, tlsxtest.Options{CN: "node", NotAfter: time.Now().Add(tt.left)}, ca)
			n.sst = append(n.sst, "encrypt=4",
				"tca="+tlsxtest.WriteFile(t, n.dir, "ca.pem", ca.CertPEM()),
				"tcert="+tlsxtest.WriteFile(t, n.dir, "n.pem", leaf.CertPEM()),
				"tkey="+tlsxtest.WriteFile(t, n.dir, "n.key", leaf.KeyPEM(t)))
			r := n.run("both")
			if r.Problems() != 0 || len(r.Findings) != tt.want {
				t.Fatalf("got %d findings (%d problems), want %d warnings:\n%s", len(r.Findings), r.Problems(), tt.want, findings(r))
			}
			if tt.want == 0 {
				return
			}
			line := r.Findings[0].String()
			if !regexp.MustCompile(`^warning: .*n\.pem: certificate 'CN=node' expires on \d{4}-\d\d-\d\d, in (9|10) days; fix: renew it`).MatchString(line) {
				t.Errorf("warning = %q", line)
			}
			if !strings.Contains(r.Summary(), "check: OK, 1 warning (") {
				t.Errorf("summary = %q", r.Summary())
			}
		})
	}
}

// TestRoleSelectsChecks: the port and datadir checks are the joiner's, the
// tmpdir the donor's.
func TestRoleSelectsChecks(t *testing.T) {
	n := newNode(t)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(n.port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n.sst = append(n.sst, "tmpdir="+filepath.Join(n.dir, "gone"))
	if got := findings(n.run("donor")); strings.Contains(got, "port") || !strings.Contains(got, "gone") {
		t.Errorf("donor findings:\n%s\nwant the tmpdir, not the port", got)
	}
	if got := findings(n.run("joiner")); !strings.Contains(got, "port") || strings.Contains(got, "gone") {
		t.Errorf("joiner findings:\n%s\nwant the port, not the tmpdir", got)
	}
	if _, err := Run(t.Context(), Params{Role: "arbitrator"}); err == nil {
		t.Error("role arbitrator: no error")
	}
}

// TestSecretsRedacted: a password in a bad value never reaches a finding,
// with or without a user before it.
func TestSecretsRedacted(t *testing.T) {
	for name, auth := range map[string]string{"user and password": "sst:s3cretpw", "password only": "s3cretpw"} {
		t.Run(name, func(t *testing.T) {
			n := newNode(t)
			n.mysqld = append(n.mysqld, "wsrep_sst_auth="+auth)
			n.sst = append(n.sst, "sst-initial-timeout=s3cretpw")
			r := n.run("donor")
			got := findings(r) + r.Summary()
			if strings.Contains(got, "s3cretpw") {
				t.Errorf("password printed:\n%s", got)
			}
			if !strings.Contains(got, "sst-initial-timeout") {
				t.Errorf("findings:\n%s\nwant the bad sst-initial-timeout", got)
			}
		})
	}
}

func TestMissingPrivileges(t *testing.T) {
	tests := []struct {
		name   string
		grants string
		want   string
	}{
		{"all five", "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR ON *.* TO `sst`@`localhost` IDENTIFIED BY PASSWORD '*X'", ""},
		{"aliases", "GRANT RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO `sst`@`localhost`", ""},
		{"all privileges", "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION", ""},
		{"no replica monitor", "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `sst`@`localhost`", "REPLICA MONITOR"},
		{"only on a schema", "GRANT USAGE ON *.* TO `sst`@`%`\nGRANT ALL PRIVILEGES ON `db`.* TO `sst`@`%`", "RELOAD PROCESS LOCK TABLES BINLOG MONITOR REPLICA MONITOR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			missing, grantee := missingPrivileges(tt.grants)
			if got := strings.Join(missing, " "); got != tt.want {
				t.Errorf("missing = %q, want %q", got, tt.want)
			}
			if grantee == "" {
				t.Error("no grantee")
			}
		})
	}
}

func TestNearest(t *testing.T) {
	names := []string{"keep-datadir", "sst-idle-timeout", "tca", "tcert", "tkey"}
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"keep-datdir", "keep-datadir", true},
		{"tcerts", "tcert", true},
		{"sst-idle-timeouts", "sst-idle-timeout", true},
		{"kepdatadirs", "", false}, // 3 edits
		{"compressorz", "", false},
	}
	for _, tt := range tests {
		got, ok := nearest(tt.key, names)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("nearest(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

// TestSpace: keeping the datadir needs room for a second copy: a problem
// with keep-datadir=1, a warning with auto, nothing with 0 or enough room.
func TestSpace(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name      string
		free, old int64
		mode      string
		want      string
	}{
		{"fits", 2 * gib, gib, "1", ""},
		{"empty datadir", 0, 0, "1", ""},
		{"short keep=1", gib, 2 * gib, "1", "problem: /data: 1.0 GiB free, but keeping the previous data (2.0 GiB) until the new data is prepared needs about 2.2 GiB free (keep-datadir=1): the next SST will refuse to start; fix: free space"},
		{"short auto", gib, 2 * gib, "auto", "warning: /data: 1.0 GiB free, but keeping the previous data (2.0 GiB) until the new data is prepared needs about 2.2 GiB free: the next SST cleans the datadir first"},
		{"short keep=0", gib, 2 * gib, "0", ""},
		{"margin", gib + 10<<20, gib, "1", "needs about 1.1 GiB free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &checker{r: &Report{}}
			c.spaceFor("/data", tt.free, tt.old, tt.mode)
			got := findings(c.r)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBadValueKeepsOtherChecks: a value that stops the settings from
// loading does not hide the checks that do not need them.
func TestBadValueKeepsOtherChecks(t *testing.T) {
	n := newNode(t)
	n.sst = append(n.sst, "keep-datadir=maybe", "tmpdir="+filepath.Join(n.dir, "gone"))
	if err := os.WriteFile(filepath.Join(n.datadir, "sst_in_progress"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := n.run("both")
	got := findings(r)
	for _, w := range []string{"problem: settings: option keep-datadir=\"maybe\"", "sst_in_progress", "gone"} {
		if !strings.Contains(got, w) {
			t.Errorf("findings:\n%s\nwant %q", got, w)
		}
	}
	if strings.Contains(got, "config: invalid value") {
		t.Errorf("findings:\n%s\nwant no sentinel text", got)
	}
	if r.Problems() != 3 {
		t.Errorf("%d problems, want 3:\n%s", r.Problems(), got)
	}
	if s := strings.Join(r.Skipped, "; "); !strings.Contains(s, "joiner certificates and disk space (the settings above do not load)") {
		t.Errorf("skipped = %q", s)
	}
}

// TestSockoptIgnoredWarns: socat options the built-in pipe cannot apply
// are a warning, as the SST logs them.
func TestSockoptIgnoredWarns(t *testing.T) {
	n := newNode(t)
	n.sst = append(n.sst, "sockopt=,nodelay,ipv6only=1")
	r := n.run("both")
	if r.Problems() != 0 || len(r.Findings) != 1 {
		t.Fatalf("findings:\n%s\nwant one warning", findings(r))
	}
	if got := r.Findings[0].String(); !strings.HasPrefix(got, "warning: sockopt (from ") || !strings.Contains(got, ": ipv6only=1 not applicable") {
		t.Errorf("warning = %q", got)
	}
}

// TestSSTUserFakeServer: with something listening on the socket, the
// client runs as the SST user with the password in MYSQL_PWD only, and
// its SHOW GRANTS decide; with nothing there the check is skipped.
func TestSSTUserFakeServer(t *testing.T) {
	const password = "pw-Secret-42"
	tests := []struct {
		name   string
		grants string
		exit   int
		want   string // the one problem, "" for none
	}{
		{"all", "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `sst`@`localhost` IDENTIFIED BY PASSWORD '*AB12'", 0, ""},
		{"lacks two", "GRANT RELOAD, PROCESS, LOCK TABLES ON *.* TO `sst`@`localhost` IDENTIFIED BY PASSWORD '*AB12'", 0,
			"problem: the SST user 'sst' lacks BINLOG MONITOR, REPLICA MONITOR; fix: GRANT BINLOG MONITOR, REPLICA MONITOR ON *.* TO `sst`@`localhost`"},
		{"denied", "ERROR 1045 (28000): Access denied for user 'sst'@'localhost' (using password: YES)", 1,
			"problem: the SST user 'sst' (from [mysqld] wsrep_sst_auth) cannot log in through %SOCK%: ERROR 1045 (28000): Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			sock := filepath.Join(n.dir, "no.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			seen := filepath.Join(n.dir, "seen")
			script := "#!/bin/sh\n{ echo \"argv: $*\"; echo \"pwd: $MYSQL_PWD\"; } > " + seen + "\necho \"" + strings.ReplaceAll(tt.grants, "`", "\\`") + "\"\nexit " + strconv.Itoa(tt.exit) + "\n"
			if err := os.WriteFile(filepath.Join(n.bin, "mariadb"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			n.mysqld = append(n.mysqld, "wsrep_sst_auth=sst:"+password)
			r := n.run("donor")
			got := findings(r)
			want := strings.ReplaceAll(tt.want, "%SOCK%", sock)
			if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
				t.Errorf("findings = %q\nwant       %q", got, want)
			}
			if strings.Contains(got+r.Summary(), password) {
				t.Error("password in the output")
			}
			b, err := os.ReadFile(seen)
			if err != nil {
				t.Fatal(err)
			}
			argv, env, _ := strings.Cut(string(b), "\n")
			if strings.Contains(argv, password) {
				t.Errorf("password in the client's argv: %s", argv)
			}
			if !strings.Contains(argv, "--defaults-file=") || !strings.Contains(argv, "--socket="+sock+" --user=sst") || !strings.Contains(argv, "--execute=SHOW GRANTS") {
				t.Errorf("client argv = %s", argv)
			}
			if env != "pwd: "+password+"\n" {
				t.Errorf("client MYSQL_PWD line = %q", env)
			}
		})
	}
	t.Run("mysqld down", func(t *testing.T) {
		n := newNode(t)
		n.mysqld = append(n.mysqld, "wsrep_sst_auth=sst:"+password)
		r := n.run("donor")
		if len(r.Findings) != 0 || len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0], "mysqld is not running") {
			t.Errorf("findings %q, skipped %q; want only the SST user skipped", findings(r), r.Skipped)
		}
	})
}

// TestUnmovable: run as root on a datadir owned by another user (mysqld's
// on a packaged node), check judges the swap with that user's permissions:
// a root-owned directory it may not move is a warning with keep-datadir=auto
// and a problem with 1; lost+found is left alone, so never reported.
func TestUnmovable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the datadir")
	}
	for _, tt := range []struct {
		keep, want string
		problems   int
	}{
		{"auto", "warning: the joiner's swap as user uid 4242 cannot move " + "%s/backup aside: a directory user uid 4242 may not rename into .sst-old", 0},
		{"1", "problem: the joiner's swap as user uid 4242 cannot move " + "%s/backup aside", 1},
		{"0", "", 0},
	} {
		t.Run(tt.keep, func(t *testing.T) {
			n := newNode(t)
			n.sst = append(n.sst, "keep-datadir="+tt.keep)
			for _, d := range []string{"backup", "lost+found"} {
				if err := os.Mkdir(filepath.Join(n.datadir, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chown(n.datadir, 4242, 4242); err != nil {
				t.Fatal(err)
			}
			r := n.run("joiner")
			got := findings(r)
			if tt.want == "" {
				if strings.Contains(got, "swap") {
					t.Errorf("findings:\n%s\nwant no swap finding with keep-datadir=0", got)
				}
				return
			}
			if want := fmt.Sprintf(tt.want, n.datadir); !strings.Contains(got, want) || !strings.Contains(got, "fix: chown it") {
				t.Errorf("findings:\n%s\nwant %q and its fix", got, want)
			}
			if strings.Contains(got, "lost+found") {
				t.Errorf("findings:\n%s\nwant nothing about lost+found", got)
			}
			if r.Problems() != tt.problems {
				t.Errorf("%d problems, want %d:\n%s", r.Problems(), tt.problems, got)
			}
		})
	}
}

// TestExposedJoinerWarns: encrypt=0, donor-auth=off and a joiner listener
// that is not loopback-only give one warning naming the risk and the fix;
// each of the three alone does not.
func TestExposedJoinerWarns(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mysqld []string
		sst    []string
		warn   string // "" for none
	}{
		{"exposed", []string{"wsrep_sst_receive_address=0.0.0.0:%d"}, []string{"donor-auth=off"}, "listens on 0.0.0.0, not a loopback address"},
		{"exposed, address from the node", []string{"wsrep_sst_receive_address=AUTO", "wsrep_node_address=192.0.2.7"}, []string{"donor-auth=off"}, "listens on 192.0.2.7"},
		{"loopback", nil, []string{"donor-auth=off"}, ""},
		{"loopback v6", []string{"wsrep_sst_receive_address=[::1]:%d"}, []string{"donor-auth=off"}, ""},
		{"donor-auth default", []string{"wsrep_sst_receive_address=0.0.0.0:%d"}, nil, ""},
		{"donor-auth required", []string{"wsrep_sst_receive_address=0.0.0.0:%d"}, []string{"donor-auth=required"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			for _, l := range tt.mysqld {
				if strings.Contains(l, "%d") {
					l = fmt.Sprintf(l, n.port)
				}
				n.mysqld = append(n.mysqld, l)
			}
			n.sst = append(n.sst, tt.sst...)
			r := n.run("joiner")
			var got []string
			for _, f := range r.Findings {
				if strings.Contains(f.What, "feed the joiner a datadir") {
					got = append(got, f.String())
				}
			}
			if tt.warn == "" {
				if len(got) != 0 {
					t.Fatalf("warnings %q, want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], "warning: encrypt=0, donor-auth=off (from ") ||
				!strings.Contains(got[0], tt.warn) || !strings.Contains(got[0], "; fix: set [sst] donor-auth=auto (the default)") ||
				!strings.Contains(got[0], "TLS with a CA") {
				t.Fatalf("warnings %q, want one naming %q and the fix", got, tt.warn)
			}
		})
	}
}
