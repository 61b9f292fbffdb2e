package transfer

import (
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
)

func codec(t *testing.T, cmd string) *stream.Codec {
	t.Helper()
	c, err := stream.ParseCodec(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestChoose: the donor runs v2 only when the joiner offers a version it
// speaks and its own transport fits; a fallback the joiner did not expect
// says why.
func TestChoose(t *testing.T) {
	token := xfer.Supported.Token()
	for _, tt := range []struct {
		name string
		o    Offer
		want Engine
		why  string
	}{
		{"no token", Offer{Token: "", V2: true}, Stock, ""},
		{"lsn", Offer{Token: "12345", V2: true}, Stock, ""},
		{"v2", Offer{Token: token, V2: true}, V2, ""},
		{"v2 lz4", Offer{Token: token, V2: true, Codec: codec(t, "lz4 -1")}, V2, ""},
		{"v2 zstd", Offer{Token: token, V2: true, Codec: codec(t, "zstd -3")}, V2, ""},
		{"future only", Offer{Token: "xfer-v60000.60001", V2: true}, Stock, "transfer versions 60000..60001"},
		{"off here", Offer{Token: token}, Stock, "transfer-v2=0 here"},
		{"cipher", Offer{Token: token, V2: true, Cipher: "aes-256-cbc"}, Stock, "encrypt=1"},
		{"shell compressor", Offer{Token: token, V2: true, Codec: codec(t, "gzip -c")}, Stock, `compressor "gzip -c"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Choose(tt.o)
			if got != tt.want || (tt.why == "") != (why == "") || !strings.Contains(why, tt.why) {
				t.Errorf("Choose = %q, %q; want %q, %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestAutoStreams(t *testing.T) {
	for _, tt := range []struct {
		name  string
		tls   bool
		codec string
		want  int
	}{
		{"plain", false, "", 1},
		{"tls", true, "", 2},
		{"lz4", false, "lz4", 1},
		{"zstd", false, "zstd", 2},
		{"tls lz4", true, "lz4", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c *stream.Codec
			if tt.codec != "" {
				c = codec(t, tt.codec)
			}
			if got := AutoStreams(tt.tls, c); got != tt.want {
				t.Errorf("AutoStreams(%v, %q) = %d, want %d", tt.tls, tt.codec, got, tt.want)
			}
		})
	}
}
