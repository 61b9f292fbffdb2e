package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// explainOut is the part of explain's JSON the parity test compares.
type explainOut struct {
	Role    string `json:"role"`
	Address struct {
		Host   string `json:"host"`
		Port   string `json:"port"`
		Module string `json:"module"`
		LSN    string `json:"lsn"`
		SSTVer string `json:"sst_ver"`
		Built  string `json:"rebuilt"`
	} `json:"address"`
	Datadir    string            `json:"datadir"`
	Binlog     map[string]string `json:"binlog"`
	MysqldArgs string            `json:"mysqld_args"`
	User       string            `json:"user"`
	Password   string            `json:"password"`
	GTID       string            `json:"gtid"`
	Parent     int               `json:"parent"`
}

// readGolden parses a golden file of the stock wsrep_sst_common variables
// (internal/config/testdata/argv, produced by dump_common.sh).
func readGolden(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "config", "testdata", "argv", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		m[k] = v
	}
	return m
}

// TestExplainMatchesStockScript runs explain on the real argv lines of
// SPEC §A.2 and compares the resolved values with what the stock
// wsrep_sst_common resolves for the same argv (golden files checked
// against the live script by internal/config's parity test).
func TestExplainMatchesStockScript(t *testing.T) {
	tests := []struct {
		golden string
		argv   string
	}{
		{"joiner_1011_operator", "--role joiner --address 10.233.91.138 --datadir /var/lib/mysql/ --parent 1 --progress 0"},
		{"donor_114", "--role donor --address 10.207.0.137:4444/xtrabackup_sst//1 --local-port 3306 --socket /run/mysqld/mysqld.sock --progress 0 --datadir /var/lib/mysql/ --gtid 00c50d3a-1234-11ee-be56-0242ac120002:2 --gtid-domain-id 0"},
		{"joiner_105_quoted_parent", "--role joiner --address 10.0.0.1:4444 --datadir /var/lib/mysql/ --defaults-file /etc/mysql/my.cnf --parent 1234"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			want := readGolden(t, tt.golden)
			argv := strings.Fields(tt.argv)
			if want["DEFAULT"] != "" {
				// Keep the test hermetic: an empty defaults file.
				empty := filepath.Join(t.TempDir(), "my.cnf")
				os.WriteFile(empty, nil, 0o644)
				for i, a := range argv {
					if a == "/etc/mysql/my.cnf" {
						argv[i] = empty
					}
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup", "explain"}, argv...), nil, &stdout, &stderr, []string{})
			if code != 0 {
				t.Fatalf("explain exit %d: %s", code, stderr.String())
			}
			var got explainOut
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("explain output is not JSON: %v\n%s", err, stdout.String())
			}
			checks := []struct{ name, got, want string }{
				{"role", got.Role, want["ROLE"]},
				{"datadir", got.Datadir, want["DATA"]},
				{"host", got.Address.Host, want["HOST_UNESCAPED"]},
				{"port", got.Address.Port, want["PORT"]},
				{"address", got.Address.Built, want["ADDR"]},
				{"module", got.Address.Module, want["MODULE"]},
				{"lsn", got.Address.LSN, want["LSN"]},
				{"sst_ver", got.Address.SSTVer, want["SST_VER"]},
				{"binlog", got.Binlog["log-bin"], want["BINLOG"]},
				{"mysqld-args", got.MysqldArgs, want["MYSQLD"]},
				{"user", got.User, want["USER"]},
				{"gtid", got.GTID, want["GTID"]},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, stock script resolves %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

var errorLine = regexp.MustCompile(`^WSREP_SST: \[ERROR\] .+ \(\d{8} \d{2}:\d{2}:\d{2}\.\d{3}\)$`)

// TestMalformedInput: bad input gives exactly one ERROR line, the
// documented exit code, nothing on stdout, and no panic.
func TestMalformedInput(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.cnf")
	os.WriteFile(loop, []byte("[sst]\n!include "+loop+"\n"), 0o644)
	big := strings.Repeat("x", 70<<10)
	fifo := filepath.Join(dir, "fifo.cnf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	idle := filepath.Join(dir, "idle.cnf")
	os.WriteFile(idle, []byte("[sst]\nsst-idle-timeout=-5\n"), 0o644)
	tests := []struct {
		name string
		argv []string
		code int
		msg  string
	}{
		{"bad role", []string{"--role", "observer", "--datadir", dir}, 22, "Unrecognized role: 'observer'"},
		{"port conflict", []string{"--role", "joiner", "--address", "10.0.0.1:4444", "--port", "5555", "--datadir", dir}, 2, "differs from port in --address"},
		{"missing defaults file", []string{"--role", "joiner", "--datadir", dir, "--defaults-file", filepath.Join(dir, "nope.cnf")}, 2, "nope.cnf"},
		{"include loop", []string{"--role", "joiner", "--datadir", dir, "--defaults-file", loop}, 2, "loop.cnf"},
		{"oversized value", []string{"--role", "joiner", "--datadir", big}, 22, "more than 65536"},
		{"no datadir", []string{"--role", "joiner", "--address", "127.0.0.1:1"}, 2, "--datadir"},
		{"unknown subcommand", []string{"frobnicate"}, 22, "unknown subcommand"},
		{"bad number", []string{"--role", "joiner", "--datadir", dir, "--parent", "abc"}, 22, "abc"},
		{"empty address", []string{"--role", "joiner", "--address", "", "--datadir", dir}, 22, "names no host"},
		{"bad port", []string{"--role", "joiner", "--address", "10.0.0.1:99999", "--datadir", dir}, 22, "'99999'"},
		{"fifo defaults file", []string{"--role", "joiner", "--address", "10.0.0.1", "--datadir", dir, "--defaults-file", fifo}, 2, "fifo.cnf is a named pipe"},
		{"idle timeout", []string{"--role", "joiner", "--address", "10.0.0.1", "--datadir", dir, "--defaults-file", idle}, 22, "sst-idle-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"wsrep_sst_mariabackup"}, tt.argv...), nil, &stdout, &stderr, []string{})
			if code != tt.code {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing (stdout belongs to mysqld)", stdout.String())
			}
			var errs []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.Contains(l, "[ERROR]") {
					errs = append(errs, l)
				}
			}
			if len(errs) != 1 || !errorLine.MatchString(errs[0]) || !strings.Contains(errs[0], tt.msg) {
				t.Errorf("want exactly one WSREP_SST: [ERROR] line naming %q, got:\n%s", tt.msg, stderr.String())
			}
		})
	}
}

func TestPasswordsNeverPrinted(t *testing.T) {
	t.Setenv("WSREP_SST_OPT_AUTH", "sstuser:s3cretpw")
	var stdout, stderr bytes.Buffer
	code := run([]string{"wsrep_sst_mariabackup", "explain", "--role", "donor", "--datadir", t.TempDir(),
		"--address", "127.0.0.1:4444/xtrabackup_sst//1", "--mysqld-args", "--wsrep_sst_auth=sstuser:s3cretpw", "--password=s3cretpw"},
		nil, &stdout, &stderr, []string{})
	if code != 0 {
		t.Fatalf("explain exit %d: %s", code, stderr.String())
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, "s3cretpw") {
		t.Errorf("password printed:\n%s", out)
	}
	if !strings.Contains(stdout.String(), `"user": "sstuser"`) {
		t.Errorf("explain lacks the user split from WSREP_SST_OPT_AUTH:\n%s", stdout.String())
	}
}

// TestOptionFileWarningsLogged: option-file warnings used to be collected
// and dropped; they are logged as WARNING lines.
func TestOptionFileWarningsLogged(t *testing.T) {
	ww := filepath.Join(t.TempDir(), "my.cnf")
	os.WriteFile(ww, []byte("[sst]\n"), 0o644)
	os.Chmod(ww, 0o666)
	var stdout, stderr bytes.Buffer
	code := run([]string{"wsrep_sst_mariabackup", "explain", "--role", "joiner", "--address", "10.0.0.1", "--datadir", t.TempDir()},
		nil, &stdout, &stderr, []string{ww})
	if code != 0 {
		t.Fatalf("explain exit %d: %s", code, stderr.String())
	}
	if want := "WSREP_SST: [WARNING] World-writable config file '" + ww + "' is ignored"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}
