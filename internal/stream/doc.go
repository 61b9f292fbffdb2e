// Package stream moves SST bytes: it replaces socat, pv and the
// compressor/decompressor shell pipes of the stock wsrep_sst_mariabackup
// script with in-process stages.
//
// It offers a Listener whose Accept honours a context and can be called again
// for the second SST session on the same port (socat accepts one connection
// per listen, so the script restarts it), a Dial that retries while the peer
// is not listening yet, a context-aware Copy, lz4 and zstd compression
// compatible with the lz4 and zstd command-line tools (other compressor
// commands run as filter processes), a token-bucket rate limit (pv -L) and
// progress reporting in pv's format. The archive formats that travel
// through these stages, mbstream and qpress, live under internal/format.
//
// The package deliberately knows nothing of Galera, my.cnf, the SST address
// syntax or TLS: callers pass plain hosts, ports, commands and durations, and
// wrap the returned net.Conn in TLS themselves. It starts programs only for
// a compressor command it does not handle in process, and never logs; errors
// name the address, command and operation and wrap their cause, so callers
// decide what to tell the operator.
package stream
