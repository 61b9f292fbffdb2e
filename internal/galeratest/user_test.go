package galeratest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\n" +
		"mysqlx:x:7:7::/:/bin/false\n" +
		"broken:x:nope:1::/:/bin/false\n" +
		"mysql:x:100:101:MariaDB Server:/nonexistent:/bin/false\n")
	for _, tc := range []struct {
		name     string
		uid, gid int
		ok       bool
	}{
		{"mysql", 100, 101, true},
		{"root", 0, 0, true},
		{"mysq", 0, 0, false},
		{"broken", 0, 0, false},
		{"", 0, 0, false},
	} {
		uid, gid, ok := parsePasswd(passwd, tc.name)
		if uid != tc.uid || gid != tc.gid || ok != tc.ok {
			t.Errorf("parsePasswd(%q) = %d, %d, %v; want %d, %d, %v", tc.name, uid, gid, ok, tc.uid, tc.gid, tc.ok)
		}
	}
}

func TestLookupUserInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("mysql:x:100:101::/:/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid, gid, err := lookupUser(root, "mysql")
	if err != nil || uid != 100 || gid != 101 {
		t.Errorf("lookupUser(root, mysql) = %d, %d, %v; want 100, 101, nil", uid, gid, err)
	}
	if _, _, err := lookupUser(root, "nobody"); err == nil || !strings.Contains(err.Error(), "mariadb-server") {
		t.Errorf("lookupUser(root, nobody) error = %v, want one naming mariadb-server", err)
	}
}

func TestNewChecksUser(t *testing.T) {
	t.Setenv(ServerRootEnv, "")
	for _, tc := range []struct {
		user, want string
	}{
		{"root", "leave Options.User empty"},
		{"my'sql", "invalid user name"},
		{"galeratest-no-such-user", "not in /etc/passwd"},
	} {
		_, err := New(Options{Dir: t.TempDir(), Method: "usertest", User: tc.user})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(User: %q) error = %v, want one containing %q", tc.user, err, tc.want)
		}
	}
}

func TestMakeTraversable(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	base := filepath.Join(tmp, "a", "b")
	if err := os.MkdirAll(base, 0o700); err != nil {
		t.Fatal(err)
	}
	// tmp and its parent, Go's 0700 one, are outside the fake TMPDIR.
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o701); err != nil {
			t.Fatal(err)
		}
	}
	// A uid and gid owning none of the directories: others' x bit.
	const uid, gid = 54321, 54321
	if err := makeTraversable(base, uid, gid, t.Logf); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{base, filepath.Dir(base)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o701 {
			t.Errorf("mode of %s = %v, want -rwx-----x", d, got)
		}
	}
	// os.TempDir itself, and anything outside it, is not ours to change.
	if err := os.Chmod(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	err := makeTraversable(base, uid, gid, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "chmod o+x "+tmp) {
		t.Errorf("makeTraversable below a closed TMPDIR: error = %v, want one naming chmod o+x %s", err, tmp)
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("makeTraversable changed %s: %v, %v", tmp, fi.Mode(), err)
	}
}

// testNode returns a node of a cluster with user, not added by AddNode:
// for the pure parts (option file, command line).
func testNode(user string) *Node {
	c := &Cluster{dir: "/base", method: "gotest", user: user, log: func(string, ...any) {}}
	n := &Node{
		c: c, name: "node1", dir: "/base/node1", datadir: "/base/node1/data",
		sock: "/base/node1/s", errlog: "/base/node1/error.log",
		cfg: NodeConfig{Mysqld: []string{"wsrep_sst_auth=other:pw"}},
	}
	c.nodes = []*Node{n}
	return n
}

func TestConfigTextUser(t *testing.T) {
	lines := strings.Split(testNode("mysql").configText(), "\n")
	auth := slices.Index(lines, "wsrep_sst_auth=mysql:")
	if auth < 0 {
		t.Fatalf("option file with User mysql lacks wsrep_sst_auth=mysql:\n%s", strings.Join(lines, "\n"))
	}
	// A NodeConfig.Mysqld line still wins: it comes later.
	if own := slices.Index(lines, "wsrep_sst_auth=other:pw"); own < auth {
		t.Errorf("NodeConfig.Mysqld's wsrep_sst_auth at line %d, before the default at %d", own, auth)
	}
	if sst := slices.Index(lines, "[sst]"); auth > sst {
		t.Errorf("wsrep_sst_auth at line %d, in [sst] (line %d)", auth, sst)
	}
	if s := testNode("").configText(); strings.Contains(s, "wsrep_sst_auth=mysql") {
		t.Errorf("option file without User has the SST user:\n%s", s)
	}
	if got, want := testNode("mysql").user(), "mysql"; got != want {
		t.Errorf("user() = %q, want %q", got, want)
	}
	if got, want := testNode("").user(), "root"; got != want {
		t.Errorf("user() without User = %q, want %q", got, want)
	}
}

func TestSSTUserSQL(t *testing.T) {
	got := sstUserSQL("mysql")
	want := "CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket; " +
		"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR ON *.* TO 'mysql'@'localhost'"
	if got != want {
		t.Errorf("sstUserSQL(mysql) =\n%s\nwant\n%s", got, want)
	}
}
