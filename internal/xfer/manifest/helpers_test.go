package manifest

import (
	"context"
	"hash/crc32"
	"testing"
)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
