package sst

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/xfer"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
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

// manifestVersions is what an earlier release of ours speaks: the
// manifest engine, before delta by offer.
var manifestVersions = xfer.Range{Min: xfer.MinVersion, Max: xfer.AuthVersion}

// withVersions runs the test's SSTs, both sides, with the transfer
// versions r (xferVersions).
func withVersions(t *testing.T, r xfer.Range) {
	old := xferVersions
	xferVersions = r
	t.Cleanup(func() { xferVersions = old })
}

// bothEngines runs f as two subtests: the joiner's reference data found
// by offers (this release) and by its manifest (an earlier release's
// engine, which this one still speaks).
func bothEngines(t *testing.T, f func(t *testing.T)) {
	t.Run("offer", f)
	t.Run("manifest", func(t *testing.T) {
		withVersions(t, manifestVersions)
		f(t)
	})
}

// The joiner's previous data holds the table the donor sends: it goes as
// a reference, the rest as data.
func TestV2DeltaFromPreviousData(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		e := newSSTEnv(t, "parallel-streams=3\n")
		must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
		must(t, os.WriteFile(filepath.Join(e.joiner, "db", "t1.ibd"), fakeTable, 0o644))
		log := v2RoundTrip(t, e, "")
		for _, want := range []string{"over 3 stream(s)", "reused=69632 shared=", "as references to the joiner's data"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
		}
	})
}

// With delta by offer the joiner hashes nothing up front: it compares
// the blocks the donor offers, and only those.
func TestV2OffersReadOnlyWhatIsOffered(t *testing.T) {
	e := newSSTEnv(t, "")
	must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, "db", "t1.ibd"), fakeTable, 0o644))
	// Not in the donor's backup: never read.
	must(t, os.WriteFile(filepath.Join(e.joiner, "db", "old.ibd"), bytes.Repeat([]byte{7}, 1<<20), 0o644))
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"delta by offer", "here already; 68.0 KiB of the reference data read to compare", "reused=69632 shared="} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "Hashed") || strings.Contains(log, "Hashing") {
		t.Errorf("the joiner hashed its reference data up front:\n%s", log)
	}
}

// An interrupted attempt's staging directory is the next attempt's
// reference data, and is removed once that one succeeds.
func TestV2ResumeFromStaging(t *testing.T) {
	bothEngines(t, testV2ResumeFromStaging)
}

