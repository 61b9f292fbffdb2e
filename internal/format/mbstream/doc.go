// Package mbstream reads, writes and extracts the chunked archive format of
// MariaDB's mbstream (Percona's xbstream), the stream mariadb-backup
// --stream=mbstream produces and mbstream -x extracts.
//
// # Wire format
//
// A stream is a sequence of chunks with no stream header or trailer; end of
// input at a chunk boundary ends the stream. All integers are little-endian.
//
//	offset size  field
//	0      8     magic "XBSTCK01"
//	8      1     flags         bit 0 = ignorable (0x01); writers emit 0
//	9      1     type          'P' payload, 'E' end of file, 'S' sparse (Percona only)
//	10     4     path_len      uint32; readers reject >= 512 (FN_REFLEN)
//	14     n     path          raw bytes, no NUL, not terminated
//	-- 'E' chunks end here --
//	+0     8     payload_len   uint64
//	+8     8     payload_off   uint64, offset of the payload in the file
//	+16    4     checksum      uint32, CRC-32 (IEEE, as zlib crc32) of the payload
//	+20    L     payload
//
// 'S' chunks (Percona) add sparse_map_len (uint32, entries) after the
// path, and the map, entries of {skip, len uint32}, between the checksum
// and the payload; the checksum covers the map, then the payload. The
// Reader and Extract accept them; the Writer never writes them: MariaDB's
// mbstream rejects them. Chunks of unknown type with the ignorable flag are
// framed like payload chunks and skipped.
//
// A payload chunk costs 34+path_len bytes of framing. Chunks of different
// files interleave, but a chunk is never split. Every file ends with an 'E'
// chunk, also an empty file, which is only an 'E' chunk. The
// extractor requires payload_off to equal the bytes already written to that
// path, so each file's chunks come in order.
//
// Sources: MariaDB/server extra/mariabackup/xbstream.h, xbstream_write.cc
// (xb_stream_write_data, xb_stream_flush, xb_stream_write_eof),
// xbstream_read.cc.
//
// # Reading, scanning, extracting
//
// The Reader (archive/tar's shape: Next, then Read the payload) and the
// Scanner (whole chunks with their exact bytes, for forwarders such as the
// v2 donor) share one header parser (header.go), so they accept the same
// streams and fail with the same errors. Both check framing, checksums and
// per-file offsets, and refuse empty paths and paths with a NUL byte, but
// do not judge other paths.
//
// ExtractTo turns a stream into per-file operations on a Sink: create,
// write at an offset, punch a hole, end; Extract does so on a DirSink, which
// writes files under a directory through os.Root and refuses unsafe paths
// (see Extract). A SinkFile can also clone a range of a reference file, the
// joiner's old copy, checked against the hash the caller has; a stock
// stream never asks for it. The DirSink clones by reading, checking and
// writing the bytes; a filesystem clone (FICLONERANGE) plugs in at one
// method.
//
// The package is a leaf: it imports nothing of this module, knows nothing
// of Galera, connections or transfer v2, and deliberately does not
// compress, decompress, encrypt or decrypt.
package mbstream
