package mbstream

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/reflink"
)

// reflinkClone adapts reflink.CloneRange to DirSinkOptions.CloneRange, as
// the joiner does.
func reflinkClone(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (bool, error) {
	err := reflink.CloneRange(dst, dstOff, src, srcOff, n)
	if errors.Is(err, reflink.ErrUnsupported) {
		return false, nil
	}
	return err == nil, err
}

// TestDirSinkSharesClones builds a file from an old copy on real
// filesystems: on XFS (reflink) and btrfs the aligned clones share the old
// file's blocks (FIEMAP says so) and nothing of them is written; on ext4
// they are written; the bytes are the same everywhere.
func TestDirSinkSharesClones(t *testing.T) {
	for _, tc := range []struct {
		fs     string
		shares bool
	}{{"xfs", true}, {"btrfs", true}, {"ext4", false}} {
		t.Run(tc.fs, func(t *testing.T) {
			vol := galeratest.ScratchVolume(t, tc.fs, 512<<20)
			for _, d := range []string{"old", "new"} {
				if err := os.Mkdir(filepath.Join(vol, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			old := make([]byte, 1<<20)
			for i := range old {
				old[i] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(vol, "old", "t1.ibd"), old, 0o644); err != nil {
				t.Fatal(err)
			}
			refs := openRoot(t, filepath.Join(vol, "old"))
			root := openRoot(t, filepath.Join(vol, "new"))
			var sharedInto []string
			s := NewDirSink(root, DirSinkOptions{Refs: refs, CloneRange: reflinkClone, Shared: func(dst *os.File) {
				sharedInto = append(sharedInto, filepath.Base(dst.Name()))
			}})
			f, err := s.Create("t1.ibd")
			if err != nil {
				t.Fatal(err)
			}
			// new = old with one changed 16 KiB page at 256 KiB and an
			// unaligned clones in the last 4 KiB block.
			want := bytes.Clone(old)
			page := make([]byte, 16<<10)
			for i := range page {
				page[i] = byte(rng.Uint32())
			}
			copy(want[256<<10:], page)
			clone := func(off, n int64) {
				t.Helper()
				c := Clone{Ref: "t1.ibd", RefOff: off, Len: n, Off: off, CRC: crc32.ChecksumIEEE(old[off : off+n])}
				if err := f.Clone(c); err != nil {
					t.Fatal(err)
				}
			}
			clone(0, 256<<10)
			if _, err := f.WriteAt(page, 256<<10); err != nil {
				t.Fatal(err)
			}
			clone(272<<10, (1<<20)-4096-(272<<10))
			clone((1<<20)-4096, 4096-100) // unaligned: written
			clone((1<<20)-100, 100)
			if err := f.End(1 << 20); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(vol, "new", "t1.ibd"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the built file differs from the old one with its page changed")
			}
			nf, err := os.Open(filepath.Join(vol, "new", "t1.ibd"))
			if err != nil {
				t.Fatal(err)
			}
			defer nf.Close()
			shared, err := reflink.SharedBytes(nf)
			if err != nil {
				t.Fatal(err)
			}
			aligned := int64(1<<20) - 16<<10 - 4096 // all but the page and the last block
			if tc.shares {
				if s.Cloned() != aligned || shared < aligned {
					t.Errorf("cloned %d bytes, %d shared on disk; want %d of both", s.Cloned(), shared, aligned)
				}
			} else if s.Cloned() != 0 || shared != 0 {
				t.Errorf("ext4: cloned %d, shared %d; want 0 (written)", s.Cloned(), shared)
			}
			// Shared hears of the file once, after its first clone.
			wantShared := []string{"t1.ibd"}
			if !tc.shares {
				wantShared = nil
			}
			if !slices.Equal(sharedInto, wantShared) {
				t.Errorf("Shared called for %q, want %q", sharedInto, wantShared)
			}
		})
	}
}
