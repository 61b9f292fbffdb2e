package sst

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// v2RoundTrip runs one SST with the fake mariadb-backup between a joiner
// and a donor whose option file adds donorCnf, and returns the log.
func v2RoundTrip(t *testing.T, e *sstEnv, donorCnf string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	var extra []string
	if donorCnf != "" {
		p := filepath.Join(e.base, "donor.cnf")
		must(t, os.WriteFile(p, []byte("[sst]\nsst-log-archive=0\n"+donorCnf), 0o644))
		extra = []string{"--defaults-file", p}
	}
	if _, err := e.runDonor(t, ctx, addr, extra...); err != nil {
		t.Fatalf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(e.joiner, "db", "t1.ibd"))
	if err != nil || !bytes.Equal(got, fakeTable) {
		t.Errorf("db/t1.ibd not restored (err %v, %d bytes)", err, len(got))
	}
	return e.logs.String()
}

// The joiner's previous data holds the table the donor sends: it goes as
// a reference, the rest as data.
func TestV2DeltaFromPreviousData(t *testing.T) {
	e := newSSTEnv(t, "parallel-streams=3\n")
	must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, "db", "t1.ibd"), fakeTable, 0o644))
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"over 3 stream(s)", "reused=69632)", "as references to the joiner's data"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// An interrupted attempt's staging directory is the next attempt's
// reference data, and is removed once that one succeeds.
func TestV2ResumeFromStaging(t *testing.T) {
	e := newSSTEnv(t, "")
	must(t, os.MkdirAll(filepath.Join(e.joiner, stagingDir, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, stagingDir, "db", "t1.ibd"), fakeTable, 0o644))
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"reference data for this one (resume)", "reused=69632)"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, d := range []string{stagingDir, resumeDir} {
		if _, err := os.Stat(filepath.Join(e.joiner, d)); !os.IsNotExist(err) {
			t.Errorf("%s left after the SST (%v)", d, err)
		}
	}
}

// A reference file that changed after it was hashed fails the SST with
// exit 32 rather than producing other bytes than the donor's.
func TestV2ChangedReferenceFails(t *testing.T) {
	e := newSSTEnv(t, "")
	must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
	ref := filepath.Join(e.joiner, "db", "t1.ibd")
	must(t, os.WriteFile(ref, fakeTable, 0o644))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	// The joiner hashes while waiting for the donor; wait for the hash,
	// then change the file behind its back.
	waitFor(t, 10*time.Second, "the reference data hashed", func() bool { return strings.Contains(e.logs.String(), "of reference data in") })
	changed := bytes.Clone(fakeTable)
	changed[100] ^= 1
	must(t, os.WriteFile(ref, changed, 0o644))
	_, derr := e.runDonor(t, ctx, addr)
	jerr := <-jdone
	if code := ExitCode(jerr); code != ExitPipe {
		t.Fatalf("joiner exit %d (%v), want %d", code, jerr, ExitPipe)
	}
	if !strings.Contains(jerr.Error(), "referenced bytes differ") || !strings.Contains(jerr.Error(), "transfer-v2=0") {
		t.Errorf("joiner error %q does not name the mismatch and the fallback", jerr)
	}
	if derr == nil {
		t.Errorf("the donor succeeded although the joiner failed")
	}
	if got, _ := os.ReadFile(ref); !bytes.Equal(got, changed) {
		t.Errorf("the previous data was changed by the failed SST")
	}
}

// transfer-v2=0 on the donor: the joiner's offer is declined and the stock
// stream goes, which the joiner reads as from a stock donor.
func TestV2DeclinedByDonor(t *testing.T) {
	e := newSSTEnv(t, "")
	log := v2RoundTrip(t, e, "transfer-v2=0\n")
	for _, want := range []string{"transfer-v2=0 here: sending the stock stream", "The donor sends the stock stream"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// transfer-v2=0 on the joiner: no offer (the script's empty lsn field), no
// hashing, the stock stream.
func TestV2NotOfferedByJoiner(t *testing.T) {
	e := newSSTEnv(t, "transfer-v2=0\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	if !strings.HasSuffix(addr, "/xtrabackup_sst//1") {
		t.Errorf("ready address = %q, want .../xtrabackup_sst//1", addr)
	}
	if _, err := e.runDonor(t, ctx, addr); err != nil {
		t.Fatalf("donor: %v", err)
	}
	if err := <-jdone; err != nil {
		t.Fatalf("joiner: %v", err)
	}
	if log := e.logs.String(); strings.Contains(log, "reference data") || strings.Contains(log, "transfer v2") {
		t.Errorf("v2 ran although the joiner did not offer it:\n%s", log)
	}
}
