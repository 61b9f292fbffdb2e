package transfer

import (
	"fmt"

	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
)

// Engine names a way to move the data stage. The joiner offers engines in
// the lsn field of its ready address (an xfer token); the donor picks one
// with Choose.
type Engine string

const (
	// Stock is the stock script's data stage: mariadb-backup's mbstream
	// through the pipe on one connection. Every joiner reads it.
	Stock Engine = "stock"
	// V2 is transfer v2 (package xfer): parallel connections that each
	// open with a hello, and payload the joiner already has sent as
	// references to its data.
	V2 Engine = "v2"
)

// Offer is what the donor picks the engine from.
type Offer struct {
	// Token is the lsn field of the joiner's address: the transfer
	// versions it speaks, or anything else when it reads only Stock.
	Token string
	// V2 is the donor's [sst] transfer-v2.
	V2 bool
	// Cipher is the donor's encrypt=1 cipher, "" for none.
	Cipher string
	// Codec is the donor's [sst] compressor, nil for none.
	Codec *stream.Codec
}

// Choose returns the engine the donor runs: V2 when the joiner offered a
// transfer version the donor speaks, transfer-v2 is on, and the transport
// fits it (no encrypt=1 cipher; no compressor, or one that runs in
// process on every connection and that a v2 joiner recognises by its
// first bytes, lz4 or zstd). Otherwise Stock, and when the joiner offered
// V2, why not, for the log.
func Choose(o Offer) (e Engine, why string) {
	r, ok := xfer.ParseToken(o.Token)
	if !ok {
		return Stock, ""
	}
	if _, ok := xfer.Negotiate(r, xfer.Supported); !ok {
		return Stock, fmt.Sprintf("The joiner offers transfer versions %d..%d, this donor speaks %d..%d: sending the stock stream", r.Min, r.Max, xfer.Supported.Min, xfer.Supported.Max)
	}
	switch {
	case !o.V2:
		return Stock, "The joiner offers transfer v2; transfer-v2=0 here: sending the stock stream"
	case o.Cipher != "":
		return Stock, "The joiner offers transfer v2; encrypt=1 is not supported by it: sending the stock stream"
	case o.Codec != nil && !o.Codec.InProcess():
		return Stock, fmt.Sprintf("The joiner offers transfer v2; compressor %q does not run in process: sending the stock stream", o.Codec.Command())
	}
	return V2, ""
}

// Offers reports whether a joiner offers V2 (and so hashes its reference
// data): [sst] transfer-v2 on and no encrypt=1 cipher, since the v2 stage
// runs over plain TCP or TLS only.
func Offers(v2 bool, cipher string) bool {
	return v2 && cipher == ""
}
