package stream

import (
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func TestParseCodec(t *testing.T) {
	def := lz4Options{level: lz4.Fast, blockSize: lz4.Block4Mb, contentChecksum: true}
	with := func(f func(*lz4Options)) *lz4Options { o := def; f(&o); return &o }
	dec := func(o *lz4Options) { o.decompress = true }
	tests := []struct {
		cmd  string
		want *lz4Options // nil: external
	}{
		{"lz4", &def},
		{"lz4 -z", &def},
		{"lz4 -c", &def},
		{"lz4 -zc", &def},
		{"  lz4   -q  ", &def},
		{"/usr/bin/lz4 -z", &def},
		{"lz4 -1", &def},
		{"lz4 --fast", &def},
		{"lz4 --fast=3", &def},
		{"lz4 -d", with(dec)},
		{"lz4 -dc", with(dec)},
		{"lz4 -d -c -q", with(dec)},
		{"lz4 --decompress --stdout", with(dec)},
		{"unlz4", with(dec)},
		{"lz4cat", with(dec)},
		{"lz4 -q -B7", &def},
		{"lz4 -B4", with(func(o *lz4Options) { o.blockSize = lz4.Block64Kb })},
		{"lz4 -B5X", with(func(o *lz4Options) { o.blockSize = lz4.Block256Kb; o.blockChecksum = true })},
		{"lz4 -BD -B6", with(func(o *lz4Options) { o.blockSize = lz4.Block1Mb })},
		{"lz4 -9", with(func(o *lz4Options) { o.level = lz4.Level9 })},
		{"lz4 -3q", with(func(o *lz4Options) { o.level = lz4.Level3 })},
		{"lz4 -12", with(func(o *lz4Options) { o.level = lz4.Level9 })},
		{"lz4 --best", with(func(o *lz4Options) { o.level = lz4.Level9 })},
		{"lz4 --no-frame-crc", with(func(o *lz4Options) { o.contentChecksum = false })},
		{"lz4 -z -d", with(dec)},
		{"lz4 -d -z", &def},
		// External: other programs, files, shell syntax, unknown options.
		{"gzip -c", nil},
		{"lz4x", nil},
		{"lz4 -l", nil},
		{"lz4 -m", nil},
		{"lz4 -B32", nil},
		{"lz4 -B9", nil},
		{"lz4 -T2", nil},
		{"lz4 file.lz4", nil},
		{"lz4 -", nil},
		{"lz4 --fast=x", nil},
		{"lz4 --content-size", nil},
		{"lz4 -d | cat", nil},
		{"lz4 -d 2>/dev/null", nil},
		{"nice lz4", nil},
		{"LZ4_CLEVEL=9 lz4", nil},
		{"lz4 $OPTS", nil},
		{"lz4 '-d'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			c := parseInProcess(t, tt.cmd, tt.want, func(c Codec) *lz4Options { return c.lz4 })
			if c.Command() != strings.TrimSpace(tt.cmd) {
				t.Errorf("Command() = %q, want %q", c.Command(), strings.TrimSpace(tt.cmd))
			}
		})
	}
	for _, cmd := range []string{"", "   "} {
		if _, err := ParseCodec(cmd); err == nil {
			t.Errorf("ParseCodec(%q): no error", cmd)
		}
	}
}

// parseInProcess parses cmd and checks that the codec runs in process
// exactly when want is set, with the options want; opts picks the parsed
// options of want's kind (lz4 or zstd) from the codec. It returns the
// codec for further checks.
func parseInProcess[O comparable](t *testing.T, cmd string, want *O, opts func(Codec) *O) Codec {
	t.Helper()
	c := mustCodec(t, cmd)
	if got := c.InProcess(); got != (want != nil) {
		t.Fatalf("InProcess() = %v, want %v", got, want != nil)
	}
	if want != nil && *opts(c) != *want {
		t.Errorf("options = %+v, want %+v", *opts(c), *want)
	}
	return c
}
