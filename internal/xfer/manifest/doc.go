// Package manifest describes reference data by block hashes: for each
// file under a reference root, its size and the 128-bit hash of every
// block of a fixed size (the last block of a file may be shorter). The
// joiner builds a manifest of its old datadir and of an interrupted
// attempt's staging data and sends it to the donor, which looks up the
// blocks of the stream it is about to send and replaces the ones the
// joiner already has with references (see package xfer).
//
// Hashes are XXH3-128 with a seed the joiner draws at random for each
// manifest, so that block contents chosen by a database user cannot be
// made to collide on purpose without knowing it; a match is further
// checked against the chunk's CRC-32 on the joiner. The package reads
// files only through an os.Root and deliberately does not know where
// mariadb-backup puts files: the caller chooses the root and the paths.
//
// # Memory
//
// A manifest keeps 16 bytes per block plus 4 bytes per block for the
// lookup index, and per file its path and a few words: with 1 MiB blocks,
// about 20 MiB per TiB of reference data. The index is sorted by hash
// (blocks of the block size) and by hash and length (the shorter last
// blocks of files) and keeps at most MaxDuplicates blocks of one key, so
// a lookup is one binary search whatever the manifest holds.
//
// A decoded manifest comes from the peer: Decode counts everything it
// allocates against DecodeOptions.MaxMemory (64 MiB by default) before
// allocating it, and keeps what fits (a prefix of the files, the last one
// possibly cut at a block boundary) instead of failing; Manifest.Warning
// says what it left out.
//
// # Encoding
//
// All integers big-endian:
//
//	"XFMF"                    magic
//	2  version (1)
//	2  reserved, 0
//	4  block size, a power of two from MinBlockSize to MaxBlockSize
//	8  seed
//	4  number of files
//	then per file:
//	  2  path length, 1..MaxPath
//	  n  path: slash-separated, relative, clean; unique
//	  8  size in bytes, at most MaxFileSize
//	  16 * ceil(size / block size)  block hashes
//	"XFME"                    end marker
//	4  CRC-32C of everything before it
//
// Decode checks every count against its limits before allocating: a
// manifest larger than DecodeOptions.MaxBlocks blocks or MaxFiles files
// on the wire, or one that never ends, fails once the limit is passed.
package manifest
