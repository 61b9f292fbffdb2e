// Package qpress reads the qpress archives that mariadb-backup writes with
// --compress, so the joiner can decompress them without the qpress tool,
// which Debian does not package. It is a file format, not a stream stage:
// it sits with mbstream under internal/format and imports nothing of this
// module; internal/sst decides when to decompress a directory.
//
// # Format
//
// Learned from MariaDB/server extra/mariabackup/ds_compress.cc (the writer),
// extra/mariabackup/quicklz/quicklz.c and quicklz.h (QuickLZ 1.5.0), and the
// format comment and decompress_file_thread in qpress.cpp by Lasse Reinhold.
// Integers are little endian.
//
//	archive  = "qpress10" chunk_size:u64 file
//	file     = 'F' name_len:u32 name NUL block* "ENDSENDS" 0:u64
//	block    = "NEWBNEWB" offset:u64 adler32:u32 packet
//
// offset is the number of decompressed bytes before the block; adler32 is
// zlib's Adler-32 (initial value 1) of the whole QuickLZ packet. qpress
// describes its checksum with initial value 0x00010000 because its own
// Adler-32 swaps the two halves; the result is the same. A block holds at
// most chunk_size decompressed bytes (mariadb-backup --compress-chunk-size,
// 64 KiB by default). mariadb-backup stores the base name of the original
// file and writes one file per archive, named NAME.qp.
//
// A QuickLZ packet starts with a flag byte 01SSLLHC (C: compressed, H: 9-byte
// header with two u32 sizes instead of 3-byte with two u8, LL: level, SS:
// streaming buffer), then the packet size (header included) and the
// decompressed size. A stored packet carries the data verbatim. A compressed
// packet is a sequence of 32-bit control words, each announcing with its low
// 31 bits, least significant first, whether the next item is a literal byte
// (0) or a match (1). Level 3 matches carry an explicit distance; levels 1
// and 2 name an earlier position by a hash of its three bytes, and the
// decoder rebuilds the compressor's hash table as it goes. The last bytes of
// a packet are always literals. mariadb-backup builds QuickLZ with its
// defaults, QLZ_COMPRESSION_LEVEL 1 and QLZ_STREAMING_BUFFER 0; this package
// decodes levels 1, 2 and 3.
//
// # Not supported
//
// Archives the qpress tool makes from several files or directories ('D' and
// 'U' entries, or more than one 'F') are rejected with ErrUnsupported, as is
// QuickLZ streaming mode (packets depending on earlier ones), which neither
// qpress nor mariadb-backup uses. There is no recovery mode ("qpress -R"):
// any corruption is an error. There is no compressor.
//
// Every size is checked before allocating (MaxChunkSize, MaxNameLen, and a
// block's decompressed size against the most QuickLZ can expand the bytes
// that arrived, 85 times) and every back-reference before copying, so
// hostile input yields an error, not a panic or a large allocation: a
// Reader holds at most twice the largest packet received and one output
// buffer as large as the largest block, at most the chunk size.
package qpress
