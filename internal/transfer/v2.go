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

// Delta is where SendMbstream puts the stream: the bytes that are not a
// file's contents as they are (Data), and the payloads, each the bytes at
// off of the file path, which the joiner may already have (Payload).
// ByManifest and an *xfer.Offerer are the two.
type Delta interface {
	Data(p []byte) error
	Payload(path string, off int64, p []byte) error
}

// ByManifest sends payloads on S through xfer.SendPayload: references
// where the joiner's manifest M has the bytes (M may be nil: all data).
type ByManifest struct {
	S    *xfer.Sender
	M    *manifest.Manifest
	Refs int64 // bytes sent as references
}

// Data sends p as data.
func (d *ByManifest) Data(p []byte) error { return d.S.Data(p) }

// Payload sends p by the manifest; the path does not matter to it.
func (d *ByManifest) Payload(_ string, off int64, p []byte) error {
	if d.M != nil && d.M.Blocks() == 0 {
		d.M = nil
	}
	n, err := xfer.SendPayload(d.S, d.M, off, p)
	d.Refs += n
	return err
}

// SendMbstream sends the mbstream read from src through d: chunk headers
// as data, payloads as Payload (sparse chunks, whose payload is not laid
// out as the file is, as data). Chunk checksums are not checked here: the
// joiner's extractor checks every chunk it rebuilds, which covers
// mariadb-backup's bytes and the references alike.
func SendMbstream(d Delta, src io.Reader) error {
	sc := mbstream.NewScanner(src, mbstream.ScanOptions{SkipChecksum: true})
	for {
		seg, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := d.Data(seg.Header); err != nil {
			return err
		}
		if len(seg.Payload) == 0 {
			continue
		}
		if seg.Sparse {
			err = d.Data(seg.Payload)
		} else {
			err = d.Payload(seg.Path, seg.Offset, seg.Payload)
		}
		if err != nil {
			return err
		}
	}
}
