package logx

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestHandlerFormatAndRedaction(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelInfo)
	h.shared.now = func() time.Time { return time.Date(2026, 11, 24, 11, 35, 50, 123e6, time.UTC) }
	h.AddSecret("hunter2")
	log := slog.New(h)
	log.Info("Streaming the backup to joiner at 127.0.0.1:4444")
	log.Error("auth failed for root:hunter2", "attempt", 2)
	log.Warn("two\nlines")
	log.Debug("hidden")
	want := "WSREP_SST: [INFO] Streaming the backup to joiner at 127.0.0.1:4444 (20261124 11:35:50.123)\n" +
		"WSREP_SST: [ERROR] auth failed for root:*** attempt=2 (20261124 11:35:50.123)\n" +
		"WSREP_SST: [WARNING] two | lines (20261124 11:35:50.123)\n"
	if got := buf.String(); got != want {
		t.Errorf("log output:\n%s\nwant:\n%s", got, want)
	}
}
