package galeratest

import (
	"testing"
	"time"
)

// Excerpts of a real joiner error log (MariaDB 10.11.19, galera-4 26.4.23,
// stock script), captured by TestStockSSTThenIST.
const (
	sstLog = `2026-11-24 11:43:40 2 [Note] WSREP: Cert index reset to 00000000-0000-0000-0000-000000000000:-1 (proto: 11), state transfer needed: yes
	Group state: 4a419299-e7fc-11f1-82bc-660d7ad39e20:8
	Local state: 00000000-0000-0000-0000-000000000000:-1
WSREP_SST: [INFO] stocktest SST started on joiner (20261124 11:43:40.338)
WSREP_SST: [INFO] Cleaning up temporary directories (20261124 11:43:52.367)
2026-11-24 11:43:52 3 [Note] WSREP: SST received: 4a419299-e7fc-11f1-82bc-660d7ad39e20:8
2026-11-24 11:43:52 2 [Note] WSREP: Installed new state from SST: 4a419299-e7fc-11f1-82bc-660d7ad39e20:8
2026-11-24 11:43:52 2 [Note] WSREP: IST received: 4a419299-e7fc-11f1-82bc-660d7ad39e20:8
`
	istLog = `2026-11-24 11:43:22 2 [Note] WSREP: Cert index reset to 00000000-0000-0000-0000-000000000000:-1 (proto: 11), state transfer needed: yes
	Group state: 37f8499c-e7fc-11f1-bdbb-87aa440ae657:14
	Local state: 37f8499c-e7fc-11f1-bdbb-87aa440ae657:8
WSREP_SST: [INFO] 'xtrabackup_ist' received from donor: Running IST (20261124 11:43:23.807)
2026-11-24 11:43:23 2 [Note] WSREP: Installed new state from SST: 37f8499c-e7fc-11f1-bdbb-87aa440ae657:8
2026-11-24 11:43:23 2 [Note] WSREP: Receiving IST: 6 writesets, seqnos 9-14
2026-11-24 11:43:23 2 [Note] WSREP: IST received: 37f8499c-e7fc-11f1-bdbb-87aa440ae657:14
`
)

func TestStateTransfer(t *testing.T) {
	for _, tc := range []struct {
		name, log, want string
	}{
		{"sst", sstLog, "SST"},
		{"ist", istLog, "IST"},
		{"none", "2026-11-24 11:43:22 0 [Note] WSREP: Synchronized with group, ready for connections\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StateTransfer(tc.log); got != tc.want {
				t.Errorf("StateTransfer() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSSTDuration(t *testing.T) {
	got, ok := SSTDuration(sstLog)
	if want := 12029 * time.Millisecond; !ok || got != want {
		t.Errorf("SSTDuration() = %v, %v; want %v, true", got, ok, want)
	}
	if _, ok := SSTDuration("no sst lines\n"); ok {
		t.Error("SSTDuration() of a log without WSREP_SST lines: ok = true, want false")
	}
}

func TestLastSSTStamp(t *testing.T) {
	got, ok := LastSSTStamp(sstLog, "SST started on joiner")
	if want := time.Date(2026, 11, 24, 11, 43, 40, 338e6, time.Local); !ok || !got.Equal(want) {
		t.Errorf("LastSSTStamp(started) = %v, %v; want %v", got, ok, want)
	}
	// The last of two matching lines; mysqld's own lines do not count.
	got, ok = LastSSTStamp(sstLog, "WSREP")
	if want := time.Date(2026, 11, 24, 11, 43, 52, 367e6, time.Local); !ok || !got.Equal(want) {
		t.Errorf("LastSSTStamp(WSREP) = %v, %v; want %v", got, ok, want)
	}
	if got, ok := LastSSTStamp(sstLog, "Preparing the backup"); ok {
		t.Errorf("LastSSTStamp(absent) = %v, true; want false", got)
	}
}
