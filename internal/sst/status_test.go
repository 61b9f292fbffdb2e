package sst

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/status"
)

// readStatus reads a status document.
func readStatus(t *testing.T, path string) status.Document {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d status.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return d
}

func stageNames(d status.Document) []string {
	var n []string
	for _, s := range d.Stages {
		n = append(n, s.Name)
	}
	return n
}

// TestStatusFileStages: [sst] status-file on both roles of an SST ends
// with stage done, the stages in the order of the protocol, the bytes
// moved, the peer and our pid.
func TestStatusFileStages(t *testing.T) {
	e := newSSTEnv(t, "")
	jstat := filepath.Join(e.base, "joiner.json")
	dstat := filepath.Join(e.base, "donor.json")
	writeStatusCnf(t, e.cnf, jstat)
	dcnf := filepath.Join(e.base, "donor.cnf")
	writeStatusCnf(t, dcnf, dstat)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	if _, err := e.runDonor(t, ctx, addr, "--defaults-file", dcnf); err != nil {
		t.Fatalf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	for _, tt := range []struct {
		path, role string
		stages     []string
	}{
		{jstat, "joiner", []string{"listening", "gtid", "receiving", "preparing", "swapping", "done"}},
		{dstat, "donor", []string{"gtid", "sending", "done"}},
	} {
		d := readStatus(t, tt.path)
		if d.Role != tt.role || d.Stage != "done" || d.Error != "" {
			t.Errorf("%s: role %q stage %q error %q, want %s, done, no error", tt.path, d.Role, d.Stage, d.Error, tt.role)
		}
		if got := stageNames(d); !reflect.DeepEqual(got, tt.stages) {
			t.Errorf("%s stages = %q, want %q", tt.role, got, tt.stages)
		}
		if d.BytesDone <= 0 || d.PID != os.Getpid() || d.Peer == "" {
			t.Errorf("%s: bytes_done %d, pid %d, peer %q", tt.role, d.BytesDone, d.PID, d.Peer)
		}
	}
}

// TestStatusFileFailure: a failed SST leaves stage failed and the error.
func TestStatusFileFailure(t *testing.T) {
	e := newSSTEnv(t, "")
	t.Setenv("FAKE_FAIL", "backup")
	dstat := filepath.Join(e.base, "donor.json")
	dcnf := filepath.Join(e.base, "donor.cnf")
	writeStatusCnf(t, dcnf, dstat)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	if _, err := e.runDonor(t, ctx, addr, "--defaults-file", dcnf); err == nil {
		t.Fatal("donor with a failing backup succeeded")
	}
	cancel()
	<-jdone
	d := readStatus(t, dstat)
	if d.Stage != "failed" || d.Error == "" {
		t.Errorf("stage %q error %q, want failed with the error", d.Stage, d.Error)
	}
}

// writeStatusCnf writes an option file to cnf whose [sst] group sets
// status-file=status (and no log archive).
func writeStatusCnf(t *testing.T, cnf, status string) {
	t.Helper()
	if err := os.WriteFile(cnf, []byte("[sst]\nsst-log-archive=0\nstatus-file="+status+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