func testV2ResumeFromStaging(t *testing.T) {
	e := newSSTEnv(t, "")
	must(t, os.MkdirAll(filepath.Join(e.joiner, stagingDir, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, stagingDir, "db", "t1.ibd"), fakeTable, 0o644))
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"reference data for this one (resume)", "reused=69632 shared="} {
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
// (The manifest engine: with offers, the joiner reads a block when the
// donor offers it and again a moment later, when it rebuilds it; the same
// check guards that window, as TestV2HostileOffers shows.)
func TestV2ChangedReferenceFails(t *testing.T) {
	withVersions(t, manifestVersions)
	e := newSSTEnv(t, "")
	must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
	ref := filepath.Join(e.joiner, "db", "t1.ibd")
	must(t, os.WriteFile(ref, fakeTable, 0o644))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	gate := filepath.Join(e.base, "gate")
	t.Setenv("FAKE_GATE", gate)
	addr, _, jdone := e.startJoiner(t, ctx)
	donor := make(chan struct{})
	go func() {
		defer close(donor)
		_, _ = e.runDonor(t, ctx, addr) // it may have sent everything before the joiner failed
	}()
	// The joiner hashes once the donor's hello comes; wait for its
	// manifest to go, then change the file behind its back, then let
	// the backup send the table.
	waitFor(t, 10*time.Second, "the reference data hashed", func() bool { return strings.Contains(e.logs.String(), "reference data offered") })
	changed := bytes.Clone(fakeTable)
	changed[100] ^= 1
	must(t, os.WriteFile(ref, changed, 0o644))
	must(t, os.WriteFile(gate, nil, 0o644))
	<-donor
	jerr := <-jdone
	if code := fail.ClassOf(jerr); code != fail.Transfer {
		t.Fatalf("joiner class %v (%v), want %v", code, jerr, fail.Transfer)
	}
	if !strings.Contains(jerr.Error(), "referenced bytes differ") || !strings.Contains(jerr.Error(), "transfer-v2=0") {
		t.Errorf("joiner error %q does not name the mismatch and the fallback", jerr)
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

// hostileDonor plays a donor that sends a valid gtid stage and then a v2
// data stage of the manifest engine whose frames come from frames: the
// joiner must fail with exit 32 and one ERROR, leave its previous data
// alone and write nothing outside its staging directory.
func hostileDonor(t *testing.T, addr string, frames func(w *xfer.Writer, m *manifest.Manifest) error) {
	t.Helper()
	conns, v := hostileHello(t, addr, 1)
	data := conns[0]
	defer data.Close()
	m, err := manifest.Decode(bufio.NewReader(data), manifest.DecodeOptions{})
	must(t, err)
	fw := xfer.NewWriter(data, v)
	if err := frames(fw, m); err == nil {
		_ = fw.Close()
	}
}

// hostileHello sends a valid gtid stage to the joiner at addr and greets
// it on n data connections, closed at the end of the test.
func hostileHello(t *testing.T, addr string, n int) ([]net.Conn, xfer.Version) {
	t.Helper()
	// It knows the joiner's secret (what mysqld hands a donor): the
	// frames, not the gate, are under test here.
	auth, addr := splitAuth(addr)
	_, secret, _ := strings.Cut(auth, ":")
	hostPort, _, _ := strings.Cut(addr, "/")
	conn, err := net.Dial("tcp", hostPort)
	must(t, err)
	w := mbstream.NewWriter(conn)
	must(t, w.WriteFile(infoFile, []byte("6c1b8e2a-1111-11ef-8000-0242ac120002:42 0\nsecret "+secret+"\n")))
	must(t, w.Close())
	conn.Close()
	var conns []net.Conn
	var v xfer.Version
	for i := range n {
		var data net.Conn
		waitFor(t, 10*time.Second, "the joiner's data stage", func() bool {
			data, err = net.Dial("tcp", hostPort)
			return err == nil
		})
		t.Cleanup(func() { data.Close() })
		v, err = xfer.GreetAuth(data, xfer.Hello{Versions: xferVersions, Stream: i, Streams: n}, secret)
		must(t, err)
		conns = append(conns, data)
	}
	return conns, v
}

// A donor that breaks delta by offer fails the joiner as a hostile
// stream does: exit 32, one ERROR, the previous data untouched.
func TestV2HostileOffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, data, ctl net.Conn, v xfer.Version)
		want string
	}{
		{"garbage on the control stream", func(t *testing.T, _, ctl net.Conn, _ xfer.Version) {
			_, _ = ctl.Write([]byte("Zgarbage garbage garbage"))
		}, "invalid control message"},
		{"reference the joiner did not answer for", func(t *testing.T, data, ctl net.Conn, v xfer.Version) {
			// A proper start (the Offerer sends it and reads the
			// joiner's sources), then frames of our own: a reference
			// to the old table whose hash is wrong.
			o, err := xfer.NewOfferer(t.Context(), xfer.NewSender(t.Context(), []io.Writer{io.Discard}, xfer.SenderOptions{Version: v}), ctl, ctl, xfer.OffererOptions{Seed: 42})
			must(t, err)
			fw := xfer.NewWriter(data, v)
			if fw.WriteRef(0, xfer.Ref{Path: oldPrefix + "0/db/t1.ibd", Offset: 0, Length: 16384}) == nil {
				_ = fw.WriteEnd(1)
				_ = fw.Close()
			}
			_, _ = o.Close()
		}, "referenced bytes differ"},
		{"answers never read, control stream closed", func(t *testing.T, _, ctl net.Conn, _ xfer.Version) {
			ctl.Close()
		}, "control stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hostileRun(t, tc.want, func(addr string) {
				conns, v := hostileHello(t, addr, 2)
				if v < xfer.OfferVersion {
					t.Fatalf("negotiated version %d, want delta by offer (%d)", v, xfer.OfferVersion)
				}
				tc.run(t, conns[0], conns[1], v)
				conns[0].Close()
				conns[1].Close()
			})
		})
	}
}

// hostileRun starts a joiner whose previous data holds a table, lets
// donor play its donor at addr, and checks the verdict: exit 32, an
// error naming want, at most one ERROR, the previous data unchanged, and
// nothing in the datadir but what was there and the staging directory.
func hostileRun(t *testing.T, want string, donor func(addr string)) {
	t.Helper()
	e := newSSTEnv(t, "")
	old := filepath.Join(e.joiner, "db", "t1.ibd")
	must(t, os.MkdirAll(filepath.Dir(old), 0o755))
	must(t, os.WriteFile(old, fakeTable, 0o644))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	addr, _, jdone := e.startJoiner(t, ctx)
	donor(addr)
	err := <-jdone
	if code := fail.ClassOf(err); code != fail.Transfer {
		t.Fatalf("joiner class %v (%v), want %v", code, err, fail.Transfer)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("joiner error %q lacks %q", err, want)
	}
	if n := strings.Count(e.logs.String(), "[ERROR]"); n > 1 {
		t.Errorf("%d ERROR lines, want at most one", n)
	}
	if got, _ := os.ReadFile(old); !bytes.Equal(got, fakeTable) {
		t.Errorf("the previous data was changed")
	}
	entries, _ := os.ReadDir(e.joiner)
	for _, en := range entries {
		switch en.Name() {
		case "db", stagingDir, "grastate.dat", progressMarker, "wsrep_sst.pid":
		default:
			t.Errorf("unexpected %s in the datadir after the failed SST", en.Name())
		}
	}
}

