package sst

import (
	"context"
	"fmt"
	"os"
	"time"

	"wsrep_sst_mariabackup/internal/stream"
)

// startProgress sets up the data stage's progress reporting the way the
// script's adjust_progress sets up pv: progress=1 → report lines in the
// log every 10 s; progress=<file> → the same lines appended to that file;
// otherwise --progress 1 from mysqld → "complete N" lines on stdout every
// second; progress=none or nothing → no reporting. stop makes the final
// report and releases the file. progress is nil when there is none.
func (s *session) startProgress(ctx context.Context, total int64) (progress *stream.Progress, stop func()) {
	name := s.args.Role
	cfg := stream.ProgressConfig{Name: name, Total: total}
	var file *os.File
	switch p := s.cfg.Progress; {
	case p == "none":
		return nil, func() {}
	case p == "1":
		cfg.Report = func(line string) { s.log.Info(line) }
	case p != "":
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			s.log.Warn(fmt.Sprintf("progress=%s: %v; reporting progress in the log instead", p, err))
			cfg.Report = func(line string) { s.log.Info(line) }
			break
		}
		file = f
		cfg.Report = func(line string) { fmt.Fprintln(f, line) }
	case s.args.Progress == 1:
		cfg.Interval = time.Second
		cfg.Complete = func(done, _ int64) { _ = s.proto.line("complete %d", done) }
	default:
		return nil, func() {}
	}
	progress = stream.StartProgress(ctx, cfg)
	return progress, func() {
		progress.Done()
		if file != nil {
			file.Close()
		}
	}
}
