package stream

import (
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestParseZstd(t *testing.T) {
	def := zstdOptions{level: 3, threads: 1, check: true, windowLog: 27}
	with := func(f func(*zstdOptions)) *zstdOptions { o := def; f(&o); return &o }
	dec := func(o *zstdOptions) { o.decompress = true }
	level := func(n int) *zstdOptions { return with(func(o *zstdOptions) { o.level = n }) }
	threads := func(n int) *zstdOptions { return with(func(o *zstdOptions) { o.threads = n }) }
	tests := []struct {
		cmd  string
		want *zstdOptions // nil: external
	}{
		{"zstd", &def},
		{"zstd -c", &def},
		{"zstd -q -c", &def},
		{"zstd -qc", &def},
		{"/usr/bin/zstd -z -k -f -v", &def},
		{"zstd --compress --stdout --quiet --no-progress", &def},
		{"zstd -0", &def},
		{"zstd -1", level(1)},
		{"zstd -19", level(19)},
		{"zstd -q19", level(19)},
		{"zstd -5 -9", level(9)},
		{"zstd -22", level(19)}, // the CLI lowers it without --ultra
		{"zstd --ultra -22", level(22)},
		{"zstd -22 --ultra", level(22)},
		{"zstd --ultra -99", level(22)},
		{"zstd --fast", level(-1)},
		{"zstd --fast=5", level(-5)},
		{"zstd -3 --fast=2", level(-2)},
		{"zstd --fast=2 -3", level(3)},
		{"zstd -T0", threads(0)},
		{"zstd -T4", threads(4)},
		{"zstd -3T2", with(func(o *zstdOptions) { o.threads = 2 })},
		{"zstd -19 -T4", with(func(o *zstdOptions) { o.level = 19; o.threads = 4 })},
		{"zstd --threads=3", threads(3)},
		{"zstd --single-thread", with(func(o *zstdOptions) { o.single = true })},
		{"zstdmt", threads(0)},
		{"zstdmt -T2", threads(2)},
		{"zstd --no-check", with(func(o *zstdOptions) { o.check = false })},
		{"zstd --no-check --check", &def},
		{"zstd --format=zstd", &def},
		{"zstd -d", with(dec)},
		{"zstd -dc", with(dec)},
		{"zstd -d -c -q", with(dec)},
		{"zstd -qdcf", with(dec)},
		{"zstd --decompress --stdout", with(dec)},
		{"zstd --uncompress", with(dec)},
		{"zstd -dc -T4", with(func(o *zstdOptions) { o.decompress = true; o.threads = 4 })},
		{"zstd -d --no-check", with(func(o *zstdOptions) { o.decompress = true; o.check = false })},
		{"zstd -d --long", with(dec)},
		{"zstd -d --long=31", with(func(o *zstdOptions) { o.decompress = true; o.windowLog = 31 })},
		{"zstd --long=30 -dc", with(func(o *zstdOptions) { o.decompress = true; o.windowLog = 30 })},
		{"zstd -dc --pass-through", with(dec)},
		{"unzstd", with(dec)},
		{"zstdcat", with(dec)},
		{"zstd -d -z", &def},
		// External: other programs, files, shell syntax, options whose
		// meaning is not reproduced.
		{"zstdx", nil},
		{"pzstd", nil},
		{"zstd --long", nil}, // long-distance matching when compressing
		{"zstd --long=27 -3", nil},
		{"zstd -d --long=32", nil},
		{"zstd -d --long=x", nil},
		{"zstd --format=gzip", nil},
		{"zstd --format", nil},
		{"zstd --adapt", nil},
		{"zstd --rsyncable", nil},
		{"zstd -B1M", nil},
		{"zstd -D dict", nil},
		{"zstd -o out.zst", nil},
		{"zstd -M64", nil},
		{"zstd -d --memory=1GB", nil},
		{"zstd -l", nil},
		{"zstd -t", nil},
		{"zstd --test", nil},
		{"zstd -T", nil},
		{"zstd -Tx", nil},
		{"zstd --threads", nil},
		{"zstd --threads=", nil},
		{"zstd --fast=0", nil},
		{"zstd --fast=x", nil},
		{"zstd -99999999999", nil},
		{"zstd --check=1", nil},
		{"zstd file", nil},
		{"zstd -", nil},
		{"zstd --", nil},
		{"zstd -c > /tmp/x", nil},
		{"zstd -dc | cat", nil},
		{"ZSTD_CLEVEL=19 zstd", nil},
		{"nice zstd", nil},
		{"zstd $OPTS", nil},
		{"zstd '-19'", nil},
		{"zstd --foo=bar", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			c := parseInProcess(t, tt.cmd, tt.want, func(c Codec) *zstdOptions { return c.zstd })
			if c.lz4 != nil {
				t.Errorf("also parsed as lz4: %+v", *c.lz4)
			}
		})
	}
}

