package swap

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchTree writes a datadir of 2050 files of 1 KiB (50 at the top, 20
// schema directories of 100), flushes it to disk as an old datadir would
// be, then writes a prepared staging tree of the same shape, left dirty in
// the page cache as a fresh prepare leaves it.
func benchTree(b *testing.B) env {
	b.Helper()
	e := newEnv(b.TempDir())
	buf := make([]byte, 1024)
	for _, root := range []string{e.data, e.staging} {
		for i := range 50 {
			writeBench(b, filepath.Join(root, fmt.Sprintf("ibdata%d", i)), buf)
		}
		for d := range 20 {
			for f := range 100 {
				writeBench(b, filepath.Join(root, fmt.Sprintf("db%d", d), fmt.Sprintf("t%d.ibd", f)), buf)
			}
		}
		if root == e.data {
			writeBench(b, filepath.Join(e.data, "grastate.dat"), buf)
			for _, d := range []string{e.iblogs, e.binlogs} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := syncFS(e.data); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(e.staging, "iblogs"), 0o755); err != nil {
		b.Fatal(err)
	}
	return e
}

func writeBench(b *testing.B, p string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o640); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSwap times, on a 2050-file datadir, the two halves of the swap
// (Begin: renames, journal and directory syncs; Commit: syncfs of the new
// tree, journal, deletion of the old one) and the stock wipe's deletion of
// the same entries. The time the swap adds is begin + commit - stock-wipe.
//
//	go test -run '^$' -bench Swap -benchtime 20x ./internal/swap/
func BenchmarkSwap(b *testing.B) {
	b.Run("begin", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := benchTree(b)
			b.StartTimer()
			if _, err := Begin(b.Context(), e.plan()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("commit", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := benchTree(b)
			sw, err := Begin(b.Context(), e.plan())
			if err != nil {
				b.Fatal(err)
			}
			e.moveIn(b, -1) // the move-back, the same in both orders
			b.StartTimer()
			if err := sw.Commit(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stock-wipe", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := benchTree(b)
			entries, err := os.ReadDir(e.data)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for _, x := range entries {
				p := e.data + "/" + x.Name()
				if cpat.MatchString(p) || p == e.staging {
					continue
				}
				if err := os.RemoveAll(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkSyncNewTree compares the two ways of making a freshly written
// 2050-file tree durable.
//
//	go test -run '^$' -bench SyncNewTree -benchtime 10x ./internal/swap/
func BenchmarkSyncNewTree(b *testing.B) {
	for _, m := range []struct {
		name string
		sync func(string) error
	}{
		{"fsync-each", func(d string) error { return FsyncTree(b.Context(), d) }},
		{"syncfs", syncFS},
	} {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				e := benchTree(b)
				b.StartTimer()
				if err := m.sync(e.staging); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
