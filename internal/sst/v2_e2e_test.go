package sst

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// v2StatsRE is the joiner's summary of a v2 data stage.
var v2StatsRE = regexp.MustCompile(`Received (\d+) bytes in [0-9.]+s: .* over (\d+) stream\(s\).*\(v2 wire=(\d+) reused=(\d+) shared=(\d+) inplace=(\d+)\)`)

type v2Stats struct {
	bytes, streams, wire, reused, shared, inplace int64
}

// lastV2Stats returns the joiner's last v2 summary in log, failing the
// test when there is none (the transfer was not v2).
func lastV2Stats(t *testing.T, log string) v2Stats {
	t.Helper()
	m := v2StatsRE.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		t.Fatalf("the joiner ran no v2 transfer:\n%s", grep(log, "WSREP_SST"))
	}
	last := m[len(m)-1]
	var v [6]int64
	for i := range v {
		n, err := strconv.ParseInt(last[i+1], 10, 64)
		must(t, err)
		v[i] = n
	}
	st := v2Stats{bytes: v[0], streams: v[1], wire: v[2], reused: v[3], shared: v[4], inplace: v[5]}
	t.Logf("v2: %d bytes of stream, %d on the wire over %d streams, %d reused, %d of it shared (reflink), %d left in place", st.bytes, st.wire, st.streams, st.reused, st.shared, st.inplace)
	return st
}

// TestE2ETransferV2 runs the v2 data stage between two nodes running our
// binary, with TLS, zstd on every connection and three parallel streams:
// a full SST, a rejoin after about 10% of a table's rows changed (delta
// against the kept datadir), and a resume after the donor was killed
// half-way into an empty joiner (delta against the interrupted attempt's
// staging directory). Table checksums must match each time.
func TestE2ETransferV2(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	certs := makeCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	readableBy(t, certs.CA, certs.Cert, certs.Key)
	c, ctx := cluster(t, "gov2")
	ctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	sst := []string{"encrypt=3", "tca=" + certs.CA, "tcert=" + certs.Cert, "tkey=" + certs.Key,
		"compressor=zstd -1", "decompressor=zstd -d", "parallel-streams=3"}
	n1, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin, SST: sst})
	must(t, err)
	n2, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin, SST: sst, Volume: joinerVolume()})
	must(t, err)
	startSynced(ctx, t, n1, true)
	must(t, galeratest.LoadData(ctx, n1, "sbtest", 40000))

	var full v2Stats
	t.Run("full", func(t *testing.T) {
		startSynced(ctx, t, n2, false)
		log := assertTransfer(t, n2, "SST", true)
		full = lastV2Stats(t, log)
		if full.streams != 3 {
			t.Errorf("%d streams, want 3 (parallel-streams=3)", full.streams)
		}
		if !strings.Contains(log, "with key and crt") {
			t.Errorf("the joiner did not use TLS:\n%s", grep(log, "WSREP_SST"))
		}
		// A fresh joiner has no data the donor's stream holds (its own
		// system tables differ): next to nothing is reused.
		if full.reused > full.bytes/10 {
			t.Errorf("a fresh joiner reused %d of %d bytes", full.reused, full.bytes)
		}
		assertSameData(ctx, t, n1, n2)
	})
	if full.bytes == 0 {
		t.Fatal("no full v2 SST to compare with")
	}

	t.Run("rejoin", func(t *testing.T) {
		forceSST(ctx, t, n2)
		_, err := n1.Exec(ctx, "UPDATE sbtest.t1 SET k = k + 1 WHERE id % 10 = 0")
		must(t, err)
		startSynced(ctx, t, n2, false)
		log := assertTransfer(t, n2, "SST", true)
		st := lastV2Stats(t, log)
		if st.reused < st.bytes/2 {
			t.Errorf("rejoin reused %d of %d bytes, want at least half", st.reused, st.bytes)
		}
		if st.shared != 0 {
			t.Errorf("%d bytes shared with the previous files on ext4, which has no reflinks", st.shared)
		}
		if st.wire > full.wire*2/5 {
			t.Errorf("rejoin sent %d bytes on the wire, a full SST %d: want well under", st.wire, full.wire)
		}
		assertSameData(ctx, t, n1, n2)
	})

	t.Run("resume", func(t *testing.T) {
		forceSST(ctx, t, n2)
		// keep-datadir=0 keeps no previous data: with our donor both
		// attempts patch it in place (the first moves it into the
		// staging directory, the second takes that staging directory,
		// patched so far, as its own): an interrupted delta in place,
		// then its resume.
		must(t, n2.Reconfigure(func(c *galeratest.NodeConfig) { c.SST = append(append([]string{}, sst...), "keep-datadir=0") }))
		// The donor pauses after 3/4 of its InnoDB data files' size (so
		// always within the stream, which also holds the redo log: the
		// full SST above sent 72 to 107 MB for the same data) and is
		// killed once the joiner has staged a quarter of that: less
		// arrives than the donor read, as the joiner writes whole
		// chunks of up to 10 MB and the last ones' tails stay in the
		// donor's compressors (about 18 of 48 MB here).
		data := innodbBytes(t, n1.Datadir())
		killDonorSST(ctx, t, n1, n2, data*3/4, func() {
			waitFor(t, time.Minute, "a quarter of the data in the joiner's staging directory", func() bool { return stagedBytes(n2) > data/4 })
		})
		if _, err := os.Stat(filepath.Join(n2.Datadir(), stagingDir)); err != nil {
			t.Fatalf("the interrupted attempt left no staging directory: %v", err)
		}
		startSynced(ctx, t, n2, false)
		log := assertTransfer(t, n2, "SST", true)
		if !strings.Contains(log, "reference data for this one (resume)") {
			t.Errorf("the joiner did not resume:\n%s", grep(log, "WSREP_SST"))
		}
		st := lastV2Stats(t, log)
		if !strings.Contains(log, "Delta in place: moved") || st.inplace < st.bytes/4 {
			t.Errorf("the resumed attempt did not build on the patched data in place (%d of %d bytes left in place):\n%s", st.inplace, st.bytes, grep(log, "WSREP_SST"))
		}
		if st.reused < st.bytes/4 {
			t.Errorf("the resumed attempt reused %d of %d bytes, want at least a quarter", st.reused, st.bytes)
		}
		if st.wire > full.wire*4/5 {
			t.Errorf("the resumed attempt sent %d bytes on the wire, a full SST %d", st.wire, full.wire)
		}
		if _, err := os.Stat(filepath.Join(n2.Datadir(), resumeDir)); !os.IsNotExist(err) {
			t.Errorf("%s still there after a successful SST (%v)", resumeDir, err)
		}
		assertSameData(ctx, t, n1, n2)
	})
}

// innodbBytes is the size of the InnoDB data files under dir (system and
// undo tablespaces, .ibd files): the bulk of a backup stream, without the
// redo log, whose share of the stream varies from one backup to the next.
func innodbBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != dir && strings.HasPrefix(name, ".") {
			return fs.SkipDir // an SST's staging or set-aside data
		}
		innodb := strings.HasPrefix(name, "ibdata") || strings.HasPrefix(name, "undo") || strings.HasSuffix(name, ".ibd")
		if !innodb || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		return nil
	})
	must(t, err)
	t.Logf("%s: %d bytes of InnoDB data files", dir, total)
	return total
}
