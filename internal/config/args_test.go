package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// stockCommon is the script whose argument loop args.go mirrors.
const stockCommon = "/usr/bin/wsrep_sst_common"

// argvCase is one command line fed to both the stock script and ParseArgs.
// deviates is set for the few inputs where ParseArgs errors on purpose
// while the script carries on (see ParseArgs); the golden file still
// records what the script did.
type argvCase struct {
	name     string
	argv     []string
	env      map[string]string
	deviates error
}

func words(s string) []string { return strings.Fields(s) }

var argvCases = []argvCase{
	// SPEC §A.2, real lines (quotes removed by mysqld's sh -c).
	{name: "joiner_106_bitnami", argv: append(words(
		"--role joiner --address 10.42.42.148 --datadir /bitnami/mariadb/data/ --defaults-file /opt/bitnami/mariadb/conf/my.cnf --parent 1 --progress 0 --binlog mysql-bin --mysqld-args"),
		words("--defaults-file=/opt/bitnami/mariadb/conf/my.cnf --basedir=/opt/bitnami/mariadb --datadir=/bitnami/mariadb/data --socket=/opt/bitnami/mariadb/tmp/mysql.sock --pid-file=/opt/bitnami/mariadb/tmp/mysqld.pid --wsrep_sst_auth=root:secret")...)},
	{name: "joiner_1011_operator", argv: words("--role joiner --address 10.233.91.138 --datadir /var/lib/mysql/ --parent 1 --progress 0")},
	{name: "joiner_114_port_binlog_index", argv: words("--role joiner --address 10.0.0.5:4444 --datadir /var/lib/mysql/ --defaults-file /etc/mysql/my.cnf --defaults-group-suffix .galera --parent 4242 --progress 1 --binlog /var/log/mysql/mariadb-bin --binlog-index /var/log/mysql/mariadb-bin.index")},
	{name: "donor_114", argv: words("--role donor --address 10.207.0.137:4444/xtrabackup_sst//1 --local-port 3306 --socket /run/mysqld/mysqld.sock --progress 0 --datadir /var/lib/mysql/ --gtid 00c50d3a-1234-11ee-be56-0242ac120002:2 --gtid-domain-id 0")},
	{name: "donor_bypass_mysqld_args", argv: words("--role donor --address 10.0.0.7:4444/xtrabackup_sst/4d2c6c4e-1234-11ee-be56-0242ac120002:17/1 --local-port 3306 --socket /run/mysqld/mysqld.sock --progress 0 --datadir /var/lib/mysql/ --defaults-file /etc/my.cnf --gtid 4d2c6c4e-1234-11ee-be56-0242ac120002:17 --gtid-domain-id 1 --binlog mysql-bin --binlog-index mysql-bin.index --bypass --mysqld-args --user=mysql --port=3306 --wsrep-new-cluster --log-bin=other")},
	{name: "joiner_105_quoted_parent", argv: words("--role joiner --address 10.0.0.1:4444 --datadir /var/lib/mysql/ --defaults-file /etc/mysql/my.cnf --parent 1234")},
	{name: "donor_105_quoted", argv: words("--role donor --address 10.0.0.2:4444/xtrabackup_sst//1 --socket /var/run/mysqld/mysqld.sock --local-port 3306 --datadir /var/lib/mysql/ --defaults-file /etc/mysql/my.cnf --gtid 5f0b5c7e-1234-11ee-be56-0242ac120002:5 --gtid-domain-id 0")},
	{name: "stray_empty_args", argv: []string{"", "--role", "joiner", "", "--address", "10.0.0.3", "", "--datadir", "/var/lib/mysql/", "", "--parent", "7", ""}},

	// Addresses.
	{name: "ipv6_full", argv: words("--role joiner --address [::1]:4444/xtrabackup_sst//1 --datadir /d")},
	{name: "ipv6_host_only", argv: words("--role joiner --address [fe80::1%eth0] --datadir /d")},
	{name: "ipv6_no_bracket_end", argv: words("--role joiner --address [::1 --datadir /d")},
	{name: "host_only", argv: words("--role joiner --address db1.example.com --datadir /d")},
	{name: "host_port", argv: words("--role joiner --address 192.168.1.10:4567 --datadir /d")},
	{name: "host_path_no_port", argv: words("--role joiner --address 10.0.0.1/xtrabackup_sst//1 --datadir /d")},
	{name: "module_only", argv: words("--role joiner --address h:4444/mod --datadir /d")},
	{name: "module_lsn", argv: words("--role joiner --address h:4444/mod/123 --datadir /d")},
	{name: "module_lsn_ver_extra", argv: words("--role joiner --address h:4444/mod/123/2/x --datadir /d")},
	{name: "address_spaces", argv: []string{"--role", "joiner", "--address", " 10.0.0.1 : 4444 /m /1 ", "--datadir", "/d"}},
	{name: "address_empty", argv: []string{"--role", "joiner", "--address", "", "--datadir", "/d"}},
	{name: "address_twice", argv: words("--role joiner --address a:1/m --address b:2/n --datadir /d")},
	{name: "user_at_address", argv: words("--role donor --address CN:secret@10.0.0.1:4444/xtrabackup_sst//1 --datadir /d")},
	{name: "host_option", argv: words("--role joiner --host [::2] --port 5555 --datadir /d")},
	{name: "host_then_address", argv: words("--role joiner --host h1 --address h2:4444/m --datadir /d")},

	// Ports.
	{name: "port_conflict", argv: words("--role joiner --address 1.2.3.4:4444 --port 5555 --datadir /d")},
	{name: "port_match", argv: words("--role joiner --address 1.2.3.4:4444 --port 4444 --datadir /d")},
	{name: "port_only", argv: words("--role joiner --address 1.2.3.4 --port 4567 --datadir /d")},
	{name: "port_octal_conflict", argv: words("--role joiner --address 1.2.3.4:010 --port 010 --datadir /d")},
	{name: "port_hex", argv: words("--role joiner --address 1.2.3.4 --port 0x115c --datadir /d")},
	{name: "port_at_end", argv: words("--role joiner --address 1.2.3.4 --datadir /d --port")},
	{name: "port_twice", argv: words("--role joiner --port 1 --port 2 --datadir /d")},
	{name: "arith_forms", argv: []string{"--role", "donor", "--parent", " 0x10 ", "--progress", "", "--local-port", "2#101", "--datadir", "/d"}},
	{name: "arith_quoted_literal", argv: []string{"--role", "joiner", "--parent", "'1'", "--datadir", "/d"}, deviates: ErrInvalid},
	{name: "arith_name", argv: words("--role joiner --port abc --datadir /d"), deviates: ErrInvalid},
	{name: "arith_expr", argv: words("--role joiner --progress 1+1 --datadir /d"), deviates: ErrInvalid},
	{name: "arith_bad_octal", argv: words("--role joiner --local-port 09 --datadir /d"), deviates: ErrInvalid},

	// Roles and repeated or malformed options.
	{name: "role_missing", argv: words("--address 1.2.3.4 --datadir /d")},
	{name: "role_bad", argv: words("--role master --datadir /d")},
	{name: "role_empty", argv: []string{"--role", "", "--datadir", "/d"}},
	{name: "role_spaces", argv: []string{"--role", " joiner\t", "--datadir", "/d"}},
	{name: "role_twice", argv: words("--role joiner --role donor --datadir /d")},
	{name: "equals_form_ignored", argv: words("--role=joiner --datadir=/x --datadir /d --port=1")},
	{name: "option_at_end", argv: words("--role joiner --datadir /d --gtid")},
	{name: "value_is_option", argv: words("--datadir --role joiner")},
	{name: "datadir_twice", argv: words("--datadir /a/ --datadir /b/")},
	{name: "datadir_missing", argv: words("--role joiner --address 1.2.3.4")},
	{name: "datadir_slashes", argv: []string{"--role", "joiner", "--datadir", "///", "--aria-log-dir-path", " / ", "--innodb-undo-directory", " /u// "}},
	{name: "datadir_echo_option", argv: []string{"--role", "joiner", "--datadir", " -n/ ", "--socket", "-e", "--innodb-data-home-dir", "-neE"}},
	{name: "null_user", argv: []string{"--role", "donor", "--datadir", "/d", "--user", "(null)", "--password", "(null)"}},
	{name: "user_password", argv: []string{"--role", "donor", "--datadir", "/d", "--user", " root ", "--password", "p w", "--user", "sst"}},
	{name: "env_user", argv: words("--role donor --datadir /d"), env: map[string]string{"WSREP_SST_OPT_USER": "envuser", "WSREP_SST_OPT_PSWD": "envpw"}},
	{name: "env_dirs", argv: words("--role joiner --datadir /d --innodb-undo-directory /undo-arg/ --mysqld-args --innodb-data-home-dir=/ib-args --innodb_log_group_home_dir=/logs-args"),
		env: map[string]string{"INNODB_DATA_HOME_DIR": " /ib-env/ ", "INNODB_LOG_GROUP_HOME": "", "INNODB_UNDO_DIR": "/undo-env"}},
	{name: "defaults", argv: words("--role joiner --datadir /d --defaults-file /etc/my.cnf --defaults-extra-file /etc/extra.cnf --defaults-group-suffix .2 --defaults-file /other.cnf")},
	{name: "explicit_dirs", argv: words("--role joiner --datadir /d --aria-log-dir-path /aria/ --innodb-data-home-dir /ib/ --innodb-log-group-home-dir /logs/ --innodb-undo-directory /undo/ --innodb-buffer-pool-filename ib_pool --innodb-buffer-pool-size 2G --log-basename node1 --log-bin-index idx")},

	// --mysqld-args.
	{name: "mysqld_short", argv: append(words("--role joiner --address h --mysqld-args -h /data -u root -P 3306 -v -sa -hdata2"), "-x", "a b", "-yval", "-?")},
	{name: "mysqld_short_datadir_given", argv: words("--role joiner --datadir /d --mysqld-args -h /data -hdata2 -vh /x")},
	{name: "mysqld_short_cluster", argv: words("--role joiner --datadir /d --mysqld-args -vx foo -vp pw -ab - -! -( -) -=")},
	{name: "mysqld_short_next_dash", argv: words("--role joiner --datadir /d --mysqld-args -x -v -u -P -z")},
	{name: "mysqld_short_empty_value", argv: []string{"--role", "joiner", "--datadir", "/d", "--mysqld-args", "-x", "", "-v"}},
	{name: "mysqld_dashdash_tail", argv: append(words("--role joiner --datadir /d --mysqld-args -v --binlog-format=ROW --"), "pos 1", "--log-bin=x", "-h")},
	{name: "mysqld_short_dashdash_value", argv: words("--role joiner --datadir /d --mysqld-args -v -x -- val rest --more")},
	{name: "mysqld_short_dashdash_end", argv: words("--role joiner --datadir /d --mysqld-args -x --")},
	{name: "mysqld_h_dashdash", argv: words("--role joiner --mysqld-args -h -- /data tail")},
	{name: "mysqld_u_dashdash", argv: words("--role joiner --datadir /d --mysqld-args -vu -- root tail")},
	{name: "mysqld_empty_word", argv: []string{"--role", "joiner", "--datadir", "/d", "--mysqld-args", "--a", "", "--b", "c d"}},
	{name: "mysqld_long", argv: words("--role joiner --datadir /d --mysqld-args --loose-innodb_buffer_pool_size=1G --log-bin --log-basename=n --datadir=/x/ --innodb-force-recovery=1 --wsrep_sst_auth=u:p --port=3306 --user=mysql --socket=/s --defaults-extra-file=/e --defaults_group_suffix=.1 --innodb_data_home_dir=/ib/ --aria-log-dir-path=/aria/ --innodb-log-group-home-dir=/logs --innodb-undo-directory=/undo/ --innodb-buffer-pool-filename=ib_pool --log-bin-index=idx --loose-wsrep-sst-auth=x:y --wsrep_provider_options=a=b;c=d")},
	{name: "mysqld_log_bin_value", argv: words("--role joiner --datadir /d --mysqld-args --log_bin=x --log-basename=n --log_bin_index=x.idx")},
	{name: "mysqld_log_bin_bare_basename", argv: words("--role joiner --datadir /d --mysqld-args --log-basename=node --log-bin --log-bin=")},
	{name: "mysqld_log_bin_default", argv: words("--role joiner --datadir /d --mysqld-args --log-bin")},
	{name: "mysqld_binlog_outer_wins", argv: words("--role joiner --datadir /d --binlog outer --mysqld-args --log-bin=inner --log-bin-index=inner.index")},
	{name: "mysqld_binlog_outer_empty", argv: []string{"--role", "joiner", "--datadir", "/d", "--binlog", "", "--log-basename", "", "--mysqld-args", "--log-bin=inner", "--log-basename=b", "--log-bin"}},
	{name: "mysqld_datadir_only", argv: words("--role joiner --mysqld-args --datadir=/from/args/ --datadir=/last/")},
	{name: "mysqld_datadir_outer_empty", argv: []string{"--role", "joiner", "--datadir", "", "--mysqld-args", "--datadir=/from/args"}},
	{name: "mysqld_force_recovery", argv: words("--role joiner --datadir /d --mysqld-args --innodb-force-recovery=3 --innodb_force_recovery=0 --innodb-force-recovery")},
	{name: "mysqld_force_recovery_ops", argv: words("--role joiner --datadir /d --mysqld-args --innodb-force-recovery=2 --innodb-force-recovery=( --innodb-force-recovery=!=")},
	{name: "mysqld_fallback_operator", argv: words("--role joiner --datadir /d --mysqld-args --aria-log-dir-path== --log-basename=-eq")},
	{name: "mysqld_values_spaces", argv: []string{"--role", "joiner", "--datadir", "/d", "--mysqld-args", "--init-file=/a b/c.sql", "positional arg", "--datadir= /sp ace/ ", "--log_basename= nb "}},
	{name: "mysqld_underscore_newline", argv: []string{"--role", "joiner", "--datadir", "/d", "--mysqld-args", "--log_bin\n=x"}},
	{name: "mysqld_only_loose", argv: words("--role joiner --datadir /d --mysqld-args --loose-log-bin --loose_log_basename=lb --loose-skip-foo")},
	{name: "mysqld_args_empty", argv: words("--role joiner --datadir /d --log-basename base --mysqld-args")},
	{name: "mysqld_args_then_options", argv: words("--role joiner --mysqld-args --role donor --datadir /x")},
}

