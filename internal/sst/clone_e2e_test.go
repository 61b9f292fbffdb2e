package sst

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/reflink"
)

// TestE2ERejoinClones: with the joiner's datadir on XFS (reflink) or
// btrfs, a rejoin keeps the previous datadir until the new one is
// prepared, yet the unchanged data costs no second copy: the joiner
// clones it from the old files (its summary counts the shared bytes), and
// on XFS the volume's used space grows, until the joiner prepares, by
// about the bytes that were not shared. Tables match.
func TestE2ERejoinClones(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	for _, fs := range []string{"xfs", "btrfs"} {
		t.Run(fs, func(t *testing.T) {
			c, ctx := cluster(t, "goclone"+fs)
			ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
			defer cancel()
			n1, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin})
			must(t, err)
			n2, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin, Volume: galeratest.Volume{FS: fs, Size: 2 << 30}})
			must(t, err)
			startSynced(ctx, t, n1, true)
			must(t, galeratest.LoadData(ctx, n1, "sbtest", 60000))
			startSynced(ctx, t, n2, false)
			full := lastV2Stats(t, assertTransfer(t, n2, "SST", true))

			forceSST(ctx, t, n2)
			_, err = n1.Exec(ctx, "UPDATE sbtest.t1 SET k = k + 1 WHERE id % 10 = 0")
			must(t, err)
			disk, err := galeratest.SampleDisk(n2.Datadir(), 50*time.Millisecond)
			must(t, err)
			startSynced(ctx, t, n2, false)
			extra := disk.Stop()
			log := assertTransfer(t, n2, "SST", true)
			st := lastV2Stats(t, log)
			if st.reused < st.bytes/2 {
				t.Errorf("rejoin reused %d of %d bytes, want at least half", st.reused, st.bytes)
			}
			// Every whole page of the reused data is shared; what is not
			// is the odd tail of a reference (the last block of a file).
			if st.shared < st.reused*9/10 {
				t.Errorf("%d of the %d reused bytes shared with the previous files, want at least 90%%:\n%s", st.shared, st.reused, grep(log, "WSREP_SST"))
			}
			// What the SST program itself costs is the growth until the
			// joiner starts preparing: a copy of the reused data would grow
			// the volume by about the stream's size, clones by the bytes
			// that came over the wire and some metadata and speculative
			// preallocation. Preparing then rewrites the pages the copied
			// redo log changes, which stop sharing blocks with the previous
			// files: nearly all of t1 when the donor had not flushed the
			// update yet, fewer pages the more it had (the whole rejoin grew
			// by 35 to 51 MB in runs that grew by 4 MB until prepare),
			// which is not the transfer's doing. btrfs's
			// free-space count moves by whole allocated chunks and its own
			// copy-on-write metadata, so the extents are what tells there.
			prepared, ok := galeratest.LastSSTStamp(log, "Preparing the backup at")
			if !ok {
				t.Fatalf("the joiner did not log preparing:\n%s", grep(log, "WSREP_SST"))
			}
			received := disk.PeakBefore(prepared)
			t.Logf("volume grew by at most %d bytes until prepare, %d during the whole rejoin (a full SST's stream: %d bytes)", received, extra, full.bytes)
			const slack = 16 << 20
			if own := st.bytes - st.shared; fs == "xfs" && received > own+slack {
				t.Errorf("the volume grew by %d bytes until prepare, more than the %d bytes not shared plus %d: the reused data was copied, not shared", received, own, slack)
			}
			// The cloned files carry the 16 KiB copy-on-write hint, so
			// that prepare's rewrites reserve pages, not 128 KiB each.
			if fs == "xfs" {
				ibd := filepath.Join(n2.Datadir(), "sbtest", "t1.ibd")
				out, err := exec.CommandContext(ctx, "xfs_io", "-c", "cowextsize", ibd).CombinedOutput()
				if want := fmt.Sprintf("[%d] %s", reflink.CopyOnWriteUnit, ibd); err != nil || strings.TrimSpace(string(out)) != want {
					t.Errorf("xfs_io -c cowextsize %s: %q (%v), want %q", ibd, out, err, want)
				}
			}
			assertSameData(ctx, t, n1, n2)
		})
	}
}
