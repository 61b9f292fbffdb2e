package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// timeLayout is the timestamp of wsrep_log in wsrep_sst_common:
// date '+%Y%m%d %H:%M:%S.%3N'.
const timeLayout = "20060102 15:04:05.000"

// Handler is a slog.Handler that writes records in the stock script's
// shape, "WSREP_SST: [INFO] message (20261124 11:35:50.123)", one line per
// record, with attributes appended as key=value before the timestamp.
// Every registered secret is replaced by "***" in the whole line, so a
// password that slips into a message or an attribute never reaches the
// error log. It is safe for concurrent use.
type Handler struct {
	shared *logShared
	attrs  string
	level  slog.Level
}

type logShared struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string
	now     func() time.Time
	sys     *syslogConn // nil: stderr only (see UseSyslog)
}

// NewHandler returns a handler writing to w (normally os.Stderr) at
// level and above.
func NewHandler(w io.Writer, level slog.Level) *Handler {
	return &Handler{shared: &logShared{w: w, now: time.Now}, level: level}
}

// AddSecret registers a value that must never be printed. Values shorter
// than two bytes are ignored: scrubbing them would mangle every line.
func (h *Handler) AddSecret(s string) {
	if len(s) < 2 {
		return
	}
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	h.shared.secrets = append(h.shared.secrets, s)
}

// Redact returns s with every registered secret replaced by "***".
func (h *Handler) Redact(s string) string {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	return h.shared.redact(s)
}

func (l *logShared) redact(s string) string {
	for _, sec := range l.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

// Handle implements slog.Handler. With syslog on (UseSyslog), the record
// goes to the syslog socket instead, and to w only if that fails.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, "", a)
		return true
	})
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	t := h.shared.now()
	// One line per record: a multi-line message would be split by the
	// error log into lines without the prefix.
	msg := strings.ReplaceAll(h.shared.redact(b.String()), "\n", " | ")
	if h.shared.sys != nil && h.shared.sysSend(r.Level, msg, t) {
		return nil
	}
	_, err := fmt.Fprintf(h.shared.w, "WSREP_SST: [%s] %s (%s)\n", levelName(r.Level), msg, t.Format(timeLayout))
	return err
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		appendAttr(&b, "", a)
	}
	return &Handler{shared: h.shared, attrs: b.String(), level: h.level}
}

// WithGroup implements slog.Handler; groups only prefix attribute keys.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &groupHandler{h: h, prefix: name + "."}
}

type groupHandler struct {
	h      *Handler
	prefix string
}

func (g *groupHandler) Enabled(ctx context.Context, l slog.Level) bool { return g.h.Enabled(ctx, l) }
func (g *groupHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a.Key = g.prefix + a.Key
		nr.AddAttrs(a)
		return true
	})
	return g.h.Handle(ctx, nr)
}
func (g *groupHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i].Key = g.prefix + as[i].Key
	}
	return &groupHandler{h: g.h.WithAttrs(as).(*Handler), prefix: g.prefix}
}
func (g *groupHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return g
	}
	return &groupHandler{h: g.h, prefix: g.prefix + name + "."}
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			appendAttr(b, prefix+a.Key+".", ga)
		}
		return
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, quoteIfNeeded(a.Value.String()))
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}