// dumpCommon runs testdata/argv/dump_common.sh with argv in a controlled
// environment and returns its output.
func dumpCommon(t *testing.T, argv []string, env map[string]string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"testdata/argv/dump_common.sh"}, argv...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = "."
	out, err := cmd.Output()
	if err != nil && !strings.Contains(string(out), "\nEXIT=") {
		t.Fatalf("dump_common.sh: %v\n%s", err, out)
	}
	return string(out)
}

// parseDump splits the helper's output into its variables, the script's
// error messages and its exit status.
func parseDump(t *testing.T, out string) (vars []string, errs []string, exit int) {
	t.Helper()
	exit = -1
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "EXIT="):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "EXIT="))
			if err != nil {
				t.Fatalf("bad EXIT line %q", line)
			}
			exit = n
		case strings.HasPrefix(line, "ERROR="):
			errs = append(errs, strings.TrimPrefix(line, "ERROR="))
		default:
			vars = append(vars, line)
		}
	}
	if exit < 0 {
		t.Fatalf("no EXIT line in dump:\n%s", out)
	}
	return vars, errs, exit
}

// normalizeDump maps the few script values Args cannot tell apart from
// their default: an unset WSREP_SST_OPT_PARENT is Parent 0 and an unset
// WSREP_SST_OPT_HOST_IPv6 is IPv6 false.
func normalizeDump(vars []string) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		switch v {
		case "PARENT=":
			v = "PARENT=0"
		case "HOST_IPv6=":
			v = "HOST_IPv6=0"
		}
		out[i] = v
	}
	return out
}

