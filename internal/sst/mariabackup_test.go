package sst

import (
	"reflect"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
)

// TestBackupCommandLines checks the three mariadb-backup command lines
// against what setup_commands builds, option by option and in order.
func TestBackupCommandLines(t *testing.T) {
	s := &session{
		args: &config.Args{
			DefaultsFile:        "/etc/my.cnf",
			DefaultsGroupSuffix: ".g",
			Datadir:             "/var/lib/mysql",
			InnoExtra:           " --innodb-data-home-dir='/ib data' --log-bin='mysql-bin'",
			InnodbForceRecovery: "1",
			MysqldArgs:          "'--wsrep_sst_auth=u:pw' '--innodb-flush-method=O_DIRECT'",
		},
		cfg: &config.Config{
			BackupThreads:   "4",
			Compress:        "quicklz",
			CompressThreads: "2",
			InnoBackupOpts:  "--ftwrl-wait-timeout=5 '--rsync=no'",
			InnoApplyOpts:   "--apply-x",
			InnoMoveOpts:    "--move-x",
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
	s.cfg.InnoMoveOpts = "'unterminated"
	if _, err := s.moveArgs(tool, "/d/.sst", "/d"); ExitCode(err) != ExitInvalid {
		t.Errorf("bad inno-move-opts: err %v, want exit %d", err, ExitInvalid)
	}
}
