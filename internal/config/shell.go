package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// shVar is one shell variable of the script. Bash tells unset from empty
// (${X+x}), and a variable made readonly keeps its value: a later
// "readonly X=..." or "X=..." only prints "X: readonly variable" and the
// script goes on. Several options of the argument loop are readonly, so for
// them the first occurrence wins while for the others the last one does.
type shVar struct {
	val     string
	set, ro bool
}

// assign mirrors X=val.
func (v *shVar) assign(val string) {
	if v.ro {
		return
	}
	v.val, v.set = val, true
}

// readonly mirrors "readonly X=val".
func (v *shVar) readonly(val string) {
	v.assign(val)
	v.ro = true
}

// joinSpace mirrors `if [ -n "$B" ]; then X="A $B"; else X="A"; fi`.
func joinSpace(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}

// shellArith evaluates s as bash's $(( s )) does for an integer constant:
// surrounding blanks, an optional sign, and a decimal, octal (leading 0),
// hexadecimal (0x) or base#digits number, wrapping around on overflow
// like bash's 64-bit arithmetic. An empty or blank s is 0. Anything else,
// which bash would evaluate as an expression or a variable name, wraps
// ErrInvalid.
func shellArith(s string) (int64, error) {
	t := strings.Trim(s, " \t\n\v\f\r")
	if t == "" {
		return 0, nil
	}
	neg := false
	switch t[0] {
	case '-':
		neg, t = true, t[1:]
	case '+':
		t = t[1:]
	}
	bad := fmt.Errorf("not an integer: %w", ErrInvalid)
	if t == "" {
		return 0, bad
	}
	base := uint64(10)
	switch {
	case strings.Contains(t, "#"):
		b, digits, _ := strings.Cut(t, "#")
		n, err := strconv.ParseUint(b, 10, 8)
		if err != nil || n < 2 || n > 64 {
			return 0, fmt.Errorf("invalid arithmetic base: %w", ErrInvalid)
		}
		base, t = n, digits
	case len(t) > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'):
		if len(t) == 2 {
			return 0, nil // bash takes a bare "0x" as 0
		}
		base, t = 16, t[2:]
	case len(t) > 1 && t[0] == '0':
		base, t = 8, t[1:]
	}
	if t == "" {
		return 0, bad
	}
	var n uint64
	for i := 0; i < len(t); i++ {
		d, ok := digitValue(t[i], base)
		if !ok {
			return 0, bad
		}
		if d >= base {
			return 0, fmt.Errorf("value too great for base: %w", ErrInvalid)
		}
		n = n*base + d
	}
	if neg {
		n = -n
	}
	return int64(n), nil
}

// digitValue is the value of one digit in bash's base#n notation: 0-9,
// a-z, A-Z, @ and _; letters are case-insensitive up to base 36.
func digitValue(c byte, base uint64) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'Z':
		if base <= 36 {
			return uint64(c-'A') + 10, true
		}
		return uint64(c-'A') + 36, true
	case c == '@':
		return 62, true
	case c == '_':
		return 63, true
	}
	return 0, false
}

// echo mirrors $(echo "$x") in bash: a word made only of echo's options
// (-n, -e, -E, -neE ...) prints nothing, and command substitution drops
// trailing newlines. The trim_* helpers of the script all end this way.
func echo(s string) string {
	if len(s) > 1 && s[0] == '-' && strings.Trim(s[1:], "neE") == "" {
		return ""
	}
	return strings.TrimRight(s, "\n")
}

// shellSpace is [[:space:]] in the C locale.
const shellSpace = " \t\n\v\f\r"

// trimString mirrors trim_string: leading and trailing blanks removed.
func trimString(s string) string { return echo(strings.Trim(s, shellSpace)) }

// trimRight mirrors trim_right: trailing blanks removed.
func trimRight(s string) string { return echo(strings.TrimRight(s, shellSpace)) }

// trimDir mirrors trim_dir: leading blanks and trailing blanks and slashes
// removed. A value of slashes only is kept as is ("/" stays "/"), and so
// are the blanks after it (" / " gives "/ "): the script's
// ${1%[![:space:]/]*} finds no character to cut at.
func trimDir(s string) string {
	x := strings.TrimLeft(s, shellSpace)
	if y := strings.TrimRight(x, shellSpace+"/"); y != "" {
		x = y
	}
	return echo(x)
}

// beforeAny mirrors ${s%%[chars]*}: s up to the first of chars.
func beforeAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}

// afterAny mirrors ${s#*[chars]}: s after the first of chars, or s itself
// when none occurs.
func afterAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[i+1:]
	}
	return s
}

// testNonEmpty mirrors [ -n "$v" -a ... ]: true for a non-empty v, except
// that test(1) reads a v that is a binary operator as one, making the
// whole test false.
func testNonEmpty(v string) bool {
	switch v {
	case "", "=", "==", "!=", "<", ">", "-nt", "-ot", "-ef",
		"-eq", "-ne", "-lt", "-le", "-gt", "-ge":
		return false
	}
	return true
}

// shellWord is one word of a command line: its byte span and its text with
// the quoting removed.
type shellWord struct {
	start, end int
	text       string
}

// errUnterminated reports a quote that is never closed.
var errUnterminated = errors.New("unterminated quote")

// shellWords is the one word splitter of the package: it splits s as sh
// splits the option strings the script pastes into its eval'ed command
// lines (inno-backup-opts and the like). Blanks (space, tab, newline)
// separate words; '...' is literal; inside "..." a backslash escapes only
// " \ $ ` and newline; outside quotes a backslash escapes the next byte;
// a backslash-newline pair is removed (line continuation). Expansions
// ($VAR, `cmd`, globs) are not performed: the words go straight to exec.
//
// An unterminated quote makes the last word run to the end of s, and the
// error errUnterminated is returned with the words: sh would refuse the
// line, so callers that run the words treat it as fatal, while RedactArgs
// uses the words anyway to hide what it can.
func shellWords(s string) ([]shellWord, error) {
	var words []shellWord
	var err error
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		if i == len(s) {
			break
		}
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '\n' {
			i += 2 // a line continuation between words
			continue
		}
		start := i
		var text strings.Builder
	word:
		for i < len(s) {
			switch c := s[i]; c {
			case ' ', '\t', '\n':
				break word
			case '\'':
				j := strings.IndexByte(s[i+1:], '\'')
				if j < 0 {
					text.WriteString(s[i+1:])
					i = len(s)
					err = errUnterminated
					break word
				}
				text.WriteString(s[i+1 : i+1+j])
				i += j + 2
			case '"':
				i++
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
						i++
						if s[i] == '\n' {
							i++
							continue
						}
					}
					text.WriteByte(s[i])
					i++
				}
				if i >= len(s) {
					err = errUnterminated
				}
				i++ // the closing quote, or past the end
			case '\\':
				switch {
				case i+1 == len(s):
					// sh keeps a trailing backslash as a literal.
					text.WriteByte(c)
				case s[i+1] != '\n':
					text.WriteByte(s[i+1])
				}
				i += 2
			default:
				text.WriteByte(c)
				i++
			}
		}
		end := min(i, len(s))
		words = append(words, shellWord{start: start, end: end, text: text.String()})
		i = end
	}
	return words, err
}

// splitWords returns the words of s (see shellWords); what names the
// option for the error, which wraps ErrInvalid.
func splitWords(what, s string) ([]string, error) {
	ws, err := shellWords(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w in a shell-quoted value: %w", what, s, err, ErrInvalid)
	}
	if len(ws) == 0 {
		return nil, nil
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out, nil
}
