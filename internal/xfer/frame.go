package xfer

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

// # Frame format (version 1)
//
// After the hello exchange, the donor writes on each connection a frame
// stream: a stream header, then frames, the last of which is an end frame.
// It is the layer under compression and over TLS: the caller may compress
// the frame stream of each connection. All integers are big-endian.
//
// Stream header, 8 bytes:
//
//	offset size field
//	0      4    magic "XFRS"
//	4      2    version, the one the hello exchange negotiated
//	6      2    reserved, 0
//
// Frame:
//
//	offset size field
//	0      1    type: 'D' data, 'R' reference, 'E' end
//	1      4    body length N, checked against the type's limit before
//	            anything is allocated
//	5      N    body
//	5+N    4    CRC-32C (Castagnoli) of type, length and body
//
// Bodies:
//
//	'D' data       8 seq, then N-8 payload bytes (1 <= N-8 <= MaxPayload)
//	'R' reference  8 seq, 8 offset, 4 length, 4 crc, 16 hash,
//	               2 path_len, path_len path bytes (N = 42+path_len)
//	'E' end        8 total (N = 8)
//
// seq numbers the data and reference frames of a whole transfer, over all
// its connections, from 0 with no gaps; on one connection they strictly
// increase. A receiver restores the transfer's byte stream by taking frames
// in seq order: a data frame's payload as is, a reference frame's bytes
// from the joiner's reference data. A reference says: the next bytes of
// the stream are the length bytes at offset in the reference file path
// (slash-separated, relative to the reference root, in clean form, at most
// MaxRefPath bytes), whose block hash (manifest.Sum) is hash and whose
// CRC-32 (IEEE, as mbstream's chunk checksum) is crc. When the reference
// covers a whole mbstream chunk payload, crc is the chunk's checksum.
// An end frame ends its connection's stream; total is the number of
// sequenced frames of the whole transfer, the same on every connection.
// Input after an end frame is not read.
//
// Every frame costs 9 bytes of framing plus its body's fixed part, 17
// bytes per data frame. Unknown frame types are errors: a later version
// that adds one negotiates it in the hello.

const streamMagic = "XFRS"

// IsStreamStart reports whether b begins with a frame stream's header
// magic (an uncompressed connection of the v2 data stage).
func IsStreamStart(b []byte) bool { return strings.HasPrefix(string(b), streamMagic) }

// streamHeaderLen is the size of the stream header.
const streamHeaderLen = 8

// FrameType is the type byte of a frame.
type FrameType byte

// Frame types.
const (
	FrameData FrameType = 'D'
	FrameRef  FrameType = 'R'
	FrameEnd  FrameType = 'E'
)

func (t FrameType) String() string {
	switch t {
	case FrameData:
		return "data"
	case FrameRef:
		return "reference"
	case FrameEnd:
		return "end"
	}
	return fmt.Sprintf("type %#02x", byte(t))
}

// Limits.
const (
	// DefaultMaxPayload is the largest data payload a Reader accepts
	// unless told otherwise, and the largest a Writer writes.
	DefaultMaxPayload = 16 << 20
	// MaxPayloadLimit is the ceiling for ReaderOptions.MaxPayload.
	MaxPayloadLimit = 64 << 20
	// DefaultMaxRefLen is the longest reference a Reader accepts unless
	// told otherwise: a reference is read into memory whole.
	DefaultMaxRefLen = 16 << 20
	// MaxRefPath is the longest reference path, in bytes.
	MaxRefPath = 1024
)

// Sizes of the fixed parts of frames.
const (
	frameHeaderLen = 1 + 4
	frameCRCLen    = 4
	seqLen         = 8
	refFixedLen    = 8 + 8 + 4 + 4 + 16 + 2
	endBodyLen     = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Hash is a 128-bit block hash, as manifest.Sum computes it.
type Hash [16]byte

// Ref is the body of a reference frame: the Length bytes at Offset in the
// reference file Path, with block hash Hash and CRC-32 (IEEE) CRC.
type Ref struct {
	Path   string
	Offset int64
	Length int
	Hash   Hash
	CRC    uint32
}

// Frame describes a frame returned by Reader.Next. The payload of a data
// frame is read from the Reader.
type Frame struct {
	Type FrameType
	// Seq is the sequence number of a data or reference frame; for an end
	// frame, the transfer's total of sequenced frames.
	Seq uint64
	// Len is the payload length of a data frame, the referenced length of
	// a reference frame, 0 for an end frame.
	Len int
	// Ref is the body of a reference frame.
	Ref Ref
}

// Errors wrapped by the Reader and Writer; test with errors.Is. The
// Reader's errors about a frame are *FrameError values.
var (
	// ErrHeader means the stream header is malformed: bad magic, a version
	// not supported or not the one negotiated, or reserved bits set.
	ErrHeader = errors.New("xfer: invalid stream header")
	// ErrFrame means a frame is malformed: unknown type, a body length
	// impossible for its type, a bad reference (empty, unclean, absolute
	// or too long path, zero length, negative offset), or a sequence
	// number not above the previous one on the connection.
	ErrFrame = errors.New("xfer: invalid frame")
	// ErrTooLarge means a data payload or a reference is larger than the
	// Reader's limit; nothing was allocated for it.
	ErrTooLarge = errors.New("xfer: frame too large")
	// ErrChecksum means a frame's CRC-32C differs from its trailer.
	ErrChecksum = errors.New("xfer: frame checksum mismatch")
	// ErrTruncated means the input ended before an end frame; the error
	// also wraps io.ErrUnexpectedEOF.
	ErrTruncated = errors.New("xfer: truncated stream")
	// ErrClosed means the Writer was used after Close or after its end
	// frame, or closed without one.
	ErrClosed = errors.New("xfer: writer closed")
)

// FrameError reports a failure tied to one frame of a stream.
type FrameError struct {
	Index int64     // number of the frame on its connection, from 0; -1 for the stream header
	Pos   int64     // byte position of the frame in the stream
	Type  FrameType // 0 if not read yet
	Err   error     // wraps a sentinel such as ErrChecksum
}

// Error returns "xfer: frame N (stream byte B, type T): what".
func (e *FrameError) Error() string {
	var b strings.Builder
	if e.Index < 0 {
		b.WriteString("xfer: stream header")
	} else {
		fmt.Fprintf(&b, "xfer: frame %d (stream byte %d", e.Index, e.Pos)
		if e.Type != 0 {
			fmt.Fprintf(&b, ", %s", e.Type)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Err.Error(), "xfer: "))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FrameError) Unwrap() error { return e.Err }

// validRefPath reports whether p may name a reference file (see
// manifest.ValidPath).
func validRefPath(p string) bool { return len(p) <= MaxRefPath && manifest.ValidPath(p) }
