package qpress

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReader decompresses an archive of about 4 MB made of the real
// mariadb-backup level-1 blocks of text.MYD.qp and the level-3 blocks of
// mixed.L3.qp, repeated. MB/s counts decompressed bytes.
func BenchmarkReader(b *testing.B) {
	arch, want := largeArchive(b, 40)
	b.SetBytes(int64(len(want)))
	b.ReportMetric(float64(len(want))/float64(len(arch)), "ratio")
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(arch))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLevel1 decompresses only the real mariadb-backup blocks.
func BenchmarkLevel1(b *testing.B) {
	arch := readFixture(b, "testdata/mariadb-backup/text.MYD.qp")
	_, _, pks := packets(b, arch)
	var all [][]byte
	for range 40 {
		all = append(all, pks...)
	}
	arch = buildArchive(b, "x", 65536, all)
	_, want, err := decodeAll(bytes.NewReader(arch))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(want)))
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(arch))
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