// dumpArgs prints a in the helper's format.
func dumpArgs(a *Args) []string {
	flag01 := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	withName := func(name, v string) string {
		if v == "" {
			return ""
		}
		return name + "=" + v
	}
	kv := [][2]string{
		{"ROLE", a.Role}, {"ADDR", a.Address}, {"HOST", a.Host},
		{"HOST_UNESCAPED", a.HostUnescaped}, {"HOST_IPv6", flag01(a.IPv6)},
		{"ADDR_PORT", a.AddrPort}, {"PORT", a.Port}, {"PATH", a.Path},
		{"MODULE", a.Module}, {"LSN", a.LSN}, {"SST_VER", a.SSTVer},
		{"LPORT", a.LocalPort}, {"SOCKET", a.Socket}, {"PARENT", strconv.Itoa(a.Parent)},
		{"BYPASS", flag01(a.Bypass)}, {"PROGRESS", strconv.Itoa(a.Progress)},
		{"DATA", a.Datadir}, {"USER", a.User}, {"PSWD", a.Password.Reveal()},
		{"GTID", a.GTID}, {"GTID_DOMAIN_ID", a.GTIDDomainID}, {"BINLOG", a.Binlog},
		{"BINLOG_INDEX", a.BinlogIndex}, {"LOG_BASENAME", a.LogBasename},
		{"DEFAULT", withName("--defaults-file", a.DefaultsFile)},
		{"EXTRA_DEFAULT", withName("--defaults-extra-file", a.DefaultsExtraFile)},
		{"SUFFIX_VALUE", a.DefaultsGroupSuffix}, {"MYSQLD", a.mysqldLine},
		{"ARIA_LOG_DIR", a.AriaLogDir}, {"INNODB_DATA_HOME_DIR", a.InnodbDataHomeDir},
		{"INNODB_LOG_GROUP_HOME", a.InnodbLogGroupHomeDir}, {"INNODB_UNDO_DIR", a.InnodbUndoDir},
		{"INNODB_BUFFER_POOL", a.InnodbBufferPoolFilename},
		{"INNODB_BUFFER_POOL_SIZE", a.InnodbBufferPoolSize},
		{"INNODB_FORCE_RECOVERY", a.InnodbForceRecovery}, {"INNOEXTRA", a.innoExtraLine},
	}
	lines := make([]string, len(kv))
	for i, p := range kv {
		lines[i] = p[0] + "=" + p[1]
	}
	return lines
}

func mapGetenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// TestParseArgsScript compares ParseArgs with the stock script: live when
// /usr/bin/wsrep_sst_common is installed (and then the golden files must
// match too, or be rewritten with -update), from the golden files
// otherwise.
func TestParseArgsScript(t *testing.T) {
	_, err := os.Stat(stockCommon)
	live := err == nil
	if !live {
		t.Logf("%s not installed: checking against golden files only", stockCommon)
	}
	if *update && !live {
		t.Fatalf("-update needs %s", stockCommon)
	}
	seen := map[string]bool{}
	for _, tc := range argvCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			golden := filepath.Join("testdata", "argv", tc.name+".golden")
			var out string
			if live {
				out = dumpCommon(t, tc.argv, tc.env)
				if *update {
					if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update where %s exists): %v", stockCommon, err)
			}
			if live && out != string(want) {
				t.Errorf("golden %s is stale (run go test -update):\nscript:\n%s\ngolden:\n%s", golden, out, want)
			}
			checkAgainstDump(t, tc, string(want))
		})
	}
}

func checkAgainstDump(t *testing.T, tc argvCase, dump string) {
	t.Helper()
	vars, errs, exit := parseDump(t, dump)
	got, err := ParseArgs(tc.argv, mapGetenv(tc.env))
	if tc.deviates != nil {
		if !errors.Is(err, tc.deviates) {
			t.Fatalf("ParseArgs error = %v, want %v (deliberate deviation from the script)", err, tc.deviates)
		}
		return
	}
	datadirOnly := exit == 2 && len(errs) == 1 && strings.Contains(errs[0], "'--datadir' parameter must be passed")
	switch {
	case exit == 0 || datadirOnly:
		// wsrep_check_datadir runs after the argument processing and is
		// left to the caller.
		if err != nil {
			t.Fatalf("ParseArgs error = %v, script succeeded", err)
		}
		gotLines, wantLines := dumpArgs(got), normalizeDump(vars)
		if g, w := strings.Join(gotLines, "\n"), strings.Join(wantLines, "\n"); g != w {
			t.Errorf("ParseArgs differs from the script:\n%s", lineDiff(gotLines, wantLines))
		}
	case exit == 22:
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("ParseArgs error = %v, want ErrInvalid (script exit 22)", err)
		}
		if len(errs) == 0 || err.Error() != errs[0] {
			t.Errorf("error message = %q, script said %q", err, errs)
		}
	case exit == 2 && len(errs) > 0 && strings.HasPrefix(errs[0], "port in --port="):
		if !errors.Is(err, ErrPortConflict) {
			t.Fatalf("ParseArgs error = %v, want ErrPortConflict (script exit 2)", err)
		}
		if err.Error() != errs[0] {
			t.Errorf("error message = %q, script said %q", err, errs[0])
		}
	default:
		t.Fatalf("script exit %d with %q: no rule to compare", exit, errs)
	}
}