func TestV2HostileDonor(t *testing.T) {
	withVersions(t, manifestVersions)
	for _, tc := range []struct {
		name   string
		frames func(w *xfer.Writer, m *manifest.Manifest) error
		want   string
	}{
		{"reference outside the reference set", func(w *xfer.Writer, _ *manifest.Manifest) error {
			if err := w.WriteRef(0, xfer.Ref{Path: "etc/passwd", Offset: 0, Length: 100}); err != nil {
				return err
			}
			return w.WriteEnd(1)
		}, "bad reference path"},
		{"reference past the end of a file", func(w *xfer.Writer, m *manifest.Manifest) error {
			f := m.Files()[0]
			if err := w.WriteRef(0, xfer.Ref{Path: f.Path, Offset: f.Size - 10, Length: 100}); err != nil {
				return err
			}
			return w.WriteEnd(1)
		}, "past the end of its file"},
		{"reference with a wrong hash", func(w *xfer.Writer, m *manifest.Manifest) error {
			f := m.Files()[0]
			if err := w.WriteRef(0, xfer.Ref{Path: f.Path, Offset: 0, Length: int(f.Size)}); err != nil {
				return err
			}
			return w.WriteEnd(1)
		}, "referenced bytes differ"},
		{"data frame larger than a donor writes", func(w *xfer.Writer, _ *manifest.Manifest) error {
			if err := w.WriteData(0, make([]byte, 2*xfer.DefaultFrameSize)); err != nil {
				return err
			}
			return w.WriteEnd(1)
		}, "too large"},
		{"end frame with a wrong total", func(w *xfer.Writer, _ *manifest.Manifest) error {
			if err := w.WriteData(0, []byte("XBSTCK01")); err != nil {
				return err
			}
			return w.WriteEnd(5)
		}, "xfer"},
		{"stream cut in the middle", func(w *xfer.Writer, _ *manifest.Manifest) error {
			if err := w.WriteData(0, []byte("XBSTCK01")); err != nil {
				return err
			}
			_ = w.Flush()
			return errors.New("cut")
		}, "truncated stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hostileRun(t, tc.want, func(addr string) { hostileDonor(t, addr, tc.frames) })
		})
	}
}

// Previous data that is not kept (keep-datadir=0 here; a disk too full
// for old and new side by side does the same) is patched in place: the
// unchanged blocks stay where they are, a changed one is written, the
// file takes the donor's size, and what the donor does not have goes.
func TestV2DeltaInPlace(t *testing.T) {
	e := newSSTEnv(t, "keep-datadir=0\n")
	old := bytes.Clone(fakeTable)
	old[20000] ^= 1                                     // one changed block
	old = append(old, bytes.Repeat([]byte{9}, 5000)...) // and longer
	must(t, os.MkdirAll(filepath.Join(e.joiner, "db"), 0o755))
	must(t, os.MkdirAll(filepath.Join(e.joiner, "dropped"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, "db", "t1.ibd"), old, 0o644))
	must(t, os.WriteFile(filepath.Join(e.joiner, "db", "gone.ibd"), fakeTable, 0o644))
	must(t, os.WriteFile(filepath.Join(e.joiner, "dropped", "x.ibd"), fakeTable, 0o644))
	before, err := os.Stat(filepath.Join(e.joiner, "db", "t1.ibd"))
	must(t, err)
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"Delta in place: moved", "inplace=53248", "removed 2 entries the donor no longer has"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	after, err := os.Stat(filepath.Join(e.joiner, "db", "t1.ibd"))
	must(t, err)
	if !os.SameFile(before, after) {
		t.Errorf("db/t1.ibd was written anew, not patched in place")
	}
	for _, p := range []string{"db/gone.ibd", "dropped", stagingDir} {
		if _, err := os.Stat(filepath.Join(e.joiner, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after the SST (%v)", p, err)
		}
	}
}

// An interrupted delta in place leaves its staging directory, patched so
// far: the next attempt builds on it (resume) rather than removing it to
// make room.
func TestV2DeltaInPlaceResumes(t *testing.T) {
	e := newSSTEnv(t, "keep-datadir=0\n")
	must(t, os.MkdirAll(filepath.Join(e.joiner, stagingDir, "db"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.joiner, stagingDir, "db", "t1.ibd"), fakeTable, 0o644))
	log := v2RoundTrip(t, e, "")
	for _, want := range []string{"reference data for this one (resume)", "Delta in place: moved 1 entries", "inplace=69632"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "to make room") {
		t.Errorf("the interrupted attempt's data was removed:\n%s", log)
	}
}

// With keep-datadir=0 an interrupted attempt's data stays reference data
// whichever engine the donor runs: the base of a delta in place, or the
// manifest's reference data for an earlier release (never removed to
// make room there, as before delta in place).
func TestV2ResumeKeepDatadir0(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		e := newSSTEnv(t, "keep-datadir=0\n")
		must(t, os.MkdirAll(filepath.Join(e.joiner, stagingDir, "db"), 0o755))
		must(t, os.WriteFile(filepath.Join(e.joiner, stagingDir, "db", "t1.ibd"), fakeTable, 0o644))
		log := v2RoundTrip(t, e, "")
		if !strings.Contains(log, "reused=69632 ") || strings.Contains(log, "to make room") {
			t.Errorf("the interrupted attempt's data was not reused:\n%s", log)
		}
	})
}
