package xfer

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// BenchmarkSendPayload measures the donor's cost per byte of deciding
// between data and references, sending 16 MiB payloads to one discarding
// connection: without a manifest, with a manifest that matches nothing
// (a full SST), and with one that matches everything (a rejoin with no
// change).
func BenchmarkSendPayload(b *testing.B) {
	const size = 64 << 20
	rng := rand.New(rand.NewPCG(1, 1))
	data := randData(rng, size)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "same"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other"), randData(rng, 4<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	all, err := manifest.Build(b.Context(), dir, manifest.BuildOptions{Seed: 5})
	if err != nil {
		b.Fatal(err)
	}
	none, err := manifest.Build(b.Context(), dir, manifest.BuildOptions{Seed: 5, Include: func(p string, _ bool) bool { return p == "other" }})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    *manifest.Manifest
	}{{"nomanifest", nil}, {"nomatch", none}, {"allmatch", all}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				s := NewSender(b.Context(), []io.Writer{io.Discard}, SenderOptions{})
				for off := 0; off < size; off += 16 << 20 {
					if _, err := SendPayload(s, c.m, int64(off), data[off:off+16<<20]); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
