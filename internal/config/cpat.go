package config

import (
	"fmt"
	"regexp"
	"strings"
)

// emacsToGo converts [sst] cpat, a GNU find -regex pattern (emacs
// syntax, find's default regextype), to an anchored Go regexp: in emacs
// syntax \| \( \) are the operators and bare | ( ) { } are literals.
func emacsToGo(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c == '\\' && i+1 < len(pat):
			i++
			n := pat[i]
			switch n {
			case '|', '(', ')':
				b.WriteByte(n)
			case 'w', 'W', 'b', 'B':
				b.WriteByte('\\')
				b.WriteByte(n)
			case '<', '>':
				b.WriteString(`\b`)
			case '`':
				b.WriteString(`\A`)
			case '\'':
				b.WriteString(`\z`)
			default:
				b.WriteString(regexp.QuoteMeta(string(n)))
			}
		case c == '|' || c == '(' || c == ')' || c == '{' || c == '}':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '[':
			// Copy a bracket expression verbatim; "]" first is literal.
			j := i + 1
			if j < len(pat) && pat[j] == '^' {
				j++
			}
			if j < len(pat) && pat[j] == ']' {
				j++
			}
			for j < len(pat) && pat[j] != ']' {
				j++
			}
			if j >= len(pat) {
				return nil, fmt.Errorf("cpat %q: unterminated [", pat)
			}
			b.WriteString(pat[i : j+1])
			i = j
		default:
			b.WriteByte(c)
		}
	}
	re, err := regexp.Compile(`^(?:` + b.String() + `)$`)
	if err != nil {
		return nil, fmt.Errorf("cpat %q: %w", pat, err)
	}
	return re, nil
}
