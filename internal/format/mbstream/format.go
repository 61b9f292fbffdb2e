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
