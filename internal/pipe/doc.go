// Package pipe stacks the stages one end of a transfer needs on a TCP
// connection: TLS, openssl-enc encryption, compression, a rate limit,
// progress counting and a stall watchdog, in the order the stock script's
// pipelines have them, and ends the stream so the receiver is known to have
// read it all.
//
// It takes plain values (a *tls.Config, a cipher name and key, a
// *stream.Codec, a rate) and knows nothing of Galera, my.cnf or the SST
// protocol: which stages a transfer needs, and what a failure means for the
// exit code, is decided by the caller (internal/sst).
package pipe