func TestZstdEncoderLevel(t *testing.T) {
	tests := []struct {
		level int
		want  zstd.EncoderLevel
	}{
		{-5, zstd.SpeedFastest}, {1, zstd.SpeedFastest}, {2, zstd.SpeedFastest},
		{3, zstd.SpeedDefault}, {5, zstd.SpeedDefault},
		{6, zstd.SpeedBetterCompression}, {9, zstd.SpeedBetterCompression},
		{10, zstd.SpeedBestCompression}, {19, zstd.SpeedBestCompression}, {22, zstd.SpeedBestCompression},
	}
	for _, tt := range tests {
		o := zstdOptions{level: tt.level}
		if got := o.encoderLevel(); got != tt.want {
			t.Errorf("level %d: %v, want %v", tt.level, got, tt.want)
		}
	}
}

func TestZstdConcurrency(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		o        zstdOptions
		wantN    int
		wantJobs bool
	}{
		{zstdOptions{threads: 1}, 2, false},
		{zstdOptions{threads: 1, single: true}, 1, false},
		{zstdOptions{threads: 4, single: true}, 1, false},
		{zstdOptions{threads: 0}, min(procs, maxZstdThreads), procs > 1},
		{zstdOptions{threads: 2}, min(2, procs), procs > 1},
		{zstdOptions{threads: 64}, min(procs, maxZstdThreads), procs > 1},
	}
	for _, tt := range tests {
		n, jobs := tt.o.concurrency()
		if tt.wantN == 1 && !tt.o.single {
			tt.wantN = 2 // one CPU: the async stream encoder
		}
		if n != tt.wantN || jobs != tt.wantJobs {
			t.Errorf("%+v: concurrency() = %d, %v; want %d, %v", tt.o, n, jobs, tt.wantN, tt.wantJobs)
		}
	}
}

func TestNewCodec(t *testing.T) {
	tests := []struct {
		f       Format
		level   int
		wantCmd string
	}{
		{LZ4, 0, "lz4"},
		{LZ4, 9, "lz4 -9"},
		{Zstd, 0, "zstd"},
		{Zstd, 1, "zstd -1"},
		{Zstd, 19, "zstd -19"},
		{Zstd, 22, "zstd --ultra -22"},
		{Zstd, -3, "zstd --fast=3"},
	}
	for _, tt := range tests {
		c, err := NewCodec(tt.f, tt.level)
		if err != nil {
			t.Fatalf("NewCodec(%s, %d): %v", tt.f, tt.level, err)
		}
		if c.Command() != tt.wantCmd || !c.InProcess() {
			t.Errorf("NewCodec(%s, %d): command %q, in process %v; want %q, true", tt.f, tt.level, c.Command(), c.InProcess(), tt.wantCmd)
		}
		if tt.f == Zstd && tt.level != 0 && c.zstd.level != tt.level {
			t.Errorf("NewCodec(%s, %d): level %d", tt.f, tt.level, c.zstd.level)
		}
	}
	for _, bad := range []struct {
		f     Format
		level int
	}{{LZ4, 13}, {LZ4, -1}, {Zstd, 23}, {Zstd, -1<<17 - 1}, {"gzip", 1}} {
		if _, err := NewCodec(bad.f, bad.level); err == nil {
			t.Errorf("NewCodec(%q, %d): no error", bad.f, bad.level)
		}
	}
}
