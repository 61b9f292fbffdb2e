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
// The Reader checks framing, checksums and per-file offsets, and refuses
// empty paths and paths with a NUL byte, but does not judge other paths;
// Extract writes files under a directory through os.Root and rejects
// unsafe paths (see Extract). The package deliberately does not compress,
// decompress, encrypt or decrypt.
package mbstream

// Magic starts every chunk.
const Magic = "XBSTCK01"

// ChunkSize is the per-file buffer of the writer and the largest payload it
// puts in one chunk, as XB_STREAM_MIN_CHUNK_SIZE in xbstream.h.
const ChunkSize = 10 << 20

// MaxPathLen is the longest path, in bytes, that stock readers accept
// (xbstream_read.cc refuses path_len >= FN_REFLEN = 512).
const MaxPathLen = 511

// ChunkType is the type byte of a chunk.
type ChunkType byte

// Chunk types.
const (
	ChunkPayload ChunkType = 'P' // file data at an offset
	ChunkEOF     ChunkType = 'E' // end of a file
	ChunkSparse  ChunkType = 'S' // Percona sparse payload; never written here
)

// FlagIgnorable marks a chunk of unknown type that readers may skip.
const FlagIgnorable = 0x01

// Sizes of the fixed parts of a chunk.
const (
	headerLen        = len(Magic) + 1 + 1 + 4 // magic, flags, type, path_len
	payloadHeaderLen = 8 + 8 + 4              // payload_len, payload_off, checksum
)
