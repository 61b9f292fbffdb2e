package main

import (
	"math"
	"testing"
)

func TestVolumeSize(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want int64
		ok   bool
	}{
		{"1.6x", 1600, true},
		{"3x", 3000, true},
		{"2G", 2 << 30, true},
		{"512M", 512 << 20, true},
		{"4096", 4096, true},
		{"0x", 0, false},
		{"-1G", 0, false},
		{"big", 0, false},
		{"", 0, false},
	} {
		got, err := volumeSize(tc.spec, 1000)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("volumeSize(%q) = %d, %v; want %d, ok=%v", tc.spec, got, err, tc.want, tc.ok)
		}
	}
}

func TestBackupWait(t *testing.T) {
	log := `2026-12-06 23:38:13 0 [Note] WSREP: Running: 'wsrep_sst_mariabackup --role 'donor' ...'
WSREP_SST: [INFO] Streaming the backup to joiner at 127.0.0.1:4444 (20261206 23:38:10.000)
WSREP_SST: [INFO] mariadb-backup backup: /usr/bin/mariadb-backup --backup (20261206 23:38:11.000)
WSREP_SST: [INFO] Streaming the backup to joiner at 127.0.0.1:4444: transfer v2, 1 stream(s) (20261206 23:40:00.000)
WSREP_SST: [INFO] The joiner has 2.0 GiB of reference data in 40 files (20261206 23:42:00.250)
WSREP_SST: [INFO] mariadb-backup backup: /usr/bin/mariadb-backup --backup (20261206 23:42:00.500)
`
	// The last SST's lines count: 2 min 0.5 s between connecting and the
	// backup, the joiner's hashing window.
	if got := backupWait(log); math.Abs(got-120.5) > 1e-9 {
		t.Errorf("backupWait = %v, want 120.5", got)
	}
	if got := backupWait("WSREP_SST: [INFO] Streaming the backup to joiner at x (20261206 23:38:10.000)\n"); got != -1 {
		t.Errorf("backupWait without a backup line = %v, want -1", got)
	}
}
