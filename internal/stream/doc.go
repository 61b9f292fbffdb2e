// Package stream moves SST bytes: it replaces the socat processes of the stock
// wsrep_sst_mariabackup script with an in-process TCP pipe.
//
// It offers a Listener whose Accept honours a context and can be called again
// for the second SST session on the same port (socat accepts one connection
// per listen, so the script restarts it), a Dial that retries while the peer
// is not listening yet, a context-aware Copy, and byte counters for progress
// reporting. The mbstream sub-package writes the MariaDB mbstream (xbstream)
// chunk format.
//
// The package deliberately knows nothing of Galera, my.cnf, the SST address
// syntax or TLS: callers pass plain host, port and durations, and wrap the
// returned net.Conn in TLS, compression or throttling stages themselves. It
// starts no programs and never logs; errors name the address and operation
// and wrap their cause, so callers decide what to tell the operator.
package stream
