package config

import "strings"

// RedactArgs returns the command line s with passwords replaced by "***",
// so that it can be logged. s is a string of shell words such as the
// script's WSREP_SST_OPT_MYSQLD or a raw command line; words may be
// single- or double-quoted, and an unterminated quote runs to the end. Hidden are the values of --wsrep-sst-auth (also spelt
// with underscores, with a --loose- prefix, or with its value in the next
// word, which mysqld accepts for this option), --password=, and -p<pw> or
// -p '<pw>' (also at the end of a cluster of flags, "-vp<pw>"). A redacted
// value keeps the quoting of its word, and everything else, spacing
// included, is returned unchanged. RedactArgs(RedactArgs(s)) equals
// RedactArgs(s).
func RedactArgs(s string) string {
	words, _ := shellWords(s) // hide what can be found even in a broken line
	var b strings.Builder
	last := 0
	redactNext := false
	for _, w := range words {
		b.WriteString(s[last:w.start])
		last = w.end
		raw := s[w.start:w.end]
		if redactNext {
			redactNext = false
			if !strings.HasPrefix(w.text, "-") {
				b.WriteString(requote(raw, "***"))
				continue
			}
		}
		out, next := redactWord(w.text)
		redactNext = next
		if out == w.text {
			b.WriteString(raw)
		} else {
			b.WriteString(requote(raw, out))
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// redactWord returns the unquoted word w with its secret hidden, and
// whether the secret is the next word instead.
func redactWord(w string) (string, bool) {
	if strings.HasPrefix(w, "--") {
		name, _, hasValue := strings.Cut(w, "=")
		norm := strings.ReplaceAll(name, "_", "-")
		norm = strings.TrimPrefix(norm, "--loose-")
		norm = strings.TrimPrefix(norm, "--")
		switch norm {
		case "wsrep-sst-auth":
			if !hasValue {
				return w, true
			}
		case "password":
			if !hasValue {
				return w, false
			}
		default:
			return w, false
		}
		return name + "=***", false
	}
	if !strings.HasPrefix(w, "-") {
		return w, false
	}
	// A cluster of short options: flags without a value, then -p.
	for i := 1; i < len(w); i++ {
		switch c := w[i]; {
		case c == 'p':
			if i+1 == len(w) {
				return w, true
			}
			return w[:i+1] + "***", false
		case strings.IndexByte("?asv!(", c) < 0:
			return w, false
		}
	}
	return w, false
}

// requote returns text quoted the way the word raw was: in single or
// double quotes if raw starts with one, in single quotes if raw has a
// quote elsewhere, bare otherwise. text never needs escaping here.
func requote(raw, text string) string {
	switch {
	case strings.HasPrefix(raw, `"`):
		return `"` + text + `"`
	case strings.ContainsAny(raw, `'"\`):
		return "'" + text + "'"
	}
	return text
}

// RedactWords is RedactArgs for a command line already split into words,
// such as Args.MysqldArgs: it returns a copy of args with the same secrets
// replaced by "***", so that it can be logged.
func RedactWords(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	redactNext := false
	for i, w := range args {
		if redactNext {
			redactNext = false
			if !strings.HasPrefix(w, "-") {
				out[i] = "***"
				continue
			}
		}
		out[i], redactNext = redactWord(w)
	}
	return out
}
