package transfer

import (
	"context"
	"errors"
	"io"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/proc"
	"wsrep_sst_mariabackup/internal/stream"
)

// StallWhat is what a stall of the backup's output is reported as.
const StallWhat = "mariadb-backup produced no data"

// BackupParams says how to run the donor's mariadb-backup --backup.
type BackupParams struct {
	// Cmd runs mariadb-backup --backup --stream=mbstream. Cmd.Stdout must
	// be nil: the output is the Backup. The caller owns what Cmd.Stderr
	// writes to and closes it after Finish.
	Cmd proc.Cmd
	// Stall watches every read of the output: one blocked for its timeout
	// is reported as StallWhat. Nil watches nothing.
	Stall *pipe.Watchdog
	// Hook, if set, wraps the output inside the watched read (the tests'
	// donor pause: to the watchdog a paused donor is a stalled backup).
	Hook func(io.Reader) io.Reader
}

// Backup is a running mariadb-backup --backup whose output, an mbstream,
// a sender reads and sends to the joiner. Every engine's sender runs the
// backup this one way, so that starting it, watching it for stalls,
// counting its bytes and deciding which failure is reported are the same
// whichever engine runs. A Backup is not safe for concurrent use, except
// N.
type Backup struct {
	out *proc.Reader
	src *stream.CountingReader
}

// StartBackup starts mariadb-backup as p says. The caller must call
// Finish.
func StartBackup(ctx context.Context, p BackupParams) (*Backup, error) {
	out, err := proc.StartReader(ctx, p.Cmd)
	if err != nil {
		return nil, err
	}
	var r io.Reader = out
	if p.Hook != nil {
		r = p.Hook(r)
	}
	return &Backup{out: out, src: stream.NewCountingReader(p.Stall.Reader(StallWhat, r))}, nil
}

// Read reads the backup's output. At its end Read returns the backup's
// *proc.ExitError instead of io.EOF if it failed, so that a truncated
// stream is never taken for a complete one.
func (b *Backup) Read(p []byte) (int, error) { return b.src.Read(p) }

// N returns the bytes read so far. It is safe to call concurrently with
// Read (the status file's byte count).
func (b *Backup) N() int64 { return b.src.N() }

// BackupError is mariadb-backup's own failure: Err is its *proc.ExitError
// (exit status and the tail of its log). Its class is fail.Invalid, as
// the script exits 22 for it.
type BackupError struct{ Err error }

func (e *BackupError) Error() string     { return e.Err.Error() }
func (e *BackupError) Unwrap() error     { return e.Err }
func (e *BackupError) Class() fail.Class { return fail.Invalid }

// SendError is the sender's failure to read the backup's output as an
// mbstream or to pass it on to the joiner: fail.Transfer.
type SendError struct{ Err error }

func (e *SendError) Error() string     { return e.Err.Error() }
func (e *SendError) Unwrap() error     { return e.Err }
func (e *SendError) Class() fail.Class { return fail.Transfer }

// Finish ends the backup once the sender stopped reading it, sendErr
// being why it stopped (nil at the end of a complete output), and
// returns the failure that is reported, in this order:
//
//   - ctx's cause when ctx is done: a stall or a signal stopped both the
//     backup and the sending, and says why;
//   - a *BackupError when mariadb-backup failed on its own, even if the
//     sending failed too: the script checks the backup's PIPESTATUS
//     before the transport's, and a backup that dies (lost its server,
//     disk full) truncates the stream, which the sender may notice first
//     as a malformed or short stream;
//   - a *SendError wrapping sendErr.
//
// After a send error (the joiner is gone) Finish stops the backup, and its
// BACKUP STAGE locks, now rather than when it next writes: SIGTERM to its
// process group, SIGKILL after the command's wait delay, then the pipe is
// closed. Nothing is drained, so a holder of the pipe cannot keep us. A
// backup stopped this way has not failed on its own: the send error is
// reported.
func (b *Backup) Finish(ctx context.Context, sendErr error) error {
	var exitErr *proc.ExitError
	if errors.As(sendErr, &exitErr) {
		sendErr = nil // the backup failed: Close reports it
	}
	waitErr := b.out.Close()
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case waitErr != nil:
		return &BackupError{Err: waitErr}
	case sendErr != nil:
		return &SendError{Err: sendErr}
	}
	return nil
}
