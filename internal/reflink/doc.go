// Package reflink shares ranges of one file's blocks with another where the
// filesystem can (FICLONERANGE: XFS made with reflink=1, btrfs, bcachefs,
// OCFS2), so that a joiner builds its new datadir from the unchanged parts
// of its previous one at the cost of metadata, not of writing them again:
// a rejoin then needs disk space and write time for the changed blocks
// only. Elsewhere (ext4, a range across filesystems, an unaligned range)
// CloneRange returns ErrUnsupported and the caller copies the bytes.
//
// LimitCopyOnWrite sets XFS's copy-on-write extent hint on a file built
// by cloning, so that rewriting one of its shared pages later (prepare
// applying the redo log) reserves that page, not XFS's default 128 KiB.
//
// SharedBytes reads the file's extent map (FIEMAP) and says how much of
// it is shared with another file: how a test checks that a clone happened.
//
// It is a leaf: plain files and offsets, nothing of the project.
package reflink
