package operator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
)

const testUUID = "0ab161ca-ed72-11f1-a409-8b473c53336a"

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in   string
		want Position
		bad  bool
	}{
		{in: testUUID + ":21", want: Position{testUUID, 21}},
		{in: testUUID + ":21 0", want: Position{testUUID, 21}},           // with the donor's domain id
		{in: testUUID + ":7 0-1-7,1-2-3\n", want: Position{testUUID, 7}}, // with a GTID list
		{in: testUUID + ":-1", want: Position{testUUID, -1}},             // undefined seqno parses; callers decide
		{in: "", bad: true},                                        // empty file
		{in: testUUID, bad: true},                                  // no seqno
		{in: testUUID + ":x", bad: true},                           // seqno not a number
		{in: "0ab161ca-ed72-11f1-a409:21", bad: true},              // short uuid
		{in: "0ab161ca-ed72-11f1-a409-8b473c5333zz:21", bad: true}, // not hex
		{in: "0ab161caXed72-11f1-a409-8b473c53336a:21", bad: true}, // no dash
	}
	for _, tt := range tests {
		got, err := ParsePosition(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParsePosition(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestBackupPosition: the galera info mariadb-backup wrote into the
// backup wins over the line the joiner printed (which may be the donor's
// position when the send started).
func TestBackupPosition(t *testing.T) {
	donor := testUUID + ":5"
	t.Run("info file", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "xtrabackup_galera_info"), []byte(testUUID+":42\n"), 0o644))
		got, src, err := backupPosition(dir, donor)
		if err != nil || got.Seqno != 42 || src != "xtrabackup_galera_info" {
			t.Errorf("got %v from %q (%v), want seqno 42 from %s", got, src, err, "xtrabackup_galera_info")
		}
	})
	t.Run("11.x info file", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "mariadb_backup_galera_info"), []byte(testUUID+":43 0\n"), 0o644))
		got, _, err := backupPosition(dir, donor)
		if err != nil || got.Seqno != 43 {
			t.Errorf("got %v (%v), want seqno 43", got, err)
		}
	})
	t.Run("bad info file", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "xtrabackup_galera_info"), []byte("garbage\n"), 0o644))
		if _, _, err := backupPosition(dir, donor); fail.ClassOf(err) != fail.Transfer {
			t.Errorf("err = %v (class %v), want class %v", err, fail.ClassOf(err), fail.Transfer)
		}
	})
	t.Run("no info file", func(t *testing.T) {
		got, _, err := backupPosition(t.TempDir(), donor)
		if err != nil || got.Seqno != 5 {
			t.Errorf("got %v (%v), want the final line's seqno 5", got, err)
		}
	})
}

func TestWriteGrastate(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "grastate.dat"), []byte("# GALERA saved state\nseqno: -1\nsafe_to_bootstrap: 1\n"), 0o644))
	must(t, writeGrastate(dir, Position{testUUID, 42}, os.Getuid(), os.Getgid()))
	b, err := os.ReadFile(filepath.Join(dir, "grastate.dat"))
	must(t, err)
	want := "# GALERA saved state\nversion: 2.1\nuuid:    " + testUUID + "\nseqno:   42\nsafe_to_bootstrap: 0\n"
	if string(b) != want {
		t.Errorf("grastate.dat =\n%s\nwant\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "grastate.dat.tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestChownTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "db", "t.ibd"), nil, 0o644))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	must(t, chownTree(dir, 65534, 65533))
	for _, p := range []string{dir, filepath.Join(dir, "db"), filepath.Join(dir, "db", "t.ibd"), filepath.Join(dir, "link")} {
		uid, gid, err := ownerOf(p)
		if p == filepath.Join(dir, "link") {
			var fi os.FileInfo
			fi, err = os.Lstat(p)
			uid, gid = statOwner(fi)
		}
		if err != nil || uid != 65534 || gid != 65533 {
			t.Errorf("%s: owner %d:%d (%v), want 65534:65533", p, uid, gid, err)
		}
	}
	if uid, _, _ := ownerOf("/etc/passwd"); uid != 0 {
		t.Errorf("the symlink's target was given away too")
	}
}

func TestOwnerOfMissingDir(t *testing.T) {
	dir := t.TempDir()
	uid, gid, err := ownerOf(filepath.Join(dir, "a", "b"))
	wu, wg, _ := ownerOf(dir)
	if err != nil || uid != wu || gid != wg {
		t.Errorf("ownerOf(missing) = %d:%d, %v; want the parent's %d:%d", uid, gid, err, wu, wg)
	}
}

func TestReadyNotice(t *testing.T) {
	a := &config.Args{Port: "4444"}
	tests := []struct{ addr, want string }{
		{"10.0.0.2:4444/xtrabackup_sst//1", "wsrep_sst_mariabackup send --to 10.0.0.2:4444"},
		{"0.0.0.0:4444/xtrabackup_sst//1", "send --to <this host>:4444"},
		{"[::]:4444/xtrabackup_sst//1", "send --to <this host>:4444"},
		{"node2:s3cr3t@10.0.0.2:4444/xtrabackup_sst//1", "WSREP_SST_OPT_REMOTE_AUTH='node2:s3cr3t' wsrep_sst_mariabackup send --to 10.0.0.2:4444"},
	}
	for _, tt := range tests {
		if got := readyNotice(tt.addr, a); !strings.HasSuffix(got, tt.want) {
			t.Errorf("readyNotice(%q) = %q, want it to end in %q", tt.addr, got, tt.want)
		}
	}
}

func TestDefaultListen(t *testing.T) {
	for cnf, want := range map[string]string{
		"[mysqld]\nwsrep_sst_receive_address=10.0.0.2:4567\n": "10.0.0.2:4567",
		"[galera]\nwsrep-sst-receive-address = 10.0.0.3\n":    "10.0.0.3",
		"[mysqld]\nwsrep_sst_receive_address=AUTO\n":          "0.0.0.0:4444",
		"[mysqld]\ndatadir=/x\n":                              "0.0.0.0:4444",
	} {
		f := filepath.Join(t.TempDir(), "my.cnf")
		must(t, os.WriteFile(f, []byte(cnf), 0o644))
		got, err := defaultListen(Params{DefaultsFile: f})
		if err != nil || got != want {
			t.Errorf("%q: defaultListen = %q, %v; want %q", cnf, got, err, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
