// Package xfer holds the building blocks of the v2 data stage, the transfer
// our donor and joiner use between themselves instead of the stock
// mariadb-backup stream (project issue 11): the negotiation token and hello,
// a framed stream of data and reference frames (frame.go describes the
// format), a sender and receiver that spread frames over parallel
// connections, and the joiner's reconstruction of referenced bytes from its
// reference data. Subpackage manifest hashes the reference data into a
// block-hash manifest and looks blocks up.
//
// # Negotiation
//
// The joiner offers v2 in the lsn field of its ready address,
// host:port/module/<token>/1, with Range.Token ("xfer-v1.3"). A stock
// donor's wsrep_sst_common splits the address at '/' into module, lsn and
// sst_ver (WSREP_SST_OPT_LSN; trailing blanks trimmed); the 10.11
// wsrep_sst_mariabackup then runs lsn="$(safe WSREP_SST_OPT_LSN)" in
// setup_ports and never uses the value again: it sends the stock stream.
// safe() exits 21 on a space, quote, backquote or '$'; the token has none,
// nor a '/'. A joiner-side mysqld reading the ready line and the donor-side
// mysqld quoting --address '<addr>' into the script's command line pass
// such a field through as it is (single quotes, no shell expansion).
//
// Our donor calls ParseToken on the lsn field; anything that is not a
// token of ours means a stock (or older) joiner, which gets the stock
// stream. With a token whose range meets Supported, the donor opens every
// data connection with a Hello (Greet) and the joiner, which peeks at the
// first bytes with IsHello, answers (Answer); both continue with the
// version Negotiate picks: the lower of the two maxima. A stream without
// the hello's magic is the stock stream of a stock donor, read as today.
// Since the donor only begins the v2 stage when the token's range meets
// its own, a hello without a common version is a bug or a mix-up of
// nodes: both sides fail with ErrNoVersion rather than guess.
//
// # Delta
//
// The donor cuts each mbstream payload it would send at the joiner's
// block boundaries (multiples of the manifest's block size in the file's
// offsets) and SendPayload replaces every piece the joiner's manifest has
// with a reference frame: path, offset and length in the joiner's
// reference data, the block hash, and the CRC-32 of the bytes. On the
// joiner, Assemble takes the frames in sequence order and writes the data
// payloads and, through a Reconstructor confined to the reference root,
// the referenced bytes, each checked against hash and CRC-32: the output
// is byte for byte the stream the donor read from mariadb-backup, ready
// for the mbstream extractor, which checks the chunk CRCs once more. Any
// mismatch fails the transfer (ErrRefMismatch).
//
// # Delta by offer
//
// offer.go describes the other way to find what the joiner has, which
// needs no manifest, used from OfferVersion on: the donor offers each
// piece of a file by its 16 KiB block hashes on a control stream (its
// own connection, the last) as mariadb-backup produces it (Offerer), the
// joiner compares them with its own blocks at the same path and offset
// (AcceptOffers, Answerer.Run), and the donor sends what the joiner has
// as references to its sources. Memory stays bounded by the window on the
// donor and one piece on the joiner, whatever the node's size.
//
// The package knows nothing of Galera, my.cnf, TLS or compression: it
// takes io.Reader and io.Writer values, one per connection, and the caller
// wraps them.
package xfer
