package transfer

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/proc"
)

func startSh(t *testing.T, ctx context.Context, script string, stall *pipe.Watchdog) *Backup {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	b, err := StartBackup(ctx, BackupParams{
		Cmd:   proc.Cmd{Name: "mariadb-backup", Path: sh, Args: []string{"-c", script}, WaitDelay: time.Second},
		Stall: stall,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBackupFinish: which failure Finish reports when the backup, the
// sending, or both fail, and that the byte count is the output read.
func TestBackupFinish(t *testing.T) {
	joinerGone := errors.New("write: broken pipe")
	for _, tt := range []struct {
		name    string
		script  string
		read    bool  // read the whole output first
		sendErr error // the sender's error, else the read's
		want    string
		wantN   int64
	}{
		{"complete", "printf 12345", true, nil, "", 5},
		{"backup fails", "printf 123; exit 3", true, nil, "backup", 3},
		{"joiner gone", "printf 12; sleep 30", false, joinerGone, "send", 0},
		{"both fail", "printf 123; exit 3", true, joinerGone, "backup", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := startSh(t, t.Context(), tt.script, nil)
			var readErr error
			if tt.read {
				_, readErr = io.Copy(io.Discard, b)
			}
			sendErr := tt.sendErr
			if sendErr == nil {
				sendErr = readErr
			}
			start := time.Now()
			err := b.Finish(t.Context(), sendErr)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Finish took %v: the backup was not stopped", d)
			}
			if got := kind(err); got != tt.want {
				t.Errorf("Finish = %v (%q), want %q", err, got, tt.want)
			}
			var be *BackupError
			var exitErr *proc.ExitError
			if errors.As(err, &be) && !errors.As(be, &exitErr) {
				t.Errorf("backup error %v does not wrap the *proc.ExitError", be)
			}
			var se *SendError
			if errors.As(err, &se) && !errors.Is(se, joinerGone) {
				t.Errorf("send error %v does not wrap the sender's", se)
			}
			if tt.read && b.N() != tt.wantN {
				t.Errorf("N = %d, want %d", b.N(), tt.wantN)
			}
		})
	}
}

// kind names Finish's error: "", "backup", "send" or "other".
func kind(err error) string {
	var be *BackupError
	var se *SendError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &be):
		return "backup"
	case errors.As(err, &se):
		return "send"
	}
	return "other"
}

// TestBackupStall: a backup that produces nothing for the watchdog's
// timeout is stopped and the watchdog's cause is reported, ahead of the
// read's error.
func TestBackupStall(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	stall := pipe.StartWatchdog(ctx, 200*time.Millisecond, func(e *pipe.StallError) { cancel(e) })
	defer stall.Stop()
	b := startSh(t, ctx, "printf 1; exec sleep 30", stall)
	_, readErr := io.Copy(io.Discard, b)
	err := b.Finish(ctx, readErr)
	var se *pipe.StallError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), StallWhat) {
		t.Errorf("Finish = %v, want the stall of %q", err, StallWhat)
	}
}
