package sst

import (
	"reflect"
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
)

// TestBackupCommandLines checks the three mariadb-backup command lines
// against what setup_commands builds, option by option and in order.
func TestBackupCommandLines(t *testing.T) {
	// The argv mysqld builds, with the SST password as two words inside
	// --mysqld-args: it must not reach mariadb-backup.
	args, err := config.ParseArgs([]string{
		"--role", "joiner", "--datadir", "/var/lib/mysql/", "--defaults-file", "/etc/my.cnf",
		"--defaults-group-suffix", ".g", "--innodb-data-home-dir", "/ib data",
		"--binlog", "mysql-bin", "--mysqld-args", "--wsrep_sst_auth", "u:pw",
		"--innodb-flush-method=O_DIRECT", "--innodb-force-recovery=1",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := &session{
		args: args,
		cfg: &config.Config{
			BackupThreads:   "4",
			Compress:        "quicklz",
			CompressThreads: "2",
			InnoBackupOpts:  []string{"--ftwrl-wait-timeout=5", "--rsync=no"},
			InnoApplyOpts:   []string{"--apply-x"},
			InnoMoveOpts:    []string{"--move-x"},
			UseMemory:       "256M",
		},
	}
	tool := &backupTool{noVersionCheck: true}
	tests := []struct {
		name string
		got  func() ([]string, error)
		want []string
	}{
		{"backup", func() ([]string, error) {
			return s.backupArgs(tool, "/tmp/x", "/tmp/i", []string{"--user=sst", "--socket=/run/s.sock"})
		}, []string{
			"--defaults-file=/etc/my.cnf", "--defaults-group-suffix=.g", "--backup", "--no-version-check",
			"--parallel=4", "--compress-threads=2", "--compress=quicklz", "--databases-exclude=lost+found",
			"--ftwrl-wait-timeout=5", "--rsync=no", "--tmpdir=/tmp/x",
			"--innodb-data-home-dir=/ib data", "--log-bin=mysql-bin", "--user=sst", "--socket=/run/s.sock", "--use-memory=256M",
			"--galera-info", "--stream=mbstream", "--target-dir=/tmp/i", "--datadir=/var/lib/mysql",
			"--mysqld-args", "--innodb-flush-method=O_DIRECT",
		}},
		{"prepare", func() ([]string, error) { return s.prepareArgs(tool, "/d/.sst") }, []string{
			"--prepare", "--no-version-check", "--innodb-force-recovery=1", "--apply-x",
			"--innodb-data-home-dir=/ib data", "--log-bin=mysql-bin", "--use-memory=256M",
			"--target-dir=/d/.sst", "--datadir=/d/.sst", "--mysqld-args", "--innodb-flush-method=O_DIRECT",
		}},
		{"move", func() ([]string, error) { return s.moveArgs(tool, "/d/.sst", "/d") }, []string{
			"--defaults-file=/etc/my.cnf", "--defaults-group-suffix=.g", "--move-back", "--no-version-check",
			"--parallel=4", "--move-x", "--innodb-data-home-dir=/ib data", "--log-bin=mysql-bin", "--use-memory=256M",
			"--galera-info", "--force-non-empty-directories", "--target-dir=/d/.sst", "--datadir=/d",
		}},
	}
	for _, tt := range tests {
		got, err := tt.got()
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s args:\n got %q (%v)\nwant %q", tt.name, got, err, tt.want)
		}
	}
	for _, tt := range tests {
		got, _ := tt.got()
		for _, w := range got {
			if strings.Contains(w, "pw") {
				t.Errorf("%s args carry the SST password: %q", tt.name, got)
			}
		}
	}
}
