package transfer

import (
	"errors"
	"io"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// AutoStreams is parallel-streams=auto for a transport with TLS (tls) and
// compressor codec (nil for none): two connections when each can take a
// share of per-byte work that parallelizes better across connections
// than inside one (TLS, zstd), else one (plain TCP, whose work is the
// kernel's, and lz4, whose codec already compresses blocks in parallel).
// Measured with BenchmarkSSTDataStage; see README.
func AutoStreams(tls bool, codec *stream.Codec) int {
	if tls || codec != nil && codec.Format() == stream.Zstd {
		return 2
	}
	return 1
}

// SendMbstream sends the mbstream read from src on xs: chunk headers as
// data, payloads through xfer.SendPayload (references where m has the
// bytes; sparse chunks, whose payload is not laid out as the file is, as
// data). It returns the bytes sent as references. Chunk checksums are
// not checked here: the joiner's extractor checks every chunk it rebuilds,
// which covers mariadb-backup's bytes and the references alike.
func SendMbstream(xs *xfer.Sender, m *manifest.Manifest, src io.Reader) (int64, error) {
	if m != nil && m.Blocks() == 0 {
		m = nil
	}
	sc := mbstream.NewScanner(src, mbstream.ScanOptions{SkipChecksum: true})
	var refs int64
	for {
		seg, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return refs, nil
		}
		if err != nil {
			return refs, err
		}
		if err := xs.Data(seg.Header); err != nil {
			return refs, err
		}
		if len(seg.Payload) == 0 {
			continue
		}
		if seg.Sparse {
			err = xs.Data(seg.Payload)
		} else {
			var n int64
			n, err = xfer.SendPayload(xs, m, seg.Offset, seg.Payload)
			refs += n
		}
		if err != nil {
			return refs, err
		}
	}
}
