package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/mariadb"
)

// candidateGroups are the groups a --mysqld read might plausibly take,
// for 10.x and 11.x; each gets one option named after it.
var candidateGroups = []string{
	"mysqld", "server", "mariadb", "mariadbd", "client-server", "galera", "client", "mysql",
	"mysqld-10.11", "mysqld-10", "mariadb-10.11", "mariadb-10", "mariadbd-10.11", "mariadbd-10",
	"mysqld-11.8", "mysqld-11", "mariadb-11.8", "mariadb-11", "mariadbd-11.8", "mariadbd-11",
	"mysqld-11.4", "mariadb-11.4", "mariadbd-11.4", "server-11.8", "galera-11.8",
}

func candidateCnf() string {
	var b strings.Builder
	for _, g := range candidateGroups {
		fmt.Fprintf(&b, "[%s]\ng-%s=1\n", g, g)
	}
	return b.String()
}

func TestMysqldGroupsByVersion(t *testing.T) {
	name := filepath.Join(t.TempDir(), "my.cnf")
	if err := os.WriteFile(name, []byte(candidateCnf()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"", []string{"mysqld", "server", "mariadb", "mariadbd", "client-server", "galera", "mysqld-10.11", "mariadb-10.11", "mariadbd-10.11"}},
		{"11.8", []string{"mysqld", "server", "mariadb", "mariadbd", "client-server", "galera", "mysqld-11.8", "mariadb-11.8", "mariadb-11", "mariadbd-11.8", "mariadbd-11"}},
		{"10.6", []string{"mysqld", "server", "mariadb", "mariadbd", "client-server", "galera"}},
	} {
		of, err := ReadOptionFiles(Files{DefaultsFile: name, ServerVersion: tc.version})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, g := range candidateGroups {
			if slices.Contains(tc.want, g) {
				want = append(want, "--g-"+g+"=1")
			}
		}
		if got := of.Print("--mysqld"); !slices.Equal(got, want) {
			t.Errorf("version %q: Print(--mysqld) = %q, want %q", tc.version, got, want)
		}
	}
}

// TestMysqldGroupsReal compares the groups --mysqld selects with the real
// my_print_defaults of the host's server (10.11 on Debian 12) and of the
// Debian 13 chroot's (11.8; scripts/chroot-118.sh build, $SST_CHROOT),
// each at the version its own mariadbd reports.
func TestMysqldGroupsReal(t *testing.T) {
	chroot := os.Getenv("SST_CHROOT")
	if chroot == "" {
		chroot = "/var/cache/wsrep-sst-go/trixie"
	}
	for _, root := range []string{"/", chroot} {
		t.Run(root, func(t *testing.T) {
			if root != "/" {
				if _, err := os.Stat(filepath.Join(root, "usr/bin/my_print_defaults")); err != nil {
					msg := fmt.Sprintf("no MariaDB 11.8 chroot at %s (build it: scripts/chroot-118.sh build)", root)
					if os.Getenv("CI") != "" {
						t.Fatal(msg)
					}
					t.Skip(msg)
				}
				if os.Geteuid() != 0 {
					t.Skip("chroot needs root")
				}
			} else if _, err := os.Stat("/usr/bin/my_print_defaults"); err != nil {
				t.Skip("my_print_defaults not installed")
			}
			run := func(args ...string) string {
				t.Helper()
				if root != "/" {
					args = append([]string{"chroot", root}, args...)
				}
				out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
				if err != nil {
					t.Fatalf("%q: %v\n%s", args, err, out)
				}
				return string(out)
			}
			v, ok := mariadb.FindVersion(run("/usr/sbin/mariadbd", "--version"))
			if !ok {
				t.Fatal("no version in mariadbd --version")
			}
			version := v.Series()
			// A directory visible at the same path inside the root.
			dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "groups")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			name := filepath.Join(dir, "my.cnf")
			if err := os.WriteFile(name, []byte(candidateCnf()), 0o644); err != nil {
				t.Fatal(err)
			}
			inner := strings.TrimPrefix(name, strings.TrimSuffix(root, "/"))
			want := strings.Fields(run("/usr/bin/my_print_defaults", "--defaults-file="+inner, "--mysqld"))
			of, err := ReadOptionFiles(Files{DefaultsFile: name, ServerVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			if got := of.Print("--mysqld"); !slices.Equal(got, want) {
				t.Errorf("server %s: Print(--mysqld) = %q, my_print_defaults --mysqld = %q", version, got, want)
			}
			t.Logf("server %s: %q", version, want)
		})
	}
}

// TestLoadServerVersion: an innodb-data-home-dir under [mysqld-11.8] is
// taken and one under [mysqld-10.11] ignored when the server is 11.8, the
// other way round by default, and explain names the version used.
func TestLoadServerVersion(t *testing.T) {
	dir := t.TempDir()
	cnf := filepath.Join(dir, "my.cnf")
	body := "[mysqld-10.11]\ninnodb-data-home-dir=/old\n[mysqld-11.8]\ninnodb-data-home-dir=/new\n"
	if err := os.WriteFile(cnf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version, source, wantDir, wantSource string
	}{
		{"11.8", "/proc/1/exe --version", "/new", "/proc/1/exe --version"},
		{"", "", "/old", "default"},
	} {
		c, err := Load(t.Context(), LoadParams{
			Program:             "/usr/bin/wsrep_sst_mariabackup",
			Argv:                []string{"--defaults-file", cnf, "--role", "joiner", "--address", "127.0.0.1:4444", "--datadir", dir},
			Getenv:              func(string) string { return "" },
			Search:              []string{},
			ServerVersion:       tc.version,
			ServerVersionSource: tc.source,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Args.InnodbDataHomeDir; got != tc.wantDir {
			t.Errorf("version %q: innodb-data-home-dir = %q, want %q", tc.version, got, tc.wantDir)
		}
		out, err := c.Explain()
		if err != nil {
			t.Fatal(err)
		}
		wantVersion := tc.version
		if wantVersion == "" {
			wantVersion = DefaultServerVersion
		}
		for _, want := range []string{`"server_version": "` + wantVersion + `"`, `"server_version_source": "` + tc.wantSource + `"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("version %q: explain lacks %s:\n%s", tc.version, want, out)
			}
		}
	}
}