func lineDiff(got, want []string) string {
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "  got  %q\n  want %q\n", g, w)
		}
	}
	return b.String()
}

func TestParseArgsFields(t *testing.T) {
	a, err := ParseArgs(words("--role donor --address 10.0.0.1:4444/xtrabackup_sst//1 --datadir /d --parent 12 --progress 1 --bypass --mysqld-args --log-bin"), mapGetenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !a.RoleSet || a.Parent != 12 || a.Progress != 1 || !a.Bypass || !a.LogBinSeen || a.AddressRaw != "10.0.0.1:4444/xtrabackup_sst//1" {
		t.Errorf("got %+v", a)
	}
	a, err = ParseArgs(nil, mapGetenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a.RoleSet || a.Role != "donor" || a.Port != "4444" || a.Address != ":4444" {
		t.Errorf("empty argv: got %+v", a)
	}
}

// TestExplainSSTTempDir: explain shows where the joiner stages.
func TestExplainSSTTempDir(t *testing.T) {
	c, err := loadCnf(t, "", nil, append([]string{"--sst-temp-dir", "/stage/"}, joinerArgv...)...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Explain()
	if err != nil || !strings.Contains(string(out), `"sst-temp-dir": "/stage"`) {
		t.Errorf("explain lacks the sst-temp-dir: %v\n%s", err, out)
	}
}

// TestParseArgsSSTTempDir checks --sst-temp-dir (MDEV-29909, after the
// stock scripts here, so no golden output): the explicit option wins over
// the one in --mysqld-args, which is not passed on to mariadb-backup.
func TestParseArgsSSTTempDir(t *testing.T) {
	for _, tc := range []struct {
		argv, want string
	}{
		{"--role joiner --datadir /d --sst-temp-dir /stage/", "/stage"},
		{"--role joiner --datadir /d --mysqld-args --sst-temp-dir=/m/ --log-bin", "/m"},
		{"--role joiner --datadir /d --mysqld-args --loose-sst_temp_dir=/m", "/m"},
		{"--role joiner --sst-temp-dir /a --datadir /d --mysqld-args --sst-temp-dir=/m", "/a"},
		{"--role joiner --datadir /d", ""},
	} {
		a, err := ParseArgs(words(tc.argv), mapGetenv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if a.SSTTempDir != tc.want {
			t.Errorf("%s: SSTTempDir = %q, want %q", tc.argv, a.SSTTempDir, tc.want)
		}
		if slices.ContainsFunc(a.MysqldArgs, func(w string) bool { return strings.Contains(w, "temp") }) {
			t.Errorf("%s: mysqld args %q keep the option", tc.argv, a.MysqldArgs)
		}
	}
}

func TestParseArgsLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"too many", make([]string, maxArgs+1)},
		{"too long", []string{"--role", "joiner", "--datadir", strings.Repeat("x", maxArgLen+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseArgs(tc.argv, mapGetenv(nil)); !errors.Is(err, ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := ParseArgs(make([]string, maxArgs), mapGetenv(nil)); err != nil {
		t.Errorf("%d empty args: %v", maxArgs, err)
	}
}

// trimInputs exercise the script's trim helpers and the echo quirks.
var trimInputs = []string{
	"", " ", "\t\n", "/", "///", " / ", "/a/", " a b / ", "-n", "-e", "-E", "-neE", "-x",
	" -e/ ", "/ a /", "/\n", "a//", "//a", "\v x \f", "a\n\n", "-", " -n ", "x\r",
}

// TestTrimHelpersScript runs trim_string, trim_dir and trim_right from the
// stock script on trimInputs and compares.
func TestTrimHelpersScript(t *testing.T) {
	if _, err := os.Stat(stockCommon); err != nil {
		t.Skipf("%s not installed", stockCommon)
	}
	script := `eval "$(sed -n '/^trim_string()/,/^to_minuses()/p' ` + stockCommon + ` | sed '$d')"
for s in "$@"; do printf '%s\0%s\0%s\0' "$(trim_string "$s")" "$(trim_dir "$s")" "$(trim_right "$s")"; done`
	cmd := exec.Command("bash", append([]string{"-c", script, "_"}, trimInputs...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	res := strings.Split(string(out), "\x00")
	if len(res) != 3*len(trimInputs)+1 {
		t.Fatalf("got %d results for %d inputs", len(res), len(trimInputs))
	}
	for i, s := range trimInputs {
		for j, f := range []struct {
			name string
			fn   func(string) string
		}{{"trim_string", trimString}, {"trim_dir", trimDir}, {"trim_right", trimRight}} {
			if got, want := f.fn(s), res[3*i+j]; got != want {
				t.Errorf("%s(%q) = %q, script %q", f.name, s, got, want)
			}
		}
	}
}

var arithInputs = []string{
	"", " ", "0", "1", " 7 ", "010", "0x1f", "0X1F", "0x", "2#101", "64#_", "36#Z", "16#ff",
	"-3", "+5", "9999999999999999999999", "-9223372036854775808", "00", "10#012",
}

// TestShellArithBash compares shellArith with bash's $(( )) on integer
// constants, and checks that what ParseArgs refuses is refused.
func TestShellArithBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	for _, s := range arithInputs {
		out, err := exec.Command(bash, "-c", `echo $(( $1 ))`, "_", s).Output()
		if err != nil {
			t.Fatalf("bash $(( %q )): %v", s, err)
		}
		want := strings.TrimSpace(string(out))
		got, err := shellArith(s)
		if err != nil || strconv.FormatInt(got, 10) != want {
			t.Errorf("shellArith(%q) = %d, %v; bash %s", s, got, err, want)
		}
	}
	for _, s := range []string{"'1'", "abc", "1+1", "09", "0x1g", "1#1", "65#1", "2#", "#1", "1 2", "-", "--5", "37#Z"} {
		if _, err := shellArith(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("shellArith(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"'--basedir=/usr' -v", "'--basedir=/usr' -v"},
		{"'--wsrep_sst_auth=root:secret'", "'--wsrep_sst_auth=***'"},
		{"--wsrep-sst-auth=root:secret --x", "--wsrep-sst-auth=*** --x"},
		{"'--loose-wsrep_sst-auth=u:p w'", "'--loose-wsrep_sst-auth=***'"},
		{"--loose_wsrep_sst_auth=u:p", "--loose_wsrep_sst_auth=***"},
		{"'--wsrep_sst_auth' 'u:p' '--next'", "'--wsrep_sst_auth' '***' '--next'"},
		{"--wsrep_sst_auth --next", "--wsrep_sst_auth --next"},
		{`"--password=a b"  -x`, `"--password=***"  -x`},
		{"--password='a b' tail", "'--password=***' tail"},
		{"--password", "--password"},
		{"--password-file=x", "--password-file=x"},
		{"-p 'pw'", "-p '***'"},
		{"-ppw", "-p***"},
		{"-p'pw'", "'-p***'"},
		{"-v -p 'pw' -x 'y'", "-v -p '***' -x 'y'"},
		{"-vppw", "-vp***"},
		{"-xp y", "-xp y"},
		{"-p -v", "-p -v"},
		{"'--wsrep_sst_auth=unterminated", "'--wsrep_sst_auth=***'"},
		{"--log-basename='n' --log-bin-index='i' '--wsrep_sst_auth=u:p' --", "--log-basename='n' --log-bin-index='i' '--wsrep_sst_auth=***' --"},
	} {
		if got := RedactArgs(tc.in); got != tc.want {
			t.Errorf("RedactArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := RedactArgs(RedactArgs(tc.in)); got != RedactArgs(tc.in) {
			t.Errorf("RedactArgs not idempotent on %q: %q", tc.in, got)
		}
	}
}

// TestRedactMysqldArgs checks that a password given to mysqld in any form
// the script copies to WSREP_SST_OPT_MYSQLD is hidden there.
func TestRedactMysqldArgs(t *testing.T) {
	const secret = "s3cr3t"
	for _, tail := range [][]string{
		{"--wsrep_sst_auth=root:" + secret},
		{"--loose-wsrep-sst-auth=root:" + secret},
		{"--wsrep_sst_auth", "root:" + secret},
		{"--password=" + secret},
		{"-p" + secret},
		{"-p", secret},
		{"-vp", secret},
		{"-v", "--", "--password=" + secret},
	} {
		argv := append(words("--role donor --datadir /d --mysqld-args"), tail...)
		a, err := ParseArgs(argv, mapGetenv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if r := RedactArgs(a.mysqldLine); strings.Contains(r, secret) {
			t.Errorf("%q: redacted %q still has the secret", tail, r)
		}
		if r := strings.Join(RedactWords(a.MysqldArgs), " "); strings.Contains(r, secret) {
			t.Errorf("%q: redacted words %q still have the secret", tail, r)
		}
	}
}

// checkWordsMatchLine checks that the words ParseArgs hands out are the
// words sh splits the script's shell-quoted strings into, wherever the
// script's own quoting holds and no SST auth option is dropped. The
// quoting fails for a single quote anywhere and for blanks, quotes or
// backslashes in a cluster of short options, which the script copies
// unquoted: there sh would split or unescape what was one argument, and
// the words deliberately keep it whole.
func checkWordsMatchLine(t *testing.T, argv []string, a *Args) {
	t.Helper()
	for _, w := range argv {
		short := strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--")
		if strings.Contains(w, "'") || short && strings.ContainsAny(w, " \t\n\v\f\r\"\\") {
			return
		}
	}
	split := func(s string) []string {
		ws, err := shellWords(s)
		if err != nil {
			t.Fatalf("shellWords(%q): %v", s, err)
		}
		var out []string
		for _, w := range ws {
			out = append(out, w.text)
		}
		return out
	}
	if !strings.Contains(a.mysqldLine, "sst-auth") && !strings.Contains(a.mysqldLine, "sst_auth") {
		if got, want := a.MysqldArgs, split(a.mysqldLine); !slices.Equal(got, want) {
			t.Errorf("MysqldArgs = %q, want the words of %q: %q", got, a.mysqldLine, want)
		}
	}
	if got, want := a.InnoExtra, split(a.innoExtraLine); !slices.Equal(got, want) {
		t.Errorf("InnoExtra = %q, want the words of %q: %q", got, a.innoExtraLine, want)
	}
}

func TestParseArgsWords(t *testing.T) {
	for _, tc := range argvCases {
		a, err := ParseArgs(tc.argv, mapGetenv(tc.env))
		if err != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { checkWordsMatchLine(t, tc.argv, a) })
	}
	// A quote inside a value breaks the script's line; the words keep it.
	a, err := ParseArgs([]string{"--role", "joiner", "--datadir", "/d", "--mysqld-args", "--init-file=/it's.sql", "-x", "a'b"}, mapGetenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--init-file=/it's.sql", "-x", "a'b"}; !slices.Equal(a.MysqldArgs, want) {
		t.Errorf("MysqldArgs = %q, want %q", a.MysqldArgs, want)
	}
}

// TestMysqldArgsDropAuth: no form of --wsrep-sst-auth reaches the words
// handed to mariadb-backup, neither the option nor its value word, while
// the script's own line keeps them (parity).
func TestMysqldArgsDropAuth(t *testing.T) {
	for _, tc := range []struct {
		tail []string
		want []string
	}{
		{[]string{"--wsrep_sst_auth=root:pw", "--loose-wsrep-sst-auth=x:y", "--innodb-flush-method=O_DIRECT"}, []string{"--innodb-flush-method=O_DIRECT"}},
		{[]string{"--wsrep-sst-auth", "u:pw", "--innodb-flush-method=O_DIRECT"}, []string{"--innodb-flush-method=O_DIRECT"}},
		{[]string{"--wsrep_sst_auth", "u:pw"}, nil},
		{[]string{"--loose_wsrep_sst_auth", "-pw", "--x"}, []string{"--x"}},
		{[]string{"--wsrep-sst-auth", "--", "--x"}, []string{"--x"}},
		{[]string{"--wsrep-sst-auth"}, nil},
		{[]string{"--a", "--", "--wsrep-sst-auth=u:pw", "--wsrep_sst_auth", "v:pw", "b"}, []string{"--a", "--", "b"}},
		{[]string{"-v", "--", "--wsrep-sst-auth", "u:pw"}, []string{"-v", "--"}},
	} {
		argv := append([]string{"--role", "donor", "--datadir", "/d", "--mysqld-args"}, tc.tail...)
		a, err := ParseArgs(argv, mapGetenv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.MysqldArgs, tc.want) {
			t.Errorf("%q: MysqldArgs = %q, want %q", tc.tail, a.MysqldArgs, tc.want)
		}
	}
}
