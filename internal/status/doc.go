// Package status keeps a small JSON file describing one long-running
// transfer, for operators and probes: role, stage, bytes done and total,
// rate, ETA, peer, pid, start time and, on failure, the error.
//
// The file is rewritten atomically (temporary file in the same directory,
// write, fsync, rename) about once a second and at every stage change, so a
// reader never sees a partial document, and its mtime advancing is the
// liveness signal: while the writer is alive the file is at most a few
// seconds old. After Done or Fail the final document stays in place (stage
// "done" or "failed") until the next Start on the same path replaces it.
//
// The package knows nothing of Galera, SST or my.cnf: callers hand it plain
// strings and a byte-count function, and decide where the file lives.
package status
