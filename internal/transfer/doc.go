// Package transfer moves a donor's backup to the joiner: the data stage of
// an SST, after the flows in package sst have set it up.
//
// An engine is a way to move the data stage: Stock (the script's one
// mbstream stream) or V2 (package xfer's frames over parallel
// connections, payload the joiner already has sent as references). The
// donor picks it with Choose (transfer.go), from the token the joiner put
// in its ready address and the donor's own transport; the joiner learns
// it from the first bytes of the first connection (Detect). Offers says
// whether a joiner offers V2.
//
// Each engine has a Sender (send.go), which the donor's flow runs, and a
// Receiver (receive.go), which the joiner's runs; both take params of
// plain values and callbacks and report what they moved (Sent,
// Received). A donor's byte goes: mariadb-backup's stdout, read as a
// Backup (backup.go: started through package proc, watched for stalls by
// a pipe.Watchdog, counted; Backup.Finish is the one rule for which
// failure is reported); the Sender's connections (package pipe: TLS,
// cipher, codec, rate limit, progress); for V2, SendMbstream (v2.go) cuts
// the mbstream into headers and payloads for a Delta, ByManifest (the
// joiner's manifest says what it has: versions 1 and 2) or an
// xfer.Offerer (the joiner answers offers: version 3), and xfer's Sender
// frames them. On the joiner, the Receiver reads the stream (V2: xfer's
// Receiver, the references rebuilt by an xfer.Reconstructor as pieces)
// and mbstream's extractor turns it into per-file operations on a
// mbstream.DirSink under the staging directory (create, write at an
// offset, punch, clone a range of a reference file, end).
//
// It knows nothing of mysqld's line protocol, my.cnf, the status file or
// the datadir's layout, which stay in package sst, the caller. Its errors
// carry their class (package fail); a failure once the staging directory
// may hold data is a *StreamError, so that the flow can keep or remove
// that directory.
package transfer
